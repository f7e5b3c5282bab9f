// Super-expert profiling and removal (see super_experts.h).
#include "analysis/experts/super_experts.h"

#include <algorithm>
#include <cmath>

#include "model/transformer.h"
#include "tensor/errors.h"

namespace mwb {

std::vector<ExpertId> SuperExpertResult::superIds() const {
    std::vector<ExpertId> ids;
    for (const ExpertPeak& p : superExperts) ids.push_back({p.layer, p.expert});
    return ids;
}

std::vector<ExpertPeak> SuperExpertResult::byPeak() const {
    std::vector<ExpertPeak> sorted = experts;
    std::stable_sort(sorted.begin(), sorted.end(), [](const ExpertPeak& a, const ExpertPeak& b) { return a.peak > b.peak; });
    return sorted;
}

std::vector<ExpertId> SuperExpertResult::largestPeaks(int count) const {
    std::vector<ExpertId> ids;
    for (const ExpertPeak& p : byPeak())
        if (int(ids.size()) < count) ids.push_back({p.layer, p.expert});
    return ids;
}

namespace {

// The p-th percentile of `values` with linear interpolation between order statistics
// (numpy's default), as the paper computes it.
double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    const double at = p / 100.0 * double(values.size() - 1);
    const size_t lo = size_t(std::floor(at)), hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (at - double(lo)) * (values[hi] - values[lo]);
}

}  // namespace

SuperExpertResult findSuperExperts(const Model& model, const std::vector<std::vector<int>>& sequences,
                                   const SuperExpertParams& params, const ProgressFn& progress) {
    const ModelConfig& c = model.config;
    if (!c.moe()) throw InvalidInput("the model " + quote(c.name) + " has no experts, so it has no super experts");
    if (sequences.empty()) throw InvalidInput("the super-expert search needs calibration text");
    if (!(params.percentile >= 0 && params.percentile <= 100))
        throw InvalidInput("the percentile must be between 0 and 100");
    if (!(params.fractionOfMax >= 0 && params.fractionOfMax <= 1))
        throw InvalidInput("the fraction of the largest peak must be between 0 and 1");
    const Transformer transformer(model);
    for (const auto& ids : sequences) transformer.validateTokens(ids);

    SuperExpertResult r;
    r.params = params;
    std::vector<int> sparse;
    for (int l = 0; l < c.nLayers; ++l)
        if (c.moeLayer(l)) {
            sparse.push_back(l);
            for (int e = 0; e < c.nExperts; ++e) r.experts.push_back({.layer = l, .expert = e});
        }
    auto peakOf = [&](int layer, int expert) -> ExpertPeak& {
        const size_t i = size_t(std::lower_bound(sparse.begin(), sparse.end(), layer) - sparse.begin());
        return r.experts[i * size_t(c.nExperts) + size_t(expert)];
    };
    std::vector<char> forming(size_t(c.nLayers), 0);

    for (size_t s = 0; s < sequences.size(); ++s) {
        report(progress, {long(s), long(sequences.size()), "super experts"});
        const std::vector<int>& ids = sequences[s];
        Hooks hooks;
        hooks.wants = [](HookSite site, int) { return site == HookSite::ExpertOut; };
        // Rows of tokens not routed to the expert are zero; the shared expert (index
        // nExperts) is not routed and not a candidate.
        hooks.callback = [&](const HookPoint& at, Eigen::Ref<Matrix> rows) {
            if (at.site != HookSite::ExpertOut || at.expert < 0 || at.expert >= c.nExperts) return;
            ExpertPeak& p = peakOf(at.layer, at.expert);
            Eigen::Index row = 0, col = 0;
            const float m = rows.cwiseAbs().maxCoeff(&row, &col);
            if (m > p.peak) {
                p.peak = m;
                p.channel = int(col);
                p.sequence = int(s);
                p.pos = at.firstPos + int(row);
                p.token = model.tokenizer.tokenDisplay(ids[size_t(p.pos)]);
            }
        };
        const RunState state = transformer.run(ids, hooks, LogitsMode::None);
        r.tokens += state.nTokens;
        for (int l : sparse)
            for (int pos = 0; pos < state.nTokens; ++pos)
                for (int j = 0; j < c.nExpertsPerToken; ++j) ++peakOf(l, state.routing[size_t(l)].experts(pos, j)).tokensRouted;
        // Where massive activations form: massive at the layer's output, not at its input.
        const MassiveActivationResult massive = massiveActivationsOf(model, state, params.massive);
        for (const ResidualPeak& m : massive.massive) {
            const float before = state.resid[size_t(m.layer)](m.pos, m.dim);
            if (std::abs(before) < params.massive.minMagnitude) forming[size_t(m.layer)] = 1;
        }
    }
    report(progress, {long(sequences.size()), long(sequences.size()), "super experts"});

    for (int l = 0; l < c.nLayers; ++l)
        if (forming[size_t(l)]) r.formingLayers.push_back(l);
    std::vector<double> peaks;
    for (const ExpertPeak& p : r.experts) peaks.push_back(p.peak);
    r.percentileValue = percentile(peaks, params.percentile);
    r.largestPeak = *std::max_element(peaks.begin(), peaks.end());
    for (const ExpertPeak& p : r.experts)
        if (p.peak > r.percentileValue && p.peak > params.fractionOfMax * r.largestPeak && forming[size_t(p.layer)])
            r.superExperts.push_back(p);
    std::stable_sort(r.superExperts.begin(), r.superExperts.end(),
                     [](const ExpertPeak& a, const ExpertPeak& b) { return a.peak > b.peak; });
    return r;
}

SuperExpertRemoval compareSuperExpertRemoval(const Model& model, const std::vector<ExpertId>& experts,
                                             const AblationInputs& inputs, uint64_t seed, const std::string& name,
                                             const ProgressFn& progress) {
    SuperExpertRemoval out;
    out.removed = runExpertAblation(model, experts, inputs, name, progress);
    out.random = runExpertAblation(model, randomExperts(model.config, int(experts.size()), seed, experts), inputs,
                                   "as many random experts removed", progress);
    return out;
}

nlohmann::json toJson(const ExpertPeak& p) {
    return {{"layer", p.layer},       {"expert", p.expert},     {"peak", p.peak},
            {"channel", p.channel},   {"sequence", p.sequence}, {"position", p.pos},
            {"token", p.token},       {"tokens_routed", p.tokensRouted}};
}

nlohmann::json toJson(const SuperExpertResult& r) {
    nlohmann::json experts = nlohmann::json::array(), supers = nlohmann::json::array();
    for (const ExpertPeak& p : r.experts) experts.push_back(toJson(p));
    for (const ExpertPeak& p : r.superExperts) supers.push_back(toJson(p));
    return {{"params",
             {{"percentile", r.params.percentile},
              {"fraction_of_max", r.params.fractionOfMax},
              {"massive_min_magnitude", r.params.massive.minMagnitude},
              {"massive_min_ratio", r.params.massive.minRatio}}},
            {"tokens", r.tokens},
            {"percentile_value", r.percentileValue},
            {"largest_peak", r.largestPeak},
            {"forming_layers", r.formingLayers},
            {"super_experts", supers},
            {"experts", experts}};
}

}  // namespace mwb
