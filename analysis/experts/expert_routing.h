// Which experts a mixture-of-experts model routes each token to (docs/mixture-of-experts.md):
// per sparse layer and position the chosen experts in order of weight and their mixing
// weights as they enter the layer's output (after any renormalisation).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "model/transformer.h"
#include "tensor/progress.h"

namespace mwb {

struct TokenRouting {
    std::vector<int> experts;    // nExpertsPerToken, largest weight first
    std::vector<float> weights;  // the same order
};

struct LayerRoutingResult {
    int layer = 0;
    std::vector<TokenRouting> tokens;  // one per position
};

struct ExpertRoutingResult {
    std::vector<int> ids;
    std::vector<std::string> tokens;        // display form of each id
    std::vector<LayerRoutingResult> layers;  // the sparse layers, in order
};

// Runs the model on `ids`. Throws InvalidInput for a model without experts and for
// ids the model cannot run (transformer.h, validateTokens).
ExpertRoutingResult expertRouting(const Model& model, const std::vector<int>& ids);

// The routing a run recorded (RunState::routing), for callers that already ran.
std::vector<LayerRoutingResult> routingOf(const ModelConfig& c, const RunState& state);

// {"ids": [...], "layers": [{"layer": l, "tokens": [{"experts": [...], "weights": [...]}]}]}
nlohmann::json toJson(const ExpertRoutingResult& r);

// How much each expert is used (Fedus et al. 2022's load): per sparse layer the share
// of the (token, choice) pairs routed to each expert and its mean mixing weight where
// chosen. Even routing gives every expert 1 / nExperts.
struct ExpertLoad {
    std::vector<int> layers;                   // the sparse layers
    int nExperts = 0;
    long tokens = 0;
    std::vector<std::vector<double>> share;    // [layer index][expert]
    std::vector<std::vector<double>> meanWeight;  // [layer index][expert]; 0 where never chosen
};

// The load over `sequences` (each validated; InvalidInput for a model without experts
// or no sequences). Progress per sequence; cancellable.
ExpertLoad expertLoad(const Model& model, const std::vector<std::vector<int>>& sequences,
                      const ProgressFn& progress = {});
// The load of one routing result (e.g. of a prompt).
ExpertLoad loadOf(const ModelConfig& c, const std::vector<LayerRoutingResult>& layers);

// {"tokens": n, "layers": [{"layer": l, "share": [...], "mean_weight": [...]}]}
nlohmann::json toJson(const ExpertLoad& load);

}  // namespace mwb
