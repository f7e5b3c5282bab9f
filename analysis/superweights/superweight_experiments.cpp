#include "analysis/superweights/superweight_experiments.h"

#include <cmath>

#include <string>

#include "analysis/superweights/model_variant.h"
#include "tensor/errors.h"

namespace mwb {

namespace {

// Progress of step `step` of `steps`, in thousandths of the whole.
ProgressFn subProgress(const ProgressFn& progress, long step, long steps, std::string_view stage) {
    if (!progress) return {};
    return [=](const Progress& p) {
        const long within = p.total > 0 ? 1000 * p.done / p.total : 0;
        return progress({1000 * step + within, 1000 * steps, stage});
    };
}

}  // namespace

std::vector<double> scaleFactorRange(double start, double stop, double step) {
    if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step) || step <= 0.0 || start > stop)
        throw InvalidInput("a scale range needs start <= stop and a positive step (for example 0:3:0.25)");
    const double count = std::floor((stop - start) / step + 1e-9) + 1.0;
    if (count > 1000) throw InvalidInput("a scale range of more than 1,000 factors is too long");
    std::vector<double> out;
    for (int i = 0; i < int(count); ++i) out.push_back(start + i * step);
    return out;
}

std::vector<double> defaultScaleFactors() {
    std::vector<double> f;
    for (int i = 0; i <= 12; ++i) f.push_back(0.25 * i);
    return f;
}

SuperWeightExperiments runSuperWeightExperiments(const Model& model, const std::vector<WeightCoord>& superWeights,
                                                 const AblationInputs& inputs, int controlCount,
                                                 const ProgressFn& progress) {
    requireDenseModel(model.config, "the super-weight experiments");
    if (superWeights.empty()) throw InvalidInput("the experiments need at least one super weight");
    if (controlCount < 0) throw InvalidInput("the control's number of weights must not be negative");
    const std::vector<WeightChange> zero = zeroChanges(superWeights);
    const long steps = controlCount > 0 ? 3 : 2;
    SuperWeightExperiments e;
    e.superWeights = superWeights;
    e.zeroed = runAblation(model, zero, inputs, false, "zero super weights", subProgress(progress, 0, steps, "zero"));
    e.zeroedRestored = runAblation(model, zero, inputs, true, "zero super weights, restore super activation",
                                   subProgress(progress, 1, steps, "restore"));
    if (controlCount > 0)
        e.control = runAblation(model, largestOtherWeights(model, zero, controlCount), inputs, false,
                                "zero the " + std::to_string(controlCount) + " largest other weights",
                                subProgress(progress, 2, steps, "control"));
    report(progress, {1000 * steps, 1000 * steps, "experiments"});
    return e;
}

ScaleSweep runScaleSweep(const Model& model, const std::vector<WeightCoord>& weights, const std::vector<double>& factors,
                         const AblationInputs& inputs, const ProgressFn& progress) {
    requireDenseModel(model.config, "the super-weight scale sweep");
    if (weights.empty()) throw InvalidInput("the scale sweep needs at least one weight");
    if (factors.empty()) throw InvalidInput("the scale sweep needs at least one factor");
    if (inputs.prompts.empty()) throw InvalidInput("the scale sweep needs at least one prompt");
    for (const auto& w : weights) validateCoord(model.config, w);
    ScaleSweep sweep;
    sweep.weights = weights;
    const long total = static_cast<long>(factors.size()) + 1;
    report(progress, {0, total, "scale sweep"});
    const ModelVariant original(model, WeightOverrides{});
    const auto base = measureOriginal(original, inputs);
    for (const auto& m : base) sweep.stopWordMassOriginal += m.stopWordMass / base.size();
    // Cancellation is checked per corpus chunk, progress shown per factor.
    auto step = [&](long i) -> ProgressFn {
        if (!progress) return {};
        return [&progress, i, total](const Progress&) { return progress({i, total, "scale sweep"}); };
    };
    if (!inputs.corpus.empty()) sweep.perplexityOriginal = corpusPerplexity(model, inputs.corpus, step(0)).perplexity;
    for (size_t i = 0; i < factors.size(); ++i) {
        report(progress, {static_cast<long>(i) + 1, total, "scale sweep"});
        std::vector<WeightChange> changes;
        for (const auto& w : weights) changes.push_back({w.layer, w.row, w.col, static_cast<float>(factors[i])});
        ModelVariant variant(model, weightOverrides(model, changes));
        const auto measured = measureVariant(variant, inputs);
        ScalePoint p;
        p.factor = factors[i];
        for (size_t k = 0; k < measured.size(); ++k) {
            p.stopWordMass += measured[k].stopWordMass / measured.size();
            p.meanKl += klDivergence(base[k].logProbs, measured[k].logProbs) / measured.size();
        }
        p.top = measured.front().top;
        if (!inputs.corpus.empty())
            p.perplexity = variantPerplexity(variant, inputs.corpus, step(static_cast<long>(i) + 1)).perplexity;
        sweep.points.push_back(std::move(p));
    }
    report(progress, {total, total, "scale sweep"});
    return sweep;
}

nlohmann::json toJson(const SuperWeightExperiments& e) {
    nlohmann::json sws = nlohmann::json::array();
    for (const auto& w : e.superWeights) sws.push_back(toJson(w));
    nlohmann::json j = {{"super_weights", sws}, {"zeroed", toJson(e.zeroed)}, {"zeroed_restored", toJson(e.zeroedRestored)}};
    if (e.control) j["control"] = toJson(*e.control);
    return j;
}

nlohmann::json toJson(const ScaleSweep& s) {
    nlohmann::json weights = nlohmann::json::array(), points = nlohmann::json::array();
    for (const auto& w : s.weights) weights.push_back(toJson(w));
    for (const auto& p : s.points) {
        nlohmann::json j = {{"factor", p.factor}, {"stopword_mass", p.stopWordMass}, {"kl", p.meanKl},
                            {"top", toJson(p.top)}};
        j["perplexity"] = p.perplexity ? nlohmann::json(*p.perplexity) : nlohmann::json(nullptr);
        points.push_back(j);
    }
    return {{"weights", weights},
            {"perplexity_original",
             s.perplexityOriginal ? nlohmann::json(*s.perplexityOriginal) : nlohmann::json(nullptr)},
            {"stopword_mass_original", s.stopWordMassOriginal},
            {"points", points}};
}

}  // namespace mwb
