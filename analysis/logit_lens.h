// The logit lens (nostalgebraist 2020): the residual stream after every block, read
// out through the final norm and the unembedding as if it were the last layer. Per
// layer and position the top tokens, and optionally one target token's probability
// per layer. At the last layer it is exactly the model's own output.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/next_token_metrics.h"
#include "model/model.h"

namespace mwb {

struct LogitLensResult {
    std::vector<int> ids;
    std::vector<std::string> tokens;
    int topK = 0;
    // top[layer][pos]: the topK most likely next tokens read from block `layer`'s
    // output (resid_post) at `pos`, most likely first.
    std::vector<std::vector<std::vector<TokenProb>>> top;
    int targetId = -1;   // -1: no target
    std::string target;  // display form
    std::vector<std::vector<double>> targetProb;  // [layer][pos]; empty without a target
};

// Throws InvalidInput on an empty or too long prompt, topK < 1, or a target id
// outside the vocabulary.
LogitLensResult logitLens(const Model& model, const std::vector<int>& ids, int topK = 5, int targetId = -1);

nlohmann::json toJson(const LogitLensResult& r);

}  // namespace mwb
