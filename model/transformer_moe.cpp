// The MLP of a mixture-of-experts layer in the inference pass (docs/mixture-of-experts.md):
// the router, top-k routing per token, the chosen experts computed only on the tokens
// routed to them, and the optional shared expert (Qwen2-MoE).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "model/forward_support.h"
#include "model/moe_routing.h"
#include "model/ops.h"
#include "model/transformer.h"
#include "tensor/errors.h"

namespace mwb {

using detail::applyHooks;
using detail::hookWanted;

namespace {

// down(act(gate x) * up x) of the rows x: [m x dModel] -> [m x dModel]; `hidden` gets
// the expert's key act(gate x) * up x, [m x width], on which `hookKey` is called first.
template <typename HookKey, typename HookOut>
Matrix expertForward(const ModelConfig& c, const Expert& e, const Matrix& x, HookKey&& hookKey, HookOut&& hookOut) {
    const long width = e.up.outFeatures();
    Matrix hidden(x.rows(), width), gate(x.rows(), width);
    ops::linear<float>(x, e.up, hidden);
    ops::linear<float>(x, e.gate, gate);
    detail::activateRows(c.activation, hidden, &gate);
    hookKey(hidden);
    Matrix out(x.rows(), c.dModel);
    ops::linear<float>(hidden, e.down, out);
    hookOut(out);
    return out;
}

}  // namespace

// h: [nStates * n x dModel], the normed input of the MLP; the rows of state s are
// s*n ... (s+1)*n. Every row is routed and mixed on its own (the products of
// ops::linear do not depend on the other rows), so a row's result does not depend on
// the batch it is computed in.
Matrix Transformer::mixture(const std::vector<RunState*>& states, int layer, int fromPos, const Matrix& h,
                            const std::vector<const Hooks*>& hooks) const {
    const auto& c = config();
    const MoeWeights& moe = m_model.weights.blocks[layer].moe;
    const int rows = int(h.rows()), count = int(states.size()), n = rows / count;
    const int k = c.nExpertsPerToken, nExperts = c.nExperts;
    auto wants = [&](int s, HookSite site, int expert) {
        return hooks[s] && !hooks[s]->empty() && hookWanted(*hooks[s], site, layer, expert);
    };

    Matrix logits(rows, nExperts);
    ops::linear<float>(h, moe.router, logits);
    for (int s = 0; s < count; ++s)
        if (wants(s, HookSite::RouterLogits, -1))
            applyHooks(*hooks[s], *states[s], HookSite::RouterLogits, layer, fromPos, logits.middleRows(s * n, n));

    // Removed experts (WeightOverrides::removeExpert) are out of every token's choice and
    // softmax: exp(-inf) is 0, and at least k finite logits remain.
    if (m_overrides && m_overrides->removesExperts(layer))
        for (int e = 0; e < nExperts; ++e)
            if (m_overrides->expertRemoved(layer, e)) logits.col(e).setConstant(-std::numeric_limits<float>::infinity());

    // Which (row, slot) each expert serves, rows ascending.
    std::vector<std::vector<int>> served(static_cast<size_t>(nExperts));
    for (int s = 0; s < count; ++s) {
        LayerRouting& routing = states[s]->routing[layer];
        for (int i = 0; i < n; ++i) {
            const int r = s * n + i, pos = fromPos + i;
            routeToken(c, logits.row(r).data(), routing.experts.row(pos).data(), routing.weights.row(pos).data());
            for (int j = 0; j < k; ++j) served[size_t(routing.experts(pos, j))].push_back(r * k + j);
        }
    }

    // Hooks of an expert site see the rows of every position, those of tokens the
    // expert does not serve zero; `at` lists the served rows of h (all rows: null).
    auto expertHook = [&](HookSite site, int expert, Matrix& m, const std::vector<int>* at) {
        for (int s = 0; s < count; ++s) {
            if (!wants(s, site, expert)) continue;
            if (!at) {
                applyHooks(*hooks[s], *states[s], site, layer, fromPos, m.middleRows(s * n, n), expert);
                continue;
            }
            Matrix full = Matrix::Zero(n, m.cols());
            for (size_t i = 0; i < at->size(); ++i)
                if ((*at)[i] / n == s) full.row((*at)[i] - s * n) = m.row(Eigen::Index(i));
            applyHooks(*hooks[s], *states[s], site, layer, fromPos, full, expert);
            for (size_t i = 0; i < at->size(); ++i)
                if ((*at)[i] / n == s) m.row(Eigen::Index(i)) = full.row((*at)[i] - s * n);
        }
    };

    // Each expert on the rows routed to it; its weighted output lands in slot (row, j).
    Matrix slots(static_cast<long>(rows) * k, c.dModel);
    for (int e = 0; e < nExperts; ++e) {
        const std::vector<int>& rs = served[size_t(e)];
        if (rs.empty()) {
            // No token uses the expert: its hooks still see (zero) rows, so that a capture
            // of every expert finds each one.
            for (int s = 0; s < count; ++s)
                for (const auto& [site, width] : {std::pair{HookSite::ExpertIn, c.dExpert}, {HookSite::ExpertOut, c.dModel}})
                    if (wants(s, site, e)) {
                        Matrix zero = Matrix::Zero(n, width);
                        applyHooks(*hooks[s], *states[s], site, layer, fromPos, zero, e);
                    }
            continue;
        }
        std::vector<int> at(rs.size());
        Matrix x(long(rs.size()), c.dModel);
        for (size_t i = 0; i < rs.size(); ++i) {
            at[i] = rs[i] / k;
            x.row(Eigen::Index(i)) = h.row(at[i]);
        }
        const Matrix y = expertForward(
            c, moe.experts[size_t(e)], x, [&](Matrix& key) { expertHook(HookSite::ExpertIn, e, key, &at); },
            [&](Matrix& out) { expertHook(HookSite::ExpertOut, e, out, &at); });
        for (size_t i = 0; i < rs.size(); ++i) {
            const int r = at[i], j = rs[i] % k, s = r / n, pos = fromPos + r % n;
            slots.row(rs[i]) = states[s]->routing[layer].weights(pos, j) * y.row(Eigen::Index(i));
        }
    }
    // The mixture: each row sums its slots in order of weight.
    Matrix out = Matrix::Zero(rows, c.dModel);
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < k; ++j) out.row(r) += slots.row(static_cast<long>(r) * k + j);

    if (c.dSharedExpert > 0) {
        // Qwen2-MoE: every token also goes through the shared expert, scaled by
        // sigmoid(shared_gate x) (Qwen Team 2024, "Qwen1.5-MoE").
        const Matrix y = expertForward(
            c, moe.shared, h, [&](Matrix& key) { expertHook(HookSite::ExpertIn, nExperts, key, nullptr); },
            [&](Matrix& o) { expertHook(HookSite::ExpertOut, nExperts, o, nullptr); });
        Matrix gate(rows, 1);
        ops::linear<float>(h, moe.sharedGate, gate);
        for (int r = 0; r < rows; ++r) out.row(r) += (1.0f / (1.0f + std::exp(-gate(r, 0)))) * y.row(r);
    }
    return out;
}

}  // namespace mwb
