#include "analysis/superweights/massive_activations.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <queue>
#include <tuple>

namespace mwb {

double medianAbs(const Eigen::Ref<const Matrix>& values) {
    std::vector<float> a;
    a.reserve(values.size());
    for (Eigen::Index r = 0; r < values.rows(); ++r)
        for (Eigen::Index c = 0; c < values.cols(); ++c) a.push_back(std::abs(values(r, c)));
    if (a.empty()) return 0.0;
    const size_t mid = a.size() / 2;
    std::nth_element(a.begin(), a.begin() + mid, a.end());
    if (a.size() % 2) return a[mid];
    const float upper = a[mid];
    const float lower = *std::max_element(a.begin(), a.begin() + mid);
    return 0.5 * (double(lower) + double(upper));
}

bool MassiveActivationResult::isMassiveDim(int dim) const {
    return std::find(dims.begin(), dims.end(), dim) != dims.end();
}

MassiveActivationResult massiveActivationsOf(const Model& model, const RunState& state,
                                             const MassiveActivationParams& params) {
    MassiveActivationResult r;
    r.params = params;
    r.ids = state.tokens;
    for (int id : state.tokens) r.tokens.push_back(model.tokenizer.tokenDisplay(id));
    const int n = state.nTokens;
    std::map<int, int> dimCount;
    for (int layer = 0; layer < model.config.nLayers; ++layer) {
        const auto x = state.resid[layer + 1].topRows(n);
        LayerResidualStats stats;
        stats.layer = layer;
        stats.median = medianAbs(x);
        const double floor = std::max(params.minMagnitude, params.minRatio * stats.median);
        // Keep the topPerLayer largest |value| with a min-heap.
        using Entry = std::tuple<float, int, int>;
        std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
        for (int p = 0; p < n; ++p)
            for (int d = 0; d < x.cols(); ++d) {
                const float a = std::abs(x(p, d));
                const double ratio = stats.median > 0 ? a / stats.median : 0.0;
                if (a > floor) {
                    r.massive.push_back({layer, p, d, x(p, d), ratio});
                    ++dimCount[d];
                }
                if (params.topPerLayer <= 0) continue;
                if (static_cast<int>(heap.size()) < params.topPerLayer) {
                    heap.emplace(a, p, d);
                } else if (a > std::get<0>(heap.top())) {
                    heap.pop();
                    heap.emplace(a, p, d);
                }
            }
        while (!heap.empty()) {
            const auto [a, p, d] = heap.top();
            heap.pop();
            stats.top.push_back({layer, p, d, x(p, d), stats.median > 0 ? a / stats.median : 0.0});
        }
        std::reverse(stats.top.begin(), stats.top.end());
        r.layers.push_back(std::move(stats));
    }
    std::vector<std::pair<int, int>> dims(dimCount.begin(), dimCount.end());
    std::stable_sort(dims.begin(), dims.end(), [](auto a, auto b) { return a.second > b.second; });
    for (const auto& [d, count] : dims) r.dims.push_back(d);
    return r;
}

MassiveActivationResult findMassiveActivations(const Model& model, const std::vector<int>& ids,
                                               const MassiveActivationParams& params) {
    const Transformer t(model);
    return massiveActivationsOf(model, t.run(ids, {}, LogitsMode::None), params);
}

nlohmann::json toJson(const ResidualPeak& p) {
    return {{"layer", p.layer}, {"position", p.pos}, {"dim", p.dim}, {"value", p.value}, {"ratio_to_median", p.ratio}};
}

nlohmann::json toJson(const MassiveActivationResult& r) {
    nlohmann::json layers = nlohmann::json::array(), massive = nlohmann::json::array();
    for (const auto& l : r.layers) {
        nlohmann::json top = nlohmann::json::array();
        for (const auto& p : l.top) top.push_back(toJson(p));
        layers.push_back({{"layer", l.layer}, {"median", l.median}, {"top", top}});
    }
    for (const auto& p : r.massive) massive.push_back(toJson(p));
    return {{"tokens", r.tokens},
            {"ids", r.ids},
            {"params", {{"min_magnitude", r.params.minMagnitude}, {"min_ratio", r.params.minRatio}}},
            {"layers", layers},
            {"massive", massive},
            {"dims", r.dims}};
}

}  // namespace mwb
