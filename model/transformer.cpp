#include "model/transformer.h"

#include <omp.h>

#include <cmath>
#include <limits>

#include "model/errors.h"
#include "model/ops.h"

namespace mwb {

namespace {

bool hookWanted(const Hooks& hooks, HookSite site, int layer) {
    for (const auto& c : hooks.captures)
        if (c.site == site && c.layer == layer) return true;
    for (const auto& p : hooks.patches)
        if (p.site == site && p.layer == layer) return true;
    return hooks.callback && (!hooks.wants || hooks.wants(site, layer));
}

// Patches, then the callback, then captures: a capture sees the patched value.
void applyHooks(const Hooks& hooks, RunState& state, HookSite site, int layer, int fromPos,
                Eigen::Ref<Matrix> rows) {
    for (const auto& p : hooks.patches) {
        if (p.site != site || p.layer != layer) continue;
        const int r = p.pos - fromPos;
        if (r < 0 || r >= rows.rows())
            throw InvalidInput("patch of " + toString(site) + " at layer " + std::to_string(layer) +
                               ", position " + std::to_string(p.pos) +
                               " lies outside the positions being computed");
        if (p.value.size() != rows.cols())
            throw InvalidInput("patch of " + toString(site) + " has " +
                               std::to_string(p.value.size()) + " values, expected " +
                               std::to_string(rows.cols()));
        if (p.mode == PatchMode::Replace)
            rows.row(r) = p.value.transpose();
        else
            rows.row(r) += p.value.transpose();
    }
    if (hooks.callback && (!hooks.wants || hooks.wants(site, layer)))
        hooks.callback(HookPoint{site, layer, fromPos}, rows);
    for (const auto& c : hooks.captures) {
        if (c.site != site || c.layer != layer) continue;
        Matrix& dst = state.captured[{site, layer}];
        if (site == HookSite::AttnPattern) {
            // [nHeads * nRows, nTokens] -> stored [nHeads * nTokens, nTokens]
            const int n = state.nTokens;
            const int nRows = n - fromPos;
            const int nHeads = static_cast<int>(rows.rows()) / std::max(nRows, 1);
            if (dst.rows() != nHeads * n || dst.cols() != n) {
                Matrix grown = Matrix::Zero(nHeads * n, n);
                const int oldN = dst.cols();
                if (oldN > 0 && oldN <= n && dst.rows() == nHeads * oldN)
                    for (int h = 0; h < nHeads; ++h)
                        grown.block(h * n, 0, oldN, oldN) = dst.block(h * oldN, 0, oldN, oldN);
                dst = std::move(grown);
            }
            for (int h = 0; h < nHeads; ++h)
                dst.block(h * n + fromPos, 0, nRows, n) = rows.middleRows(h * nRows, nRows);
        } else {
            if (dst.cols() != rows.cols() || dst.rows() < state.nTokens) {
                Matrix grown = Matrix::Zero(state.nTokens, rows.cols());
                if (dst.cols() == rows.cols()) {
                    const auto keep = std::min<Eigen::Index>(dst.rows(), state.nTokens);
                    grown.topRows(keep) = dst.topRows(keep);
                }
                dst = std::move(grown);
            } else if (dst.rows() > state.nTokens) {
                dst.conservativeResize(state.nTokens, Eigen::NoChange);
            }
            dst.middleRows(fromPos, rows.rows()) = rows;
        }
    }
}

}  // namespace

Transformer::Transformer(const Model& model) : m_model(model) {
    if (auto problem = configProblem(model.config); !problem.empty()) throw InvalidInput(problem);
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
    Matrix x(tokens.size(), config().dModel);
    for (size_t i = 0; i < tokens.size(); ++i) {
        x.row(i) = w.tokenEmbedding.row(tokens[i]);
        if (!config().isLlama()) x.row(i) += w.positionEmbedding.row(firstPos + i);
    }
    return x;
}

Matrix Transformer::unembed(const Eigen::Ref<const Matrix>& x) const {
    Matrix h(x.rows(), x.cols());
    ops::norm<float>(x, m_model.weights.finalNorm, config().isLlama(), config().normEps, h);
    Matrix logits(x.rows(), config().vocabSize);
    logits.noalias() = h * m_model.weights.unembedding().transpose();
    return logits;
}

void Transformer::ensureCapacity(RunState& state, int nTokens) const {
    const auto& c = config();
    const int kvDim = c.nKvHeads * c.dHead();
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
    for (auto& r : state.resid) grow(r, c.dModel);
    for (int l = 0; l < c.nLayers; ++l) {
        grow(state.keys[l], kvDim);
        grow(state.values[l], kvDim);
    }
}

RunState Transformer::run(const std::vector<int>& tokens, const Hooks& hooks, LogitsMode logits) const {
    validateTokens(tokens);
    RunState state;
    state.tokens = tokens;
    ensureCapacity(state, static_cast<int>(tokens.size()));
    state.nTokens = static_cast<int>(tokens.size());
    state.resid[0].topRows(state.nTokens) = embed(tokens);
    runBlocks(state, 0, 0, hooks, logits);
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
    runBlocks(state, 0, from, hooks, logits);
}

void Transformer::rerun(RunState& state, int fromLayer, int fromPos, const Hooks& hooks,
                        LogitsMode logits) const {
    if (fromLayer < 0 || fromLayer > config().nLayers || fromPos < 0 || fromPos >= state.nTokens)
        throw InvalidInput("rerun from layer " + std::to_string(fromLayer) + ", position " +
                           std::to_string(fromPos) + " is outside the cached run");
    runBlocks(state, fromLayer, fromPos, hooks, logits);
}

std::vector<RunState> Transformer::runBatch(const std::vector<std::vector<int>>& prompts,
                                            const Hooks& hooks, LogitsMode logits) const {
    for (const auto& p : prompts) validateTokens(p);
    std::vector<RunState> out(prompts.size());
    // Hook callbacks may not be thread-safe; only parallelise plain runs.
    const bool parallel = !hooks.callback && prompts.size() > 1;
#pragma omp parallel for schedule(dynamic) if (parallel)
    for (size_t i = 0; i < prompts.size(); ++i) out[i] = run(prompts[i], hooks, logits);
    return out;
}

void Transformer::runBlocks(RunState& state, int fromLayer, int fromPos, const Hooks& hooks,
                            LogitsMode logits) const {
    const auto& c = config();
    const int n = state.nTokens - fromPos;
    Matrix x = state.resid[fromLayer].middleRows(fromPos, n);
    for (int layer = fromLayer; layer < c.nLayers; ++layer) {
        block(state, layer, fromPos, x, hooks);
        state.resid[layer + 1].middleRows(fromPos, n) = x;
    }
    switch (logits) {
        case LogitsMode::None: state.logits.resize(0, 0); break;
        case LogitsMode::Last:
            state.logits = unembed(x.bottomRows(1));
            state.logitsFirstPos = state.nTokens - 1;
            break;
        case LogitsMode::All:
            state.logits = unembed(x);
            state.logitsFirstPos = fromPos;
            break;
    }
}

// One pre-norm block: x += attn(norm1(x)); x += mlp(norm2(x)).  x: [n x dModel]
void Transformer::block(RunState& state, int layer, int fromPos, Matrix& x, const Hooks& hooks) const {
    const auto& c = config();
    const auto& b = m_model.weights.blocks[layer];
    const bool llama = c.isLlama();
    const int n = static_cast<int>(x.rows());
    const bool anyHooks = !hooks.empty();

    if (anyHooks && hookWanted(hooks, HookSite::ResidPre, layer)) {
        applyHooks(hooks, state, HookSite::ResidPre, layer, fromPos, x);
        state.resid[layer].middleRows(fromPos, n) = x;
    }

    Matrix h(n, c.dModel);
    ops::norm<float>(x, b.norm1, llama, c.normEps, h);
    Matrix attnOut(n, c.dModel);
    attention(state, layer, fromPos, h, attnOut, hooks);
    if (anyHooks && hookWanted(hooks, HookSite::AttnOut, layer))
        applyHooks(hooks, state, HookSite::AttnOut, layer, fromPos, attnOut);
    x += attnOut;

    ops::norm<float>(x, b.norm2, llama, c.normEps, h);
    Matrix hidden(n, c.dFf);
    ops::linear<float>(h, b.up, hidden);
    if (llama) {
        // SwiGLU: silu(gate x) * up x
        Matrix gate(n, c.dFf);
        ops::linear<float>(h, b.gate, gate);
        hidden.array() *= gate.unaryExpr([&](float v) { return ops::activate(c.activation, v); }).array();
    } else {
        hidden = hidden.unaryExpr([&](float v) { return ops::activate(c.activation, v); });
    }
    if (anyHooks && hookWanted(hooks, HookSite::MlpIn, layer))
        applyHooks(hooks, state, HookSite::MlpIn, layer, fromPos, hidden);
    Matrix mlpOut(n, c.dModel);
    ops::linear<float>(hidden, b.down, mlpOut);
    if (anyHooks && hookWanted(hooks, HookSite::MlpOut, layer))
        applyHooks(hooks, state, HookSite::MlpOut, layer, fromPos, mlpOut);
    x += mlpOut;
    if (anyHooks && hookWanted(hooks, HookSite::ResidPost, layer))
        applyHooks(hooks, state, HookSite::ResidPost, layer, fromPos, x);
}

// Causal multi-head (grouped-query) attention of rows [fromPos, nTokens) over all
// cached keys. h: [n x dModel] normed input, out: [n x dModel].
void Transformer::attention(RunState& state, int layer, int fromPos, const Matrix& h, Matrix& out,
                            const Hooks& hooks) const {
    const auto& c = config();
    const auto& b = m_model.weights.blocks[layer];
    const int n = static_cast<int>(h.rows());
    const int nTok = state.nTokens;
    const int dHead = c.dHead();
    const int groups = c.nHeads / c.nKvHeads;
    const int kvDim = c.nKvHeads * dHead;

    Matrix q(n, c.nHeads * dHead);
    ops::linear<float>(h, b.q, q);
    auto k = state.keys[layer].middleRows(fromPos, n);
    auto v = state.values[layer].middleRows(fromPos, n);
    {
        Matrix kNew(n, kvDim), vNew(n, kvDim);
        ops::linear<float>(h, b.k, kNew);
        ops::linear<float>(h, b.v, vNew);
        if (c.isLlama()) {
            ops::rope<float>(q, c.nHeads, dHead, fromPos, c.ropeTheta);
            ops::rope<float>(kNew, c.nKvHeads, dHead, fromPos, c.ropeTheta);
        }
        k = kNew;
        v = vNew;
    }
    const auto keys = state.keys[layer].topRows(nTok);
    const auto values = state.values[layer].topRows(nTok);

    const bool wantPattern = !hooks.empty() && hookWanted(hooks, HookSite::AttnPattern, layer);
    Matrix pattern;
    if (wantPattern) pattern.setZero(static_cast<long>(c.nHeads) * n, nTok);
    Matrix context(n, c.nHeads * dHead);
    const float scale = 1.0f / std::sqrt(static_cast<float>(dHead));

    auto scoresOf = [&](int head, Matrix& s) {
        const int kvHead = head / groups;
        s.noalias() = q.middleCols(head * dHead, dHead) *
                      keys.middleCols(kvHead * dHead, dHead).transpose();
        s *= scale;
        for (int i = 0; i < n; ++i) {
            const int visible = fromPos + i + 1;  // causal: keys 0..fromPos+i
            auto row = s.row(i).head(visible);
            ops::softmaxInPlace(row);
            if (visible < nTok) s.row(i).tail(nTok - visible).setZero();
        }
    };
    auto contextOf = [&](int head, const Matrix& s) {
        const int kvHead = head / groups;
        context.middleCols(head * dHead, dHead).noalias() =
            s * values.middleCols(kvHead * dHead, dHead);
    };

    const bool parallel = !omp_in_parallel() && c.nHeads > 1 && static_cast<long>(n) * nTok >= 4096;
    if (!wantPattern) {
#pragma omp parallel for if (parallel)
        for (int head = 0; head < c.nHeads; ++head) {
            Matrix s(n, nTok);
            scoresOf(head, s);
            contextOf(head, s);
        }
    } else {
#pragma omp parallel for if (parallel)
        for (int head = 0; head < c.nHeads; ++head) {
            Matrix s(n, nTok);
            scoresOf(head, s);
            pattern.middleRows(static_cast<long>(head) * n, n) = s;
        }
        applyHooks(hooks, state, HookSite::AttnPattern, layer, fromPos, pattern);
        for (int head = 0; head < c.nHeads; ++head) {
            Matrix s = pattern.middleRows(static_cast<long>(head) * n, n);
            contextOf(head, s);
        }
    }
    ops::linear<float>(context, b.o, out);
}

Vector softmax(const Eigen::Ref<const RowVector>& logits) {
    Eigen::VectorXd p = logits.transpose().cast<double>();
    p = (p.array() - p.maxCoeff()).exp();
    p /= p.sum();
    return p.cast<float>();
}

}  // namespace mwb
