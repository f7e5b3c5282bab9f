#include "model/transformer.h"

#include <omp.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "tensor/errors.h"
#include "tensor/matmul.h"
#include "tensor/parallel.h"
#include "model/forward_support.h"
#include "model/ops.h"

namespace mwb {

using detail::activateRows;
using detail::applyHooks;
using detail::hookWanted;

namespace {

// Every run passes through runBlocks, so this is the one place that keeps a NaN or Inf
// (a damaged weight, an overflow in float32) from reaching a printed result: the first
// layer whose output is not finite is named instead.
void requireFinite(const Matrix& x, const std::string& where) {
    if (!x.allFinite())
        throw Error("the forward pass produced NaN or Inf in " + where +
                    " (the model's weights may be damaged or too large for float32)");
}

// Refuses patches and captures at a site the layer does not have: mlp_in of a sparse
// layer (its MLP has one key per expert), the router and expert sites of a dense one,
// an expert the layer does not have.
void checkLayerSites(const ModelConfig& c, const Hooks& hooks, int layer) {
    auto check = [&](HookSite site, int l, int expert) {
        if (l != layer) return;
        const std::string where = toString(site) + " at layer " + std::to_string(layer);
        if (c.moeLayer(layer) && site == HookSite::MlpIn)
            throw InvalidInput("layer " + std::to_string(layer) +
                               " is a mixture of experts, whose MLP has no single mlp_in; hook expert_in of one "
                               "expert instead");
        const bool moeSite = site == HookSite::RouterLogits || isExpertSite(site);
        if (moeSite && !c.moeLayer(layer))
            throw InvalidInput(where + " does not exist: the layer's MLP is not a mixture of experts");
        const int experts = c.nExperts + (c.dSharedExpert > 0 ? 1 : 0);
        if (isExpertSite(site) && (expert < 0 || expert >= experts))
            throw InvalidInput(where + " names expert " + std::to_string(expert) + ", but the layer has experts 0 to " +
                               std::to_string(experts - 1) + (c.dSharedExpert > 0 ? " (the last is the shared one)" : ""));
    };
    for (const auto& p : hooks.patches) check(p.site, p.layer, p.expert);
    for (const auto& cap : hooks.captures) check(cap.site, cap.layer, cap.expert);
}

}  // namespace

// The blocks' linear weights (indexed by BlockLinear) and the unembedding, packed once.
struct Transformer::PackedWeights {
    std::vector<std::array<PackedMatrix, kBlockLinears>> blocks;
    PackedMatrix unembedding;
};

namespace {

PackedMatrix packLinear(const Linear& l) {
    const int out = int(l.outFeatures()), k = int(l.inFeatures());
    if (l.isHalf()) return PackedMatrix(l.weightHalf.bits.data(), l.weightHalf.format, l.weightHalf.cols, out, k);
    return PackedMatrix(l.weight.data(), l.weight.cols(), out, k);
}

// The packed copy (4 bytes per weight) is made only when it takes at most a quarter of
// the machine's memory; otherwise the runs pack per product, with the same results.
bool packedCopyFits(long weights) {
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && pageSize > 0 && weights * long(sizeof(float)) <= pages / 4 * pageSize;
}

}  // namespace

Transformer::Transformer(const Model& model, const WeightOverrides* overrides, WeightPacking packing)
    : m_model(model), m_overrides(overrides) {
    if (auto problem = configProblem(model.config); !problem.empty()) throw InvalidInput(problem);
    if (packing == WeightPacking::Once) packWeights();
}

void Transformer::packWeights() {
    const auto& c = config();
    const auto& e = m_model.weights.unembedding();
    long weights = e.size();
    for (int l = 0; l < c.nLayers; ++l)
        for (int w = 0; w < kBlockLinears; ++w) {
            const Linear& lin = linear(l, BlockLinear(w));
            weights += lin.outFeatures() * lin.inFeatures();
        }
    if (!packedCopyFits(weights)) return;
    auto packed = std::make_shared<PackedWeights>();
    packed->blocks.resize(c.nLayers);
    for (int l = 0; l < c.nLayers; ++l)
        for (int w = 0; w < kBlockLinears; ++w) {
            const Linear& lin = linear(l, BlockLinear(w));
            if (lin.outFeatures() > 0 && lin.inFeatures() > 0) packed->blocks[l][w] = packLinear(lin);
        }
    packed->unembedding = PackedMatrix(e.data(), e.cols(), int(e.rows()), int(e.cols()));
    m_packed = std::move(packed);
}

void Transformer::project(int layer, BlockLinear which, const Matrix& x, Matrix& y) const {
    if (m_packed) {
        const PackedMatrix& w = m_packed->blocks[layer][int(which)];
        w.multiply(x.data(), x.outerStride(), y.data(), y.outerStride(), int(x.rows()));
        if (const Vector& bias = linear(layer, which).bias; bias.size()) y.rowwise() += bias.transpose();
        return;
    }
    ops::linear<float>(x, linear(layer, which), y);
}

const Linear& Transformer::linear(int layer, BlockLinear which) const {
    if (m_overrides)
        if (const Linear* l = m_overrides->find(layer, which)) return *l;
    return linearOf(m_model.weights.blocks[layer], which);
}

void Transformer::validateTokens(const std::vector<int>& tokens, int firstPos) const {
    const auto& c = config();
    if (tokens.empty()) throw InvalidInput("the prompt is empty: there is no token to run the model on");
    if (firstPos + static_cast<long>(tokens.size()) > c.nCtx)
        throw InvalidInput("the input has " + std::to_string(firstPos + tokens.size()) +
                           " tokens, more than the model's context of " + std::to_string(c.nCtx));
    for (int id : tokens)
        if (id < 0 || id >= c.vocabSize)
            throw InvalidInput("token id " + std::to_string(id) + " is out of range [0, " +
                               std::to_string(c.vocabSize) + ")");
}

Matrix Transformer::embed(const std::vector<int>& tokens, int firstPos) const {
    const auto& w = m_model.weights;
    const auto& c = config();
    Matrix x(tokens.size(), c.dModel);
    for (size_t i = 0; i < tokens.size(); ++i) {
        x.row(i) = w.tokenEmbedding.row(tokens[i]);
        if (c.learnedPositions()) x.row(i) += w.positionEmbedding.row(firstPos + i);
    }
    if (c.scaledEmbeddings()) x *= c.embeddingScale();
    return x;
}

Matrix Transformer::unembed(const Eigen::Ref<const Matrix>& x) const {
    const auto& c = config();
    Matrix h(x.rows(), x.cols());
    ops::norm<float>(x, m_model.weights.finalNorm, c, h);
    Matrix logits(x.rows(), c.vocabSize);
    const auto& e = m_model.weights.unembedding();
    if (m_packed)
        m_packed->unembedding.multiply(h.data(), h.cols(), logits.data(), logits.cols(), int(h.rows()));
    else
        matmulTransposed(h.data(), h.cols(), e.data(), e.cols(), logits.data(), logits.cols(),
                         static_cast<int>(h.rows()), static_cast<int>(e.rows()), static_cast<int>(h.cols()));
    if (m_model.weights.lmHeadBias.size()) logits.rowwise() += m_model.weights.lmHeadBias.transpose();
    if (c.finalSoftcap > 0.0f) ops::softcapRows(logits, c.finalSoftcap);
    return logits;
}

void Transformer::ensureCapacity(RunState& state, int nTokens) const {
    const auto& c = config();
    const int kvDim = c.kvDim();
    const long have = state.resid.empty() ? 0 : state.resid[0].rows();
    if (have >= nTokens && static_cast<int>(state.resid.size()) == c.nLayers + 1) return;
    // Grow geometrically so that decoding token by token does not copy every step.
    const int capacity = std::min(c.nCtx, std::max(nTokens, static_cast<int>(have * 2)));
    auto grow = [&](Matrix& m, int cols) {
        Matrix g(capacity, cols);
        if (m.rows() > 0) g.topRows(state.nTokens) = m.topRows(state.nTokens);
        m = std::move(g);
    };
    state.resid.resize(c.nLayers + 1);
    state.keys.resize(c.nLayers);
    state.values.resize(c.nLayers);
    state.routing.resize(c.nLayers);
    for (auto& r : state.resid) grow(r, c.dModel);
    for (int l = 0; l < c.nLayers; ++l) {
        grow(state.keys[l], kvDim);
        grow(state.values[l], kvDim);
        if (!c.moeLayer(l)) continue;
        LayerRouting& routing = state.routing[l];
        grow(routing.weights, c.nExpertsPerToken);
        decltype(routing.experts) experts(capacity, c.nExpertsPerToken);
        if (routing.experts.rows() > 0) experts.topRows(state.nTokens) = routing.experts.topRows(state.nTokens);
        routing.experts = std::move(experts);
    }
}

RunState Transformer::run(const std::vector<int>& tokens, const Hooks& hooks, LogitsMode logits,
                          int toLayer) const {
    validateTokens(tokens);
    RunState state;
    state.tokens = tokens;
    ensureCapacity(state, static_cast<int>(tokens.size()));
    state.nTokens = static_cast<int>(tokens.size());
    state.resid[0].topRows(state.nTokens) = embed(tokens);
    runBlocks({&state}, 0, 0, {&hooks}, logits, toLayer);
    return state;
}

void Transformer::extend(RunState& state, const std::vector<int>& newTokens, const Hooks& hooks,
                         LogitsMode logits) const {
    validateTokens(newTokens, state.nTokens);
    const int from = state.nTokens;
    ensureCapacity(state, from + static_cast<int>(newTokens.size()));
    state.tokens.insert(state.tokens.end(), newTokens.begin(), newTokens.end());
    state.nTokens = static_cast<int>(state.tokens.size());
    state.resid[0].middleRows(from, newTokens.size()) = embed(newTokens, from);
    runBlocks({&state}, 0, from, {&hooks}, logits);
}

void Transformer::rerun(RunState& state, int fromLayer, int fromPos, const Hooks& hooks,
                        LogitsMode logits) const {
    std::vector<RunState*> states = {&state};
    rerunMany(states, fromLayer, fromPos, {&hooks}, logits);
}

void Transformer::rerunMany(std::vector<RunState*>& states, int fromLayer, int fromPos,
                            const std::vector<const Hooks*>& hooks, LogitsMode logits, int toLayer) const {
    if (states.empty()) return;
    const int nTokens = states[0]->nTokens;
    for (const RunState* s : states)
        if (s->nTokens != nTokens || static_cast<int>(s->resid.size()) != config().nLayers + 1)
            throw InvalidInput("states rerun together must come from runs of the same length");
    if (toLayer < 0) toLayer = config().nLayers;
    if (fromLayer < 0 || fromLayer > toLayer || toLayer > config().nLayers || fromPos < 0 || fromPos >= nTokens)
        throw InvalidInput("rerun of layers " + std::to_string(fromLayer) + " to " + std::to_string(toLayer) +
                           " from position " + std::to_string(fromPos) + " is outside the cached run");
    if (hooks.size() > 1 && hooks.size() != states.size())
        throw InvalidInput("rerunMany needs no hooks, one set for all states, or one per state");
    std::vector<const Hooks*> perState(states.size(), nullptr);
    for (size_t i = 0; i < states.size(); ++i)
        perState[i] = hooks.empty() ? nullptr : hooks[hooks.size() == 1 ? 0 : i];
    runBlocks(states, fromLayer, fromPos, perState, logits, toLayer);
}

std::vector<RunState> Transformer::runBatch(const std::vector<std::vector<int>>& prompts,
                                            const Hooks& hooks, LogitsMode logits) const {
    for (const auto& p : prompts) validateTokens(p);
    std::vector<RunState> out(prompts.size());
    // Hook callbacks may not be thread-safe; only parallelise plain runs.
    const bool parallel = !hooks.callback && prompts.size() > 1;
    parallelFor(prompts.size(), [&](size_t i) { out[i] = run(prompts[i], hooks, logits); }, Schedule::Dynamic, parallel);
    return out;
}

void Transformer::runBlocks(const std::vector<RunState*>& states, int fromLayer, int fromPos,
                            const std::vector<const Hooks*>& hooks, LogitsMode logits, int toLayer) const {
    const auto& c = config();
    if (toLayer < 0) toLayer = c.nLayers;
    if (toLayer < c.nLayers) logits = LogitsMode::None;
    const int n = states[0]->nTokens - fromPos;
    const int count = static_cast<int>(states.size());
    if (fromLayer == 0) {
        // Embedding hooks change the embeddings afresh; resid[0] keeps the result.
        for (int s = 0; s < count; ++s) {
            const Hooks* h = hooks[s];
            if (!h || h->empty() || !hookWanted(*h, HookSite::Embed, 0)) continue;
            RunState& state = *states[s];
            Matrix rows = embed(std::vector<int>(state.tokens.begin() + fromPos, state.tokens.begin() + state.nTokens), fromPos);
            applyHooks(*h, state, HookSite::Embed, 0, fromPos, rows);
            state.resid[0].middleRows(fromPos, n) = rows;
        }
    }
    Matrix x(static_cast<long>(count) * n, c.dModel);
    for (int s = 0; s < count; ++s) x.middleRows(s * n, n) = states[s]->resid[fromLayer].middleRows(fromPos, n);
    for (int layer = fromLayer; layer < toLayer; ++layer) {
        block(states, layer, fromPos, x, hooks);
        requireFinite(x, "layer " + std::to_string(layer) + " of " + std::to_string(c.nLayers));
        for (int s = 0; s < count; ++s) states[s]->resid[layer + 1].middleRows(fromPos, n) = x.middleRows(s * n, n);
    }
    if (logits == LogitsMode::None) {
        for (RunState* s : states) s->logits.resize(0, 0);
        return;
    }
    // One unembedding product for all states.
    const int rowsEach = logits == LogitsMode::Last ? 1 : n;
    Matrix rows(static_cast<long>(count) * rowsEach, c.dModel);
    for (int s = 0; s < count; ++s) rows.middleRows(s * rowsEach, rowsEach) = x.middleRows(s * n + n - rowsEach, rowsEach);
    const Matrix all = unembed(rows);
    requireFinite(all, "the unembedding");
    for (int s = 0; s < count; ++s) {
        states[s]->logits = all.middleRows(s * rowsEach, rowsEach);
        states[s]->logitsFirstPos = states[s]->nTokens - rowsEach;
    }
}

// One block. Sequential: x += attn(norm1(x)); x += mlp(norm2(x)). Parallel (GPT-J,
// GPT-NeoX): x += attn(norm1(x)) + mlp(norm2(x)), both from the block input (GPT-J:
// mlp(norm1(x))). Architectures without pre-norms read x itself; with post-norms each
// sublayer output is normed before the add. attn_out and mlp_out are the o and down
// projections' outputs, before any post-norm.
// x: [nStates * n x dModel], the rows of state s at s*n ... (s+1)*n.
void Transformer::block(const std::vector<RunState*>& states, int layer, int fromPos, Matrix& x,
                        const std::vector<const Hooks*>& hooks) const {
    const auto& c = config();
    const auto& b = m_model.weights.blocks[layer];
    const int rows = static_cast<int>(x.rows());
    const int n = rows / static_cast<int>(states.size());
    // Apply the hooks of every state that wants this site to its rows.
    auto hook = [&](HookSite site, Matrix& m, bool storeResidPre = false) {
        for (size_t s = 0; s < states.size(); ++s) {
            const Hooks* h = hooks[s];
            if (!h || h->empty() || !hookWanted(*h, site, layer)) continue;
            auto block = m.middleRows(s * n, n);
            applyHooks(*h, *states[s], site, layer, fromPos, block);
            if (storeResidPre) states[s]->resid[layer].middleRows(fromPos, n) = block;
        }
    };
    auto normed = [&](const Matrix& in, const Norm& norm) {
        Matrix out(in.rows(), in.cols());
        ops::norm<float>(in, norm, c, out);
        return out;
    };
    auto mlp = [&](const Matrix& h) {
        if (c.moeLayer(layer)) {
            Matrix out = mixture(states, layer, fromPos, h, hooks);
            hook(HookSite::MlpOut, out);
            if (c.postNorms()) out = normed(out, b.postMlpNorm);
            return out;
        }
        Matrix hidden(rows, c.dFf);
        project(layer, BlockLinear::Up, h, hidden);
        if (c.gatedMlp()) {
            // SwiGLU / GeGLU (Shazeer 2020): act(gate x) * up x
            Matrix gate(rows, c.dFf);
            project(layer, BlockLinear::Gate, h, gate);
            activateRows(c.activation, hidden, &gate);
        } else {
            activateRows(c.activation, hidden, nullptr);
        }
        hook(HookSite::MlpIn, hidden);
        Matrix out(rows, c.dModel);
        project(layer, BlockLinear::Down, hidden, out);
        hook(HookSite::MlpOut, out);
        if (c.postNorms()) out = normed(out, b.postMlpNorm);
        return out;
    };

    for (const Hooks* h : hooks)
        if (h && !h->empty()) checkLayerSites(c, *h, layer);
    hook(HookSite::ResidPre, x, true);
    const Matrix h = c.preNorms() ? normed(x, b.norm1) : x;
    Matrix attnOut(rows, c.dModel);
    attention(states, layer, fromPos, h, attnOut, hooks);
    hook(HookSite::AttnOut, attnOut);
    if (c.postNorms()) attnOut = normed(attnOut, b.postAttnNorm);
    if (c.parallelBlock()) {
        const Matrix mlpOut = mlp(c.sharedBlockNorm() ? h : normed(x, b.norm2));
        x += attnOut;
        x += mlpOut;
    } else {
        x += attnOut;
        x += mlp(c.preNorms() ? normed(x, b.norm2) : x);
    }
    hook(HookSite::ResidPost, x);
}

// Causal multi-head (grouped-query) attention of rows [fromPos, nTokens) of every
// state over its cached keys. h: normed input, out: attention output, both
// [nStates * n x dModel].
void Transformer::attention(const std::vector<RunState*>& states, int layer, int fromPos,
                            const Matrix& h, Matrix& out, const std::vector<const Hooks*>& hooks) const {
    const auto& c = config();
    const int count = static_cast<int>(states.size());
    const int rows = static_cast<int>(h.rows());
    const int n = rows / count;
    const int nTok = states[0]->nTokens;
    const int dHead = c.dHead();
    const int groups = c.nHeads / c.nKvHeads;
    const int kvDim = c.kvDim();
    const auto& b = m_model.weights.blocks[layer];

    Matrix q(rows, c.qDim()), kNew(rows, kvDim), vNew(rows, kvDim);
    project(layer, BlockLinear::Q, h, q);
    project(layer, BlockLinear::K, h, kNew);
    project(layer, BlockLinear::V, h, vNew);
    if (c.qkNorm() != QkNorm::None) {
        // Per head: each head's dHead values are one row of the [rows * heads x dHead] view.
        auto normInPlace = [&](Matrix& m, int heads, const Norm& norm) {
            const long r = c.qkNorm() == QkNorm::PerHead ? m.rows() * heads : m.rows();
            Eigen::Map<Matrix> view(m.data(), r, m.size() / r);
            const Matrix in = view;
            ops::norm<float>(in, norm, c, view);
        };
        normInPlace(q, c.nHeads, b.qNorm);
        normInPlace(kNew, c.nKvHeads, b.kNorm);
    }
    for (int s = 0; s < count; ++s) {
        if (c.rotary()) {
            ops::rope<float>(q.middleRows(s * n, n), c.nHeads, dHead, fromPos, c);
            ops::rope<float>(kNew.middleRows(s * n, n), c.nKvHeads, dHead, fromPos, c);
        }
        states[s]->keys[layer].middleRows(fromPos, n) = kNew.middleRows(s * n, n);
        states[s]->values[layer].middleRows(fromPos, n) = vNew.middleRows(s * n, n);
    }

    std::vector<char> wantPattern(count, 0);
    bool anyPattern = false;
    for (int s = 0; s < count; ++s) {
        wantPattern[s] = hooks[s] && !hooks[s]->empty() && hookWanted(*hooks[s], HookSite::AttnPattern, layer);
        anyPattern |= wantPattern[s] != 0;
    }
    const float scale = c.attentionScale();
    const bool sliding = c.slidingAt(layer);
    Matrix context(rows, c.qDim());
    // Keys [firstKey(pos), pos] are visible from position pos: causal, and within the
    // sliding window where the layer has one (Beltagy et al. 2020, "Longformer").
    auto firstKey = [&](int pos) { return sliding ? std::max(0, pos - c.slidingWindow + 1) : 0; };

    // Scores of one (state, head): softmax(q kᵀ · scale), soft-capped where the model
    // says so, over the visible keys.
    auto scoresOf = [&](int s, int head, Matrix& p) {
        const Matrix& keys = states[s]->keys[layer];
        matmulTransposed(q.data() + static_cast<long>(s) * n * q.cols() + head * dHead, q.cols(),
                         keys.data() + (head / groups) * dHead, keys.cols(), p.data(), p.cols(), n, nTok, dHead);
        p *= scale;
        for (int i = 0; i < n; ++i) {
            const int pos = fromPos + i, lo = firstKey(pos);
            auto row = p.row(i).segment(lo, pos + 1 - lo);
            if (c.attnSoftcap > 0.0f) ops::softcap(row, c.attnSoftcap);
            ops::softmaxInPlace(row);
            p.row(i).head(lo).setZero();
            if (pos + 1 < nTok) p.row(i).tail(nTok - pos - 1).setZero();
        }
    };
    // context = P V over all keys (the zeros of invisible keys add nothing), as one
    // product whose every output sums the keys in order: a row's context does not
    // depend on how many rows are computed with it.
    auto contextOf = [&](int s, int head, const Eigen::Ref<const Matrix>& p) {
        const Matrix& values = states[s]->values[layer];
        matmul(p.data(), p.outerStride(), values.data() + (head / groups) * dHead, values.cols(),
               context.data() + static_cast<long>(s) * n * context.cols() + head * dHead, context.cols(), n, dHead,
               nTok);
    };

    const int jobs = count * c.nHeads;
    const bool parallel = !omp_in_parallel() && jobs > 1 && static_cast<long>(rows) * nTok >= 4096;
    std::vector<Matrix> patterns(anyPattern ? count : 0);
    for (int s = 0; s < count; ++s)
        if (wantPattern[s]) patterns[s].setZero(static_cast<long>(c.nHeads) * n, nTok);
#pragma omp parallel for if (parallel)
    for (int job = 0; job < jobs; ++job) {
        const int s = job / c.nHeads, head = job % c.nHeads;
        Matrix p(n, nTok);
        scoresOf(s, head, p);
        if (wantPattern[s])
            patterns[s].middleRows(static_cast<long>(head) * n, n) = p;
        else
            contextOf(s, head, p);
    }
    for (int s = 0; s < count; ++s) {
        if (!wantPattern[s]) continue;
        applyHooks(*hooks[s], *states[s], HookSite::AttnPattern, layer, fromPos, patterns[s]);
        for (int head = 0; head < c.nHeads; ++head)
            contextOf(s, head, patterns[s].middleRows(static_cast<long>(head) * n, n));
    }
    project(layer, BlockLinear::O, context, out);
}

Vector softmax(const Eigen::Ref<const RowVector>& logits) {
    Eigen::VectorXd p = logits.transpose().cast<double>();
    p = (p.array() - p.maxCoeff()).exp();
    p /= p.sum();
    return p.cast<float>();
}

}  // namespace mwb
