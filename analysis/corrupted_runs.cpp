#include "analysis/corrupted_runs.h"

#include <algorithm>
#include <cmath>

namespace mwb {

Hooks withNoise(HookSite site, int layer, int firstPos, const Matrix& noise, Hooks hooks) {
    for (Eigen::Index i = 0; i < noise.rows(); ++i)
        hooks.patches.push_back({site, layer, firstPos + int(i), noise.row(i).transpose(), PatchMode::Add});
    return hooks;
}

std::vector<RunState> rerunCopies(const Transformer& transformer, const RunState& clean, int fromLayer,
                                  int fromPos, const std::vector<Hooks>& hooks) {
    std::vector<RunState> runs(hooks.size(), clean);
    std::vector<RunState*> ptrs;
    std::vector<const Hooks*> hookPtrs;
    for (size_t i = 0; i < hooks.size(); ++i) {
        ptrs.push_back(&runs[i]);
        hookPtrs.push_back(&hooks[i]);
    }
    transformer.rerunMany(ptrs, fromLayer, fromPos, hookPtrs);
    return runs;
}

double meanProbability(const std::vector<RunState*>& runs, int answerId) {
    double sum = 0.0;
    for (const RunState* r : runs) sum += softmax(r->lastLogits())[answerId];
    return sum / runs.size();
}

double meanProbability(const std::vector<RunState>& runs, int answerId) {
    double sum = 0.0;
    for (const RunState& r : runs) sum += softmax(r.lastLogits())[answerId];
    return sum / runs.size();
}

double meanProbability(const Eigen::Ref<const Matrix>& lastLogits, int answerId) {
    double sum = 0.0;
    for (Eigen::Index r = 0; r < lastLogits.rows(); ++r) sum += softmax(lastLogits.row(r))[answerId];
    return sum / double(lastLogits.rows());
}

double ActivationSpread::threeSigma() const {
    if (count < 2) return 0.0;
    const double var = (sumSq - sum * sum / count) / (count - 1);
    return 3.0 * std::sqrt(std::max(var, 0.0));
}

}  // namespace mwb
