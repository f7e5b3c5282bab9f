// Option handling shared by the super-weight commands (superweights, ablate,
// quantize-eval): the default detection prompt, weight lists, stop words.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "analysis/superweights/ablation.h"
#include "analysis/superweights/weight_selection.h"
#include "model/model.h"

namespace mwb::cli {

// The prompt the super-weight paper detects with.
inline constexpr const char* kDefaultDetectionPrompt = "Apple Inc. is a worldwide tech company.";

// The ids of `prompt`; when it is empty, the default detection prompt cut to the
// model's context.
std::vector<int> detectionIds(const Model& model, const std::string& prompt);

// Every item may itself be a comma-separated list ("0:1:2,0:1:3"). `option` names the
// flag in errors; withFactor: every weight must carry "=factor", else none may.
std::vector<WeightChange> parseChanges(const std::vector<std::string>& items, const std::string& option,
                                       bool withFactor);

// --scale-sweep items "L:R:C=start:stop:step" (several weights are scaled together and
// must share one range): the weights and the factors.
std::pair<std::vector<WeightCoord>, std::vector<double>> parseScaleSweep(const std::vector<std::string>& items);

// "1,2,3" or "0.5,1,2" -> numbers; throws InvalidInput naming the option.
std::vector<double> parseNumbers(const std::string& text, const std::string& option);

// The stop-word mask of the model's vocabulary from `file` (default list when empty).
std::vector<char> stopWordsFor(const Model& model, const std::string& file);

// An ablation's comparison as text: what changed, per prompt KL, top tokens, stop-word
// mass and generations, then the means and the corpus perplexity.
void printAblation(const AblationResult& r, int topK);

// A token (already in display form) in double quotes.
std::string quoted(const std::string& token);

}  // namespace mwb::cli
