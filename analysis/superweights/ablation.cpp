#include "analysis/superweights/ablation.h"

#include <cmath>
#include <limits>
#include <set>

#include "analysis/superweights/model_variant.h"
#include "tensor/errors.h"

namespace mwb {

namespace {

PromptMeasurement measure(const RunState& s, const AblationInputs& in, const Tokenizer& tokenizer) {
    PromptMeasurement m;
    m.logProbs = logSoftmax(s.lastLogits());
    const VectorD probs = m.logProbs.array().exp();
    m.top = topTokens(probs, in.topK, tokenizer);
    m.stopWordMass = maskedMass(probs, in.stopWords);
    return m;
}

void validateInputs(const Model& model, const AblationInputs& in) {
    if (in.prompts.empty()) throw InvalidInput("an ablation needs at least one prompt");
    if (in.topK < 1) throw InvalidInput("top-k must be at least 1");
    if (in.generateTokens < 0) throw InvalidInput("the number of generated tokens must not be negative");
    const Transformer t(model);
    for (const auto& p : in.prompts) t.validateTokens(p);
}

// The (layer, row) channels whose output is restored: one per changed row.
std::vector<Channel> restoredChannels(const std::vector<WeightChange>& changes) {
    std::set<Channel> channels;
    for (const auto& c : changes) {
        if (c.row == WeightChange::kAll)
            throw InvalidInput("restoring the activation needs changes with a row; " + toString(c) +
                               " is a whole column");
        channels.insert({c.layer, c.row});
    }
    return {channels.begin(), channels.end()};
}

}  // namespace

std::vector<PromptMeasurement> measureOriginal(const ModelVariant& variant, const AblationInputs& inputs) {
    std::vector<PromptMeasurement> out;
    for (const auto& ids : inputs.prompts)
        out.push_back(measure(variant.runOriginal(ids), inputs, variant.model().tokenizer));
    return out;
}

std::vector<PromptMeasurement> measureVariant(const ModelVariant& variant, const AblationInputs& inputs) {
    std::vector<PromptMeasurement> out;
    for (const auto& ids : inputs.prompts)
        out.push_back(measure(variant.runVariant(ids), inputs, variant.model().tokenizer));
    return out;
}

AblationResult runAblation(const Model& model, const std::vector<WeightChange>& changes, const AblationInputs& inputs,
                           bool restoreActivation, const std::string& name, const ProgressFn& progress) {
    requireDenseModel(model.config, "weight ablation");
    if (changes.empty()) throw InvalidInput("an ablation needs at least one weight to change");
    validateInputs(model, inputs);
    std::vector<float> originalValues;
    for (const auto& c : changes) {
        validateChange(model.config, c);
        originalValues.push_back(c.isSingleWeight() ? model.weights.blocks[c.layer].down.weight(c.row, c.col)
                                                    : std::numeric_limits<float>::quiet_NaN());
    }
    ModelVariant variant(model, weightOverrides(model, changes),
                         restoreActivation ? restoredChannels(changes) : std::vector<Channel>{},
                         inputs.restoreMinRatio);
    AblationResult r = compareVariant(variant, inputs, name, progress);
    r.changes = changes;
    r.originalValues = std::move(originalValues);
    r.activationRestored = restoreActivation;
    return r;
}

AblationResult compareVariant(const ModelVariant& variant, const AblationInputs& inputs, const std::string& name,
                              const ProgressFn& progress) {
    validateInputs(variant.model(), inputs);
    AblationResult r;
    r.name = name;
    const long total = static_cast<long>(inputs.prompts.size()) + (inputs.corpus.empty() ? 0 : 1);
    const Tokenizer& tok = variant.model().tokenizer;
    for (size_t i = 0; i < inputs.prompts.size(); ++i) {
        report(progress, {static_cast<long>(i), total, name});
        const auto& ids = inputs.prompts[i];
        const PromptMeasurement a = measure(variant.runOriginal(ids), inputs, tok);
        const PromptMeasurement b = measure(variant.runVariant(ids), inputs, tok);
        PromptComparison p;
        p.ids = ids;
        p.prompt = tok.decode(ids);
        p.kl = klDivergence(a.logProbs, b.logProbs);
        p.topOriginal = a.top;
        p.topAblated = b.top;
        p.topOverlap = topOverlap(a.top, b.top);
        p.stopWordMassOriginal = a.stopWordMass;
        p.stopWordMassAblated = b.stopWordMass;
        if (inputs.generateTokens > 0) {
            p.generationOriginal = tok.decode(variant.greedyOriginal(ids, inputs.generateTokens));
            p.generationAblated = tok.decode(variant.greedyVariant(ids, inputs.generateTokens));
        }
        r.meanKl += p.kl;
        r.meanTopOverlap += p.topOverlap;
        r.meanStopWordMassOriginal += p.stopWordMassOriginal;
        r.meanStopWordMassAblated += p.stopWordMassAblated;
        r.prompts.push_back(std::move(p));
    }
    const double n = static_cast<double>(r.prompts.size());
    r.meanKl /= n;
    r.meanTopOverlap /= n;
    r.meanStopWordMassOriginal /= n;
    r.meanStopWordMassAblated /= n;
    if (!inputs.corpus.empty()) {
        report(progress, {total - 1, total, name});
        // Cancellation is checked per chunk.
        const ProgressFn perChunk = progress ? ProgressFn([&](const Progress&) {
            return progress({total - 1, total, name});
        }) : ProgressFn{};
        r.corpus = compareOnCorpus(variant, inputs.corpus, perChunk);
    }
    report(progress, {total, total, name});
    return r;
}

nlohmann::json toJson(const PromptComparison& p) {
    nlohmann::json j = {{"prompt", p.prompt},
                        {"ids", p.ids},
                        {"kl", p.kl},
                        {"top_overlap", p.topOverlap},
                        {"top_original", toJson(p.topOriginal)},
                        {"top_ablated", toJson(p.topAblated)},
                        {"stopword_mass_original", p.stopWordMassOriginal},
                        {"stopword_mass_ablated", p.stopWordMassAblated}};
    if (!p.generationOriginal.empty() || !p.generationAblated.empty()) {
        j["generation_original"] = p.generationOriginal;
        j["generation_ablated"] = p.generationAblated;
    }
    return j;
}

nlohmann::json toJson(const AblationResult& r) {
    nlohmann::json changes = nlohmann::json::array(), prompts = nlohmann::json::array();
    for (size_t i = 0; i < r.changes.size(); ++i) {
        nlohmann::json c = toJson(r.changes[i]);
        c["original_value"] = std::isnan(r.originalValues[i]) ? nlohmann::json(nullptr) : nlohmann::json(r.originalValues[i]);
        changes.push_back(c);
    }
    for (const auto& p : r.prompts) prompts.push_back(toJson(p));
    nlohmann::json removed = nlohmann::json::array();
    for (const auto& [layer, expert] : r.removedExperts) removed.push_back({{"layer", layer}, {"expert", expert}});
    nlohmann::json j = {{"name", r.name},
                        {"changes", changes},
                        {"removed_experts", removed},
                        {"activation_restored", r.activationRestored},
                        {"kl", r.meanKl},
                        {"top_overlap", r.meanTopOverlap},
                        {"stopword_mass_original", r.meanStopWordMassOriginal},
                        {"stopword_mass_ablated", r.meanStopWordMassAblated},
                        {"prompts", prompts}};
    // The first prompt's top tokens at the top level, for quick scripting.
    if (!r.prompts.empty()) {
        j["top_original"] = toJson(r.prompts[0].topOriginal);
        j["top_ablated"] = toJson(r.prompts[0].topAblated);
    }
    if (r.corpus) j["corpus"] = toJson(*r.corpus);
    return j;
}

}  // namespace mwb
