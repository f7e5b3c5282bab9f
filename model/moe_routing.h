// Top-k routing of one token in a mixture-of-experts layer (docs/mixture-of-experts.md).
#pragma once

#include "model/config.h"

namespace mwb {

// The experts of one token from its router logits (nExperts values): the k =
// c.nExpertsPerToken largest logits, in descending order, equal logits taken lower
// expert index first; weights[j] the softmax probability of experts[j] over all
// experts (computed in double), divided by the sum over the chosen ones when
// c.normTopK (Mixtral always; OLMoE, Qwen-MoE when norm_topk_prob). `experts` and
// `weights` hold k values each.
void routeToken(const ModelConfig& c, const float* logits, int* experts, float* weights);

}  // namespace mwb
