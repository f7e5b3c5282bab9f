// Attention weights of every layer and head for a prompt, with the tokens that label
// the axes: the data behind a grid of heatmaps (or one head shown large).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"

namespace mwb {

struct AttentionMaps {
    std::vector<int> ids;
    std::vector<std::string> tokens;  // display form, one per position
    int nLayers = 0;
    int nHeads = 0;
    // weights[layer][head]: [nTokens (query) x nTokens (key)]; each row sums to 1 and
    // is zero above the diagonal (causal).
    std::vector<std::vector<Matrix>> weights;
};

// One forward pass. Throws InvalidInput on an empty or too long prompt.
AttentionMaps attentionMaps(const Model& model, const std::vector<int>& ids);

// {"ids", "tokens", "n_layers", "n_heads", "maps": [{"layer", "head", "weights": [[...]]}]}
// with every map, or only the given layer and/or head. Throws InvalidInput when the
// layer or head is out of range.
nlohmann::json toJson(const AttentionMaps& maps, std::optional<int> layer = {}, std::optional<int> head = {});

// Throws InvalidInput when layer / head (when given) are outside the maps.
void validateSelection(const AttentionMaps& maps, std::optional<int> layer, std::optional<int> head);

}  // namespace mwb
