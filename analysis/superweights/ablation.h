// Ablation of weights (Yu et al. 2024, sections 3.2-3.3): zero or scale any set of
// mlp/down weights and compare the changed model against the original on the same
// prompts — KL divergence of the next-token distributions, top-k overlap, the
// probability mass on stop words, perplexity on a text, greedy generations side by
// side. The model is changed only while the changed variant runs and is restored
// bit-for-bit afterwards.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/next_token_metrics.h"
#include "analysis/superweights/model_variant.h"
#include "metrics/perplexity.h"
#include "analysis/superweights/weight_selection.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

struct AblationInputs {
    std::vector<std::vector<int>> prompts;       // token ids, each validated by the model
    std::vector<std::vector<int>> corpus;        // corpusChunks(); empty: no perplexity
    std::vector<char> stopWords;                 // stopWordMask(); empty: stop-word mass 0
    int topK = 10;
    int generateTokens = 0;                      // greedy continuation length; 0: none
    // Restoring the super activation: positions where the original mlp/down output
    // exceeds this multiple of its layer's median |output| (0: every position).
    double restoreMinRatio = 100.0;
};

struct PromptComparison {
    std::vector<int> ids;
    std::string prompt;  // decoded
    double kl = 0.0;     // KL(original || ablated) of the next-token distribution
    int topOverlap = 0;  // tokens shared by the two top-k lists
    std::vector<TokenProb> topOriginal, topAblated;
    double stopWordMassOriginal = 0.0, stopWordMassAblated = 0.0;
    std::string generationOriginal, generationAblated;  // greedy continuations
};

struct AblationResult {
    std::string name;
    std::vector<WeightChange> changes;
    std::vector<float> originalValues;  // per single-weight change its original value, else NaN
    bool activationRestored = false;    // original super activation patched back at the changed rows
    std::vector<std::pair<int, int>> removedExperts;  // (layer, expert) taken out of the routing
    std::vector<PromptComparison> prompts;
    double meanKl = 0.0;
    double meanTopOverlap = 0.0;
    double meanStopWordMassOriginal = 0.0, meanStopWordMassAblated = 0.0;
    std::optional<CorpusComparison> corpus;
};

// Throws InvalidInput for a change outside the model, an empty list of changes, no
// prompt, a bad prompt, or restoreActivation with a whole-column change (it has no
// single row to restore).
AblationResult runAblation(const Model& model, const std::vector<WeightChange>& changes, const AblationInputs& inputs,
                           bool restoreActivation = false, const std::string& name = "ablation",
                           const ProgressFn& progress = {});

// The same comparison for any variant (e.g. a model with an estimated edit removed):
// `changes` stay empty. Throws InvalidInput for no prompt or a bad prompt.
AblationResult compareVariant(const ModelVariant& variant, const AblationInputs& inputs,
                              const std::string& name = "variant", const ProgressFn& progress = {});

// Next-token measurements of one model state on the prompts (used by sweeps so that
// the original is measured once).
struct PromptMeasurement {
    VectorD logProbs;
    std::vector<TokenProb> top;
    double stopWordMass = 0.0;
};
std::vector<PromptMeasurement> measureOriginal(const ModelVariant& variant, const AblationInputs& inputs);
std::vector<PromptMeasurement> measureVariant(const ModelVariant& variant, const AblationInputs& inputs);

nlohmann::json toJson(const PromptComparison& p);
nlohmann::json toJson(const AblationResult& r);

}  // namespace mwb
