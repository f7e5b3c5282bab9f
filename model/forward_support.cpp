// Hooks applied to the rows of a run, and activations of rows (see forward_support.h).
#include "model/forward_support.h"

#include <omp.h>

#include <algorithm>
#include <string>

#include "model/backprop_kernels.h"
#include "tensor/errors.h"

namespace mwb::detail {

// act(x) (or, with a gate, act(gate) * x) of every row of x, rows over the threads.
// Vectorised (bp::activate) in an aligned copy of each row, so that a row's values do
// not depend on where it lies in the matrix (see ops::softcap).
void activateRows(Activation a, Matrix& x, const Matrix* gate) {
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && x.size() >= (1 << 16))
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
        thread_local Eigen::Array<float, 1, Eigen::Dynamic> v;
        if (gate) v = gate->row(r).array();
        else v = x.row(r).array();
        bp::activate(a, v.data(), v.data(), v.size());
        if (gate) x.row(r).array() *= v;
        else x.row(r).array() = v;
    }
}

bool hookWanted(const Hooks& hooks, HookSite site, int layer, int expert) {
    for (const auto& c : hooks.captures)
        if (c.site == site && c.layer == layer && (!isExpertSite(site) || c.expert == expert)) return true;
    for (const auto& p : hooks.patches)
        if (p.site == site && p.layer == layer && (!isExpertSite(site) || p.expert == expert)) return true;
    return hooks.callback && (!hooks.wants || hooks.wants(site, layer));
}

void applyHooks(const Hooks& hooks, RunState& state, HookSite site, int layer, int fromPos,
                Eigen::Ref<Matrix> rows, int expert) {
    const bool perExpert = isExpertSite(site);
    for (const auto& p : hooks.patches) {
        if (p.site != site || p.layer != layer || (perExpert && p.expert != expert)) continue;
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
        hooks.callback(HookPoint{site, layer, fromPos, perExpert ? expert : -1}, rows);
    for (const auto& c : hooks.captures) {
        if (c.site != site || c.layer != layer || (perExpert && c.expert != expert)) continue;
        Matrix& dst = perExpert ? state.capturedExperts[{site, layer, expert}] : state.captured[{site, layer}];
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

}  // namespace mwb::detail
