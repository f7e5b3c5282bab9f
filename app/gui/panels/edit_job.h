// The Edit tab's background work: one ROME or MEMIT edit applied to a copy of the
// model and recorded in its edit list, the undo of the last edit, and the before /
// after measurements (top next tokens, target probabilities on the rewrite,
// paraphrase and neighbourhood prompts).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "editing/edit_guard.h"
#include "metrics/next_token_metrics.h"
#include "editing/edit_run.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb::gui {

struct EditSettings {
    EditRequest request;
    EditMethod method = EditMethod::Rome;
    int layer = 0;        // ROME's layer; MEMIT's last layer
    int expert = -1;      // ROME in a sparse layer; -1: the subject's top expert
    int memitLayers = 3;  // MEMIT edits layers [layer - memitLayers + 1, layer]
    std::string corpusFile;  // text for the second-moment statistics (cached beside the model)
    long statsTokens = 100000;
    ValueParams value;         // the optimisation of v* (ROME) or of the targets z (MEMIT)
    double momentWeight = 0.0; // MEMIT's λ; <= 0: the d_ff-scaled default
    int memitPasses = 1;       // MEMIT's iterative editing (memit.h)
    bool nullSpace = false;    // MEMIT: AlphaEdit's projection, keeping the model's earlier edits too
    std::optional<KeyContext> keyContext;  // where k* is read; unset: the method's default
    std::string guardFile;   // held-out text for the perplexity guard (empty: weight change only)
    std::vector<std::string> paraphrases, neighbours;  // evaluation prompts
};

struct PromptProbs {
    std::string prompt;
    std::string kind;  // "rewrite", "paraphrase", "neighbourhood"
    // Per-token geometric-mean probability of each target (exp(-mean NLL)).
    double newBefore = 0.0, newAfter = 0.0, trueBefore = 0.0, trueAfter = 0.0;
    // The model's own next token before and after: what a neighbour that does not share
    // the true target (or any prompt) answered, and whether the edit changed it.
    TokenProb answerBefore, answerAfter;
    // A model with experts: the prompt's (sparse layer, token) places, and those whose
    // chosen experts the edit changed (editing/routing_change.h); -1 for a dense model.
    long routingPlaces = -1, routingChanged = -1;
};

struct EditMeasurement {
    std::vector<TokenProb> topBefore, topAfter;  // after the rewrite prompt
    std::vector<PromptProbs> prompts;
};

// The checked prompts' table, as the Edit figure's "Export JSON" writes it (NaN, a
// missing true target, as null).
nlohmann::json toJson(const std::vector<PromptProbs>& prompts);

struct EditOutcomeData {
    std::shared_ptr<const Model> edited;
    std::vector<int> layers;
    std::vector<int> experts;  // per layer, the edited expert (EditRecord::experts)
    EditGuard guard;  // weight change, perplexity change, and whether the edit looks destructive
    EditMeasurement measurement;
};

// Throws InvalidInput for a bad request or layer, Cancelled when progress says stop.
EditOutcomeData applyEditJob(std::shared_ptr<const Model> model, const EditSettings& settings,
                             const ProgressFn& progress);

// The model without its last edit (bit-for-bit); throws InvalidInput without edits.
std::shared_ptr<const Model> undoEditJob(std::shared_ptr<const Model> model);

// Top tokens and target probabilities on both models.
EditMeasurement measureEdit(const Model& before, const Model& after, const EditSettings& settings);

}  // namespace mwb::gui
