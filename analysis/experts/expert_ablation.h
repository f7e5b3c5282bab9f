// Removing experts from a mixture-of-experts model's routing and comparing the result
// with the original model (Su et al. 2025, "Unveiling Super Experts in Mixture-of-Experts
// Large Language Models", §4): the same measurements as the weight ablations of the
// super-weight paper (analysis/superweights/ablation.h) — KL of the next-token
// distributions, top-k overlap, stop-word mass, perplexity, greedy generations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/superweights/ablation.h"
#include "model/model.h"
#include "model/weight_overrides.h"
#include "tensor/progress.h"

namespace mwb {

struct ExpertId {
    int layer = 0;
    int expert = 0;
    auto operator<=>(const ExpertId&) const = default;
};

// "layer:expert"
std::string toString(const ExpertId& e);
// Experts written as "layer:expert", separated by commas and/or spaces ("0:3, 2:5").
// Throws InvalidInput quoting the first item that is not two non-negative integers.
std::vector<ExpertId> parseExpertList(const std::string& text);

// Overrides that take `experts` out of the routing (WeightOverrides::removeExpert).
// Throws InvalidInput for a model without experts, an empty list, an expert outside
// the model, or a layer left with fewer experts than each token is routed to.
WeightOverrides expertRemoval(const Model& model, const std::vector<ExpertId>& experts);

// The model without `experts` against the model. Throws as expertRemoval and as
// compareVariant (no prompt, a bad prompt).
AblationResult runExpertAblation(const Model& model, const std::vector<ExpertId>& experts,
                                 const AblationInputs& inputs, const std::string& name = "expert ablation",
                                 const ProgressFn& progress = {});

// `count` distinct experts drawn uniformly (seeded) from the sparse layers, none of
// `exclude` and never so many of one layer that fewer than nExpertsPerToken remain:
// the control of removing as many experts at random (Su et al. 2025, Table 3). Throws
// InvalidInput when the model has too few experts to draw from.
std::vector<ExpertId> randomExperts(const ModelConfig& c, int count, uint64_t seed,
                                    const std::vector<ExpertId>& exclude = {});

}  // namespace mwb
