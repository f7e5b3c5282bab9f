// The guard every edit gets (issue: "disabling" edits, Gupta et al. 2024): how far
// the weights moved, ||ΔW|| / ||W||, and how much the perplexity of unrelated text
// changed. An edit that wrecks the model shows up in both.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "model/model.h"

namespace mwb {

struct EditGuard {
    double weightChange = 0.0;  // ||ΔW|| / ||W|| summed over the edited layers
    double perplexityBefore = 0.0, perplexityAfter = 0.0;  // 0: no sample text
    bool destructive = false;
    std::string warning;  // one sentence when destructive
};

// Perplexity of the model on the first maxTokens tokens of `sample` (0 for an empty sample).
double samplePerplexity(const Model& model, const std::string& sample, long maxTokens = 4000);

// Destructive: perplexity up by more than 10%, or an update larger than the matrix it
// changes (||ΔW|| > ||W||). Ordinary ROME edits of the demo model's first layer move
// it by about half its norm without changing perplexity; the disabling edits r-ROME
// describes are far larger and wreck perplexity.
EditGuard judgeEdit(double weightChange, double perplexityBefore, double perplexityAfter);

nlohmann::json toJson(const EditGuard& g);

}  // namespace mwb
