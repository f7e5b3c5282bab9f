// Batched differentiable forward pass and backward pass (see backprop.h). A sequential
// pre-norm block is  mid = x + o(attn(norm1(x))),  out = mid + down(mlp(norm2(mid))),
// logits = finalNorm(x_L) · unembeddingᵀ; the other layouts of config.h (parallel,
// post-norms, q/k norms) are branches of forwardLayer and backwardLayer. Every product
// over all tokens is one call of bp::product* (backprop_kernels.h); attention runs in
// kernels.
#include "model/backprop.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model/ops.h"
#include "tensor/errors.h"

namespace mwb {

namespace {

using Eigen::Index;
using bp::addRowSum;
using bp::linearForward;
using bp::linearWeightGrad;

// Gradients are added into `grads`, so it must have the shapes of the weights.
template <typename T>
void checkGradShapes(const ModelConfig& c, const WeightsT<T>& w, WeightsT<T>& grads) {
    MWB_CHECK(grads.blocks.size() == w.blocks.size());
    std::vector<std::pair<Index, Index>> shapes;
    forEachTensor(c, w, [&](const std::string&, const auto& t) {
        shapes.emplace_back(t.rows(), t.cols());
    });
    size_t i = 0;
    forEachTensor(c, grads, [&](const std::string&, auto& t) {
        MWB_CHECK(shapes[i].first == t.rows() && shapes[i].second == t.cols());
        ++i;
    });
}

}  // namespace

template <typename T>
double crossEntropy(const MatrixT<T>& logits, std::span<const int> targets, MatrixT<T>& dLogits) {
    const Index n = logits.rows(), vocab = logits.cols();
    if (Index(targets.size()) != n)
        throw InvalidInput("cross-entropy: " + std::to_string(targets.size()) + " targets for " +
                           std::to_string(n) + " rows of logits");
    Index count = 0;
    for (int t : targets) {
        if (t >= vocab)
            throw InvalidInput("cross-entropy: target token " + std::to_string(t) +
                               " is outside the vocabulary of " + std::to_string(vocab));
        if (t >= 0) ++count;
    }
    if (&dLogits != &logits) dLogits.resize(n, vocab);
    std::vector<double> rowLoss(n, 0.0);
    const T invCount = count ? T(1) / T(count) : T(0);
#pragma omp parallel for schedule(static) if (n * vocab > (Index(1) << 18))
    for (Index r = 0; r < n; ++r) {
        const int t = targets[r];
        if (t < 0) {
            dLogits.row(r).setZero();
            continue;
        }
        const T target = logits(r, t);
        const T mx = logits.row(r).maxCoeff();
        dLogits.row(r) = (logits.row(r).array() - mx).exp().matrix();
        const T sum = dLogits.row(r).sum();
        rowLoss[r] = std::log(double(sum)) + double(mx) - double(target);
        dLogits.row(r) *= invCount / sum;
        dLogits(r, t) -= invCount;
    }
    double total = 0;
    for (double l : rowLoss) total += l;
    return count ? total / double(count) : 0.0;
}

template <typename T>
BackpropT<T>::BackpropT(const ModelConfig& config, const WeightsT<T>& weights, ActivationMemory memory)
    : m_config(config), m_weights(weights), m_memory(memory) {
    MWB_CHECK(int(weights.blocks.size()) == config.nLayers);
    MWB_CHECK(config.nHeads > 0 && config.dHead() > 0);
    const int nKv = config.nKvHeads > 0 ? config.nKvHeads : config.nHeads;
    MWB_CHECK(config.nHeads % nKv == 0);
    MWB_CHECK(!config.rotary() || config.rotaryDims() % 2 == 0);
    m_resid.resize(config.nLayers + 1);
    m_layers.resize(memory == ActivationMemory::Recompute ? 1 : config.nLayers);
    m_balanceLoss.assign(size_t(config.nLayers), 0.0);
}

double layerActivationBytes(const ModelConfig& c, int batch, int seqLen) {
    const double rows = double(batch) * seqLen;
    const int kvDim = (c.nKvHeads > 0 ? c.nKvHeads : c.nHeads) * c.dHead();
    // xhat1, h1, xhat2, h2 of width dModel; q, att; k, v; u, m (and g) of width dFf; probs.
    double width = 4.0 * c.dModel + 2.0 * c.qDim() + 2.0 * kvDim + (c.gatedMlp() ? 3.0 : 2.0) * c.dFf;
    if (c.qkNorm() != QkNorm::None) width += c.qDim() + kvDim;
    if (c.postNorms()) width += 2.0 * c.dModel;
    if (c.moe()) {  // a sparse layer: router, k chosen rows of (input, u, g, m, output), shared expert
        const double k = c.nExpertsPerToken;
        const double sparse = 2.0 * c.nExperts + 2.0 * k + k * (2.0 * c.dModel + 3.0 * c.dExpert) +
                              3.0 * c.dSharedExpert + c.dModel + 1.0;
        width += std::max(0.0, sparse - (c.gatedMlp() ? 3.0 : 2.0) * c.dFf);
    }
    return sizeof(float) * (rows * width + double(batch) * c.nHeads * seqLen * seqLen);
}

template <typename T>
bp::AttentionShape BackpropT<T>::attentionShape(int layer) const {
    return {.batch = m_batch,
            .seqLen = m_seqLen,
            .nHeads = m_config.nHeads,
            .nKvHeads = m_config.nKvHeads > 0 ? m_config.nKvHeads : m_config.nHeads,
            .dHead = m_config.dHead(),
            .blocked = m_blocked,
            .layer = layer,
            .scale = m_config.attentionScale(),
            .softcap = m_config.attnSoftcap,
            .window = m_config.slidingAt(layer) ? m_config.slidingWindow : 0};
}

template <typename T>
const MatrixT<T>& BackpropT<T>::forward(std::span<const int> tokens, int batch, int seqLen,
                                        const Hooks& hooks) {
    const ModelConfig& c = m_config;
    if (batch <= 0 || seqLen <= 0 || Index(tokens.size()) != Index(batch) * seqLen)
        throw InvalidInput("forward pass: " + std::to_string(tokens.size()) +
                           " tokens do not make " + std::to_string(batch) + " sequences of " +
                           std::to_string(seqLen));
    if (seqLen > c.nCtx)
        throw InvalidInput("forward pass: sequence length " + std::to_string(seqLen) +
                           " exceeds the model's context of " + std::to_string(c.nCtx));
    for (int t : tokens)
        if (t < 0 || t >= c.vocabSize)
            throw InvalidInput("forward pass: token id " + std::to_string(t) +
                               " is outside the vocabulary of " + std::to_string(c.vocabSize));
    for (const bp::BlockedKeys& b : m_blocked)
        if (b.sequence < 0 || b.sequence >= batch || b.keyBegin < 0 || b.keyBegin >= b.keyEnd ||
            b.keyEnd > b.queryBegin || b.queryBegin >= seqLen)
            throw InvalidInput("forward pass: blocked keys [" + std::to_string(b.keyBegin) + ", " +
                               std::to_string(b.keyEnd) + ") for the queries from " +
                               std::to_string(b.queryBegin) + " of sequence " +
                               std::to_string(b.sequence) + " do not fit " +
                               std::to_string(batch) + " sequences of " + std::to_string(seqLen));
    m_batch = batch;
    m_seqLen = seqLen;
    setHooks(hooks);
    m_tokens.assign(tokens.begin(), tokens.end());
    if (c.rotary()) m_rope.build(seqLen, c);

    MatrixT<T>& x = m_resid[0];
    x.resize(Index(batch) * seqLen, c.dModel);
    const bool positions = c.learnedPositions();
    for (Index r = 0; r < x.rows(); ++r) {
        x.row(r) = m_weights.tokenEmbedding.row(m_tokens[r]);
        if (positions) x.row(r) += m_weights.positionEmbedding.row(r % seqLen);
    }
    if (c.scaledEmbeddings()) x *= T(c.embeddingScale());
    applyHooks(HookSite::Embed, 0, x);
    for (int l = 0; l < c.nLayers; ++l) forwardLayer(l, m_resid[l + 1]);
    forwardHead();
    const int lowest = lowestHookedLayer();
    m_firstHookedResid = lowest < c.nLayers ? lowest : c.nLayers + 1;
    m_baseLayer = -1;
    return m_logits;
}

template <typename T>
void BackpropT<T>::setHooks(const Hooks& hooks) {
    const ModelConfig& c = m_config;
    if (hooks.callback)
        throw InvalidInput("the differentiable pass takes patches and captures, not hook callbacks");
    auto checkSite = [&](HookSite site, int layer) {
        if (site == HookSite::AttnPattern)
            throw InvalidInput("the differentiable pass has no attn_pattern hook site");
        if (site == HookSite::RouterLogits || isExpertSite(site))
            throw InvalidInput("the differentiable pass has no " + toString(site) +
                               " hook site (the router and expert sites are the inference pass's)");
        if (site == HookSite::MlpIn && c.moeLayer(layer))
            throw InvalidInput("layer " + std::to_string(layer) +
                               " is a mixture of experts, whose MLP has no single mlp_in");
        if (layer < 0 || layer >= c.nLayers || (site == HookSite::Embed && layer != 0))
            throw InvalidInput("hook at " + toString(site) + " of layer " + std::to_string(layer) +
                               " is outside the model's " + std::to_string(c.nLayers) + " layers");
    };
    const Index nRows = Index(m_batch) * m_seqLen;
    for (const Patch& p : hooks.patches) {
        checkSite(p.site, p.layer);
        if (p.pos < 0 || p.pos >= nRows)
            throw InvalidInput("patch of " + toString(p.site) + " at row " + std::to_string(p.pos) +
                               " is not in [0, " + std::to_string(nRows) + ")");
        const int width = p.site == HookSite::MlpIn ? c.dFf : c.dModel;
        if (p.value.size() != width)
            throw InvalidInput("patch of " + toString(p.site) + " has " + std::to_string(p.value.size()) +
                               " values, expected " + std::to_string(width));
    }
    for (const Capture& cap : hooks.captures) checkSite(cap.site, cap.layer);
    m_hooks = hooks;
    m_captured.clear();
}

template <typename T>
bool BackpropT<T>::hooked(int layer) const {
    for (const Patch& p : m_hooks.patches)
        if (p.layer == layer) return true;
    for (const Capture& cap : m_hooks.captures)
        if (cap.layer == layer) return true;
    return false;
}

template <typename T>
int BackpropT<T>::lowestHookedLayer() const {
    int lowest = m_config.nLayers;
    for (const Patch& p : m_hooks.patches) lowest = std::min(lowest, p.layer);
    for (const Capture& cap : m_hooks.captures) lowest = std::min(lowest, cap.layer);
    return lowest;
}

template <typename T>
bool BackpropT<T>::needsActivation(HookSite site, int layer) const {
    for (const Patch& p : m_hooks.patches)
        if (p.site == site && p.layer == layer && p.mode == PatchMode::Replace) return true;
    for (const Capture& cap : m_hooks.captures)
        if (cap.site == site && cap.layer == layer) return true;
    return false;
}

template <typename T>
void BackpropT<T>::applyHooks(HookSite site, int layer, MatrixT<T>& m, bool addsOnly) {
    for (const Patch& p : m_hooks.patches) {
        if (p.site != site || p.layer != layer) continue;
        if (p.mode == PatchMode::Add)
            m.row(p.pos) += p.value.transpose().template cast<T>();
        else if (!addsOnly)
            m.row(p.pos) = p.value.transpose().template cast<T>();
    }
    for (const Capture& cap : m_hooks.captures)
        if (cap.site == site && cap.layer == layer) m_captured[{site, layer}] = m;
}

template <typename T>
const MatrixT<T>& BackpropT<T>::rerun(const Hooks& hooks) {
    const ModelConfig& c = m_config;
    if (m_batch == 0) throw InvalidInput("rerun of the differentiable pass: run forward() first");
    setHooks(hooks);
    const int lowest = lowestHookedLayer();
    if (lowest == c.nLayers) {  // no hooks: the logits of the layers as recorded
        if (m_firstHookedResid <= c.nLayers)
            throw InvalidInput("rerun of the differentiable pass without hooks after a hooked pass; run forward() again");
        return m_logits;
    }
    // A block whose only hooks add to mlp_out or touch resid_post starts from its
    // recorded output: rerunning it would give the same numbers.
    // (Not through a post-norm: an addition before it does not pass through unchanged.)
    bool fromOutput = true;
    for (const Patch& p : m_hooks.patches)
        if (p.layer == lowest &&
            !(p.site == HookSite::ResidPost ||
              (p.site == HookSite::MlpOut && p.mode == PatchMode::Add && !c.postNorms())))
            fromOutput = false;
    for (const Capture& cap : m_hooks.captures)
        if (cap.layer == lowest && cap.site != HookSite::ResidPost) fromOutput = false;
    if (fromOutput) {
        if (lowest != m_baseLayer) {
            if (lowest + 1 >= m_firstHookedResid)
                throw InvalidInput("rerun of the differentiable pass: layer " + std::to_string(lowest) +
                                   " is above the lowest layer hooked since forward(); run forward() again");
            m_base = m_resid[lowest + 1];
            m_baseLayer = lowest;
        }
        MatrixT<T>& x = m_resid[lowest + 1];
        x = m_base;
        applyHooks(HookSite::MlpOut, lowest, x, true);
        applyHooks(HookSite::ResidPost, lowest, x);
        m_firstHookedResid = std::min(m_firstHookedResid, lowest + 1);
    } else {
        if (lowest >= m_firstHookedResid)
            throw InvalidInput("rerun of the differentiable pass: layer " + std::to_string(lowest) +
                               " is above the lowest layer hooked since forward(); run forward() again");
        // Embedding and resid_pre patches change the recorded input in place.
        bool inputPatched = false;
        for (const Patch& p : m_hooks.patches)
            inputPatched |= p.layer == lowest && (p.site == HookSite::ResidPre || p.site == HookSite::Embed);
        if (lowest == 0) applyHooks(HookSite::Embed, 0, m_resid[0]);
        forwardLayer(lowest, m_resid[lowest + 1]);
        m_firstHookedResid = std::min(m_firstHookedResid, lowest + (inputPatched ? 0 : 1));
        if (m_baseLayer >= lowest) m_baseLayer = -1;  // its recorded layer was rerun with hooks
    }
    for (int l = lowest + 1; l < c.nLayers; ++l) forwardLayer(l, m_resid[l + 1]);
    forwardHead();
    return m_logits;
}

template <typename T>
void BackpropT<T>::forwardLayer(int layer, MatrixT<T>& out) {
    const ModelConfig& c = m_config;
    const BlockWeightsT<T>& w = m_weights.blocks[layer];
    LayerCache& a = cache(layer);
    const bp::AttentionShape shape = attentionShape(layer);
    const bool hooks = hooked(layer);
    // The recorded input already holds its patches when a layer is recomputed.
    if (hooks && !m_recomputing) applyHooks(HookSite::ResidPre, layer, m_resid[layer]);
    const MatrixT<T>& in = m_resid[layer];

    // Attention.
    if (c.preNorms()) bp::normForward(in, w.norm1, c, a.xhat1, a.rstd1, a.h1);
    const MatrixT<T>& h1 = c.preNorms() ? a.h1 : in;
    linearForward(h1, w.q, a.q, m_scratch);
    linearForward(h1, w.k, a.k, m_scratch);
    linearForward(h1, w.v, a.v, m_scratch);
    if (c.qkNorm() != QkNorm::None) {
        qkNormForward(a.q, shape.nHeads, w.qNorm, a.xhatQ, a.rstdQ);
        qkNormForward(a.k, shape.nKvHeads, w.kNorm, a.xhatK, a.rstdK);
    }
    if (c.rotary()) {
        bp::ropeApply(a.q, shape.nHeads, shape.dHead, m_seqLen, m_rope, false);
        bp::ropeApply(a.k, shape.nKvHeads, shape.dHead, m_seqLen, m_rope, false);
    }
    bp::attentionForward(a.q, a.k, a.v, shape, a.probs, a.att);

    MatrixT<T>& x = out;  // resid_mid, then resid_post
    x = in;
    // A sublayer output the hooks or a post-norm need is materialised; otherwise the
    // projection accumulates straight into the residual stream.
    auto addSublayer = [&](const MatrixT<T>& input, const LinearT<T>& proj, HookSite site, const NormT<T>& postNorm,
                           MatrixT<T>& xhat, VectorT<T>& rstd) {
        if (c.postNorms() || (hooks && needsActivation(site, layer))) {
            MatrixT<T> sub;
            linearForward(input, proj, sub, m_scratch);
            if (hooks) applyHooks(site, layer, sub);
            if (c.postNorms()) bp::normForward(sub, postNorm, c, xhat, rstd, sub);
            x += sub;
        } else {
            bp::productXWt(x, input, proj.weightIn(m_scratch), true);
            if (proj.bias.size()) x.rowwise() += proj.bias.transpose();
            if (hooks) applyHooks(site, layer, x, true);
        }
    };
    addSublayer(a.att, w.o, HookSite::AttnOut, w.postAttnNorm, a.xhatPA, a.rstdPA);

    // MLP: from the block input when parallel, else from resid_mid.
    const MatrixT<T>& mlpFrom = c.parallelBlock() ? in : x;
    if (c.sharedBlockNorm()) a.h2 = a.h1;
    else if (c.preNorms()) bp::normForward(mlpFrom, w.norm2, c, a.xhat2, a.rstd2, a.h2);
    else a.h2 = mlpFrom;
    if (c.moeLayer(layer)) {
        moeForward(layer, a);
        MatrixT<T>& sub = a.moeOut;
        if (hooks) applyHooks(HookSite::MlpOut, layer, sub);
        if (c.postNorms()) bp::normForward(sub, w.postMlpNorm, c, a.xhatPM, a.rstdPM, sub);
        x += sub;
        if (hooks) applyHooks(HookSite::ResidPost, layer, x);
        return;
    }
    linearForward(a.h2, w.up, a.u, m_scratch);
    if (c.gatedMlp()) {
        linearForward(a.h2, w.gate, a.g, m_scratch);
        bp::gluForward(c.activation, a.g, a.u, a.m);
    } else {
        bp::activationForward(c.activation, a.u, a.m);
    }
    if (hooks) applyHooks(HookSite::MlpIn, layer, a.m);
    addSublayer(a.m, w.down, HookSite::MlpOut, w.postMlpNorm, a.xhatPM, a.rstdPM);
    if (hooks) applyHooks(HookSite::ResidPost, layer, x);
}

template <typename T>
void BackpropT<T>::qkNormForward(MatrixT<T>& m, int heads, const NormT<T>& norm, MatrixT<T>& xhat,
                                 VectorT<T>& rstd) {
    // Per head: the [rows x heads*dHead] matrix viewed as [rows*heads x dHead] (row-major,
    // so resizing to the same number of coefficients keeps them in place).
    const Index rows = m.rows(), cols = m.cols();
    const bool perHead = m_config.qkNorm() == QkNorm::PerHead;
    if (perHead) m.resize(rows * heads, cols / heads);
    bp::normForward(m, norm, m_config, xhat, rstd, m);
    if (perHead) m.resize(rows, cols);
}

template <typename T>
void BackpropT<T>::qkNormBackward(MatrixT<T>& d, int heads, const NormT<T>& norm, const MatrixT<T>& xhat,
                                  const VectorT<T>& rstd, NormT<T>* grad) {
    const Index rows = d.rows(), cols = d.cols();
    const bool perHead = m_config.qkNorm() == QkNorm::PerHead;
    if (perHead) d.resize(rows * heads, cols / heads);
    m_dNormed.setZero(d.rows(), d.cols());
    bp::normBackward(d, xhat, rstd, norm, m_config, grad, m_dNormed);
    d.swap(m_dNormed);
    if (perHead) d.resize(rows, cols);
}

template <typename T>
void BackpropT<T>::forwardHead() {
    const ModelConfig& c = m_config;
    const MatrixT<T>* in = &m_resid[c.nLayers];
    if (!m_logitRows.empty()) {
        m_headIn.resize(Index(m_logitRows.size()), c.dModel);
        for (size_t i = 0; i < m_logitRows.size(); ++i) {
            const int r = m_logitRows[i];
            if (r < 0 || r >= in->rows())
                throw InvalidInput("logit row " + std::to_string(r) + " is not in [0, " +
                                   std::to_string(in->rows()) + ")");
            m_headIn.row(Index(i)) = in->row(r);
        }
        in = &m_headIn;
    }
    bp::normForward(*in, m_weights.finalNorm, c, m_xhatF, m_rstdF, m_hF);
    const MatrixT<T>& u = m_weights.unembedding();
    bp::productXWt(m_logits, m_hF, u, false);
    if (m_weights.lmHeadBias.size()) m_logits.rowwise() += m_weights.lmHeadBias.transpose();
    if (c.finalSoftcap > 0.0f) ops::softcapRows(m_logits, c.finalSoftcap);
}

template <typename T>
void BackpropT<T>::backwardFrom(const MatrixT<T>& dLogits, int firstLayer, WeightsT<T>* grads) {
    const ModelConfig& c = m_config;
    if (m_batch == 0) throw InvalidInput("backward pass: run a forward pass first");
    if (dLogits.rows() != m_logits.rows() || dLogits.cols() != m_logits.cols())
        throw InvalidInput("backward pass: d loss / d logits must be [" +
                           std::to_string(m_logits.rows()) + " x " +
                           std::to_string(m_logits.cols()) + "]");
    const MatrixT<T>& u = m_weights.unembedding();
    const MatrixT<T>* dRaw = &dLogits;
    if (c.finalSoftcap > 0.0f) {  // logits = c tanh(raw / c): d raw = d logits (1 - (logits / c)^2)
        m_dSub = dLogits.array() * (T(1) - (m_logits.array() / T(c.finalSoftcap)).square());
        dRaw = &m_dSub;
    }
    bp::productXW(m_dh, *dRaw, u, false);
    if (grads) checkGradShapes(c, m_weights, *grads);
    if (grads) {
        MatrixT<T>& gu = c.tieEmbeddings ? grads->tokenEmbedding : grads->lmHead;
        bp::productYtX(gu, *dRaw, m_hF, true);
        if (grads->lmHeadBias.size()) addRowSum(*dRaw, grads->lmHeadBias);
    }
    const bool selected = !m_logitRows.empty();
    MatrixT<T>& dHeadIn = selected ? m_dxHead : m_dx;
    dHeadIn.setZero(m_dh.rows(), c.dModel);
    bp::normBackward(m_dh, m_xhatF, m_rstdF, m_weights.finalNorm, c, grads ? &grads->finalNorm : nullptr, dHeadIn);
    if (selected) {  // rows without logits get no gradient from the head
        m_dx.setZero(Index(m_batch) * m_seqLen, c.dModel);
        for (size_t i = 0; i < m_logitRows.size(); ++i) m_dx.row(m_logitRows[i]) += m_dxHead.row(Index(i));
    }
    for (int l = c.nLayers - 1; l >= firstLayer; --l)
        backwardLayer(l, grads ? &grads->blocks[l] : nullptr);
}

template <typename T>
void BackpropT<T>::backwardLayer(int layer, BlockWeightsT<T>* g) {
    const ModelConfig& c = m_config;
    const BlockWeightsT<T>& w = m_weights.blocks[layer];
    if (m_memory == ActivationMemory::Recompute) {
        m_recomputing = true;
        forwardLayer(layer, m_recomputed);
        m_recomputing = false;
    }
    const LayerCache& a = cache(layer);
    const bp::AttentionShape shape = attentionShape(layer);
    const bool patched = hooked(layer) && !m_hooks.patches.empty();

    // d loss / d (a sublayer's projection output) from m_dx = d loss / d (the residual it
    // is added to): through the post-norm where there is one. Records the gradients of
    // the patches at `site` and returns it with the rows of Replace patches cut.
    auto sublayerGrad = [&](HookSite site, const NormT<T>& postNorm, NormT<T>* postGrad, const MatrixT<T>& xhat,
                            const VectorT<T>& rstd) -> const MatrixT<T>& {
        const MatrixT<T>* d = &m_dx;
        if (c.postNorms()) {
            m_dSub.setZero(m_dx.rows(), m_dx.cols());
            bp::normBackward(m_dx, xhat, rstd, postNorm, c, postGrad, m_dSub);
            d = &m_dSub;
        }
        if (!patched) return *d;
        patchGradients(site, layer, const_cast<MatrixT<T>&>(*d));
        return withoutReplaced(site, layer, *d, m_dxCut);
    };

    // MLP: out = mid + post(down(m)), m = act(u) or act(g) * u.
    if (patched) patchGradients(HookSite::ResidPost, layer, m_dx);
    // The attention branch of a parallel block sees d out, before the MLP's share is added.
    if (c.parallelBlock() && !c.sharedBlockNorm()) m_dOut = m_dx;
    if (c.moeLayer(layer)) {
        const MatrixT<T>& dOut = sublayerGrad(HookSite::MlpOut, w.postMlpNorm, g ? &g->postMlpNorm : nullptr,
                                              a.xhatPM, a.rstdPM);
        moeBackward(layer, a, dOut, g);
    } else {
        {
            const MatrixT<T>& dOut = sublayerGrad(HookSite::MlpOut, w.postMlpNorm, g ? &g->postMlpNorm : nullptr,
                                                  a.xhatPM, a.rstdPM);
            bp::productXW(m_dm, dOut, w.down.weight, false);
            if (g) linearWeightGrad(dOut, a.m, g->down);
        }
        if (patched) patchGradients(HookSite::MlpIn, layer, m_dm);
        if (c.gatedMlp())
            bp::gluBackward(c.activation, a.g, a.u, m_dm, m_dg, m_du);
        else
            bp::activationBackward(c.activation, a.u, m_dm, m_du);
        bp::productXW(m_dh2, m_du, w.up.weightIn(m_scratch), false);
        if (c.gatedMlp()) bp::productXW(m_dh2, m_dg, w.gate.weightIn(m_scratch), true);
        if (g) {
            linearWeightGrad(m_du, a.h2, g->up);
            if (c.gatedMlp()) linearWeightGrad(m_dg, a.h2, g->gate);
        }
    }
    // GPT-J: the MLP's input is norm1's output, whose gradient the attention adds to below.
    if (!c.sharedBlockNorm()) {
        if (c.preNorms()) bp::normBackward(m_dh2, a.xhat2, a.rstd2, w.norm2, c, g ? &g->norm2 : nullptr, m_dx);
        else m_dx += m_dh2;
    }
    // m_dx is now d loss / d resid_mid (sequential), or d out + the MLP's share (parallel).
    if (c.parallelBlock() && !c.sharedBlockNorm()) m_dOut.swap(m_dx);

    // Attention: mid = x + post(o(att)).
    {
        const MatrixT<T>& dMid = sublayerGrad(HookSite::AttnOut, w.postAttnNorm, g ? &g->postAttnNorm : nullptr,
                                              a.xhatPA, a.rstdPA);
        bp::productXW(m_datt, dMid, w.o.weightIn(m_scratch), false);
        if (g) linearWeightGrad(dMid, a.att, g->o);
    }
    bp::attentionBackward(a.q, a.k, a.v, a.probs, m_datt, shape, m_dq, m_dk, m_dv);
    if (c.rotary()) {
        bp::ropeApply(m_dq, shape.nHeads, shape.dHead, m_seqLen, m_rope, true);
        bp::ropeApply(m_dk, shape.nKvHeads, shape.dHead, m_seqLen, m_rope, true);
    }
    if (c.qkNorm() != QkNorm::None) {
        qkNormBackward(m_dq, shape.nHeads, w.qNorm, a.xhatQ, a.rstdQ, g ? &g->qNorm : nullptr);
        qkNormBackward(m_dk, shape.nKvHeads, w.kNorm, a.xhatK, a.rstdK, g ? &g->kNorm : nullptr);
    }
    const MatrixT<T>& h1 = c.preNorms() ? a.h1 : m_resid[layer];
    if (c.sharedBlockNorm()) m_dh.swap(m_dh2);  // adds to the MLP's share
    bp::productXW(m_dh, m_dq, w.q.weightIn(m_scratch), c.sharedBlockNorm());
    bp::productXW(m_dh, m_dk, w.k.weightIn(m_scratch), true);
    bp::productXW(m_dh, m_dv, w.v.weightIn(m_scratch), true);
    if (g) {
        linearWeightGrad(m_dq, h1, g->q);
        linearWeightGrad(m_dk, h1, g->k);
        linearWeightGrad(m_dv, h1, g->v);
    }
    if (c.parallelBlock() && !c.sharedBlockNorm()) m_dx.swap(m_dOut);  // back to d out + the MLP's share
    if (c.preNorms()) bp::normBackward(m_dh, a.xhat1, a.rstd1, w.norm1, c, g ? &g->norm1 : nullptr, m_dx);
    else m_dx += m_dh;
    if (patched) {
        patchGradients(HookSite::ResidPre, layer, m_dx);
        if (layer == 0) patchGradients(HookSite::Embed, 0, m_dx);
    }
}

template <typename T>
void BackpropT<T>::patchGradients(HookSite site, int layer, MatrixT<T>& grad) {
    // A module output's gradient also flows on along the residual stream: only the
    // module's own rows are cut off (withoutReplaced), not grad's.
    const bool cut = site != HookSite::AttnOut && site != HookSite::MlpOut;
    for (size_t i = 0; i < m_hooks.patches.size(); ++i) {
        const Patch& p = m_hooks.patches[i];
        if (p.site != site || p.layer != layer) continue;
        if (m_recordPatchGrads) m_patchGrads.row(Index(i)) = grad.row(p.pos);
        if (cut && p.mode == PatchMode::Replace) grad.row(p.pos).setZero();
    }
}

template <typename T>
const MatrixT<T>& BackpropT<T>::withoutReplaced(HookSite site, int layer, const MatrixT<T>& grad,
                                                MatrixT<T>& scratch) {
    bool any = false;
    for (const Patch& p : m_hooks.patches)
        if (p.site == site && p.layer == layer && p.mode == PatchMode::Replace) {
            if (!any) scratch = grad;
            any = true;
            scratch.row(p.pos).setZero();
        }
    return any ? scratch : grad;
}

template <typename T>
void BackpropT<T>::backward(const MatrixT<T>& dLogits, WeightsT<T>& grads) {
    backwardFrom(dLogits, 0, &grads);
    // Embeddings: scatter-add in row order (deterministic).
    const bool positions = m_config.learnedPositions();
    if (m_config.scaledEmbeddings()) m_dx *= T(m_config.embeddingScale());
    for (Index r = 0; r < m_dx.rows(); ++r) {
        grads.tokenEmbedding.row(m_tokens[r]) += m_dx.row(r);
        if (positions) grads.positionEmbedding.row(r % m_seqLen) += m_dx.row(r);
    }
}

template <typename T>
MatrixT<T> BackpropT<T>::backwardToPatches(const MatrixT<T>& dLogits, WeightsT<T>* grads) {
    const ModelConfig& c = m_config;
    if (m_hooks.patches.empty()) throw InvalidInput("backward pass to the patches: the last pass had no patch");
    auto widthOf = [&](const Patch& p) { return p.site == HookSite::MlpIn ? c.dFf : c.dModel; };
    const int width = widthOf(m_hooks.patches[0]);
    int lowest = c.nLayers;
    for (const Patch& p : m_hooks.patches) {
        if (widthOf(p) != width)
            throw InvalidInput("backward pass to the patches: their sites have different widths");
        lowest = std::min(lowest, p.layer);
    }
    // Patches at the block output of the lowest layer need no backward pass through it.
    bool inside = false;
    for (const Patch& p : m_hooks.patches)
        inside |= p.layer == lowest && p.site != HookSite::ResidPost &&
                   (p.site != HookSite::MlpOut || c.postNorms());
    m_patchGrads.setZero(Index(m_hooks.patches.size()), width);
    m_recordPatchGrads = true;
    try {
        backwardFrom(dLogits, inside ? lowest : lowest + 1, grads);
        if (!inside) {
            patchGradients(HookSite::ResidPost, lowest, m_dx);
            patchGradients(HookSite::MlpOut, lowest, m_dx);
        }
    } catch (...) {
        m_recordPatchGrads = false;
        throw;
    }
    m_recordPatchGrads = false;
    return m_patchGrads;
}

template <typename T>
double BackpropT<T>::lossAndBackward(std::span<const int> targets, WeightsT<T>& grads) {
    const double loss = crossEntropy(m_logits, targets, m_dLogits);
    backward(m_dLogits, grads);
    return loss;
}

template double crossEntropy<float>(const MatrixT<float>&, std::span<const int>, MatrixT<float>&);
template double crossEntropy<double>(const MatrixT<double>&, std::span<const int>,
                                     MatrixT<double>&);
template class BackpropT<float>;
template class BackpropT<double>;

}  // namespace mwb
