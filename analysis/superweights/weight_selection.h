// Naming mlp/down weights on the command line and in the GUI ("layer:row:col", whole
// rows "layer:row:*", whole columns "layer:*:col", with "=factor" to scale), and
// turning such a selection into weight overrides. Rows are output channels (dModel),
// columns input channels (dFf), as mlp/down is stored [out, in].
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/weight_overrides.h"
#include "model/model.h"

namespace mwb {

// One mlp/down weight.
struct WeightCoord {
    int layer = 0;
    int row = 0;
    int col = 0;
    bool operator==(const WeightCoord&) const = default;
};

// Multiply one weight, a whole row (col == kAll) or a whole column (row == kAll) of
// mlp/down in `layer` by `factor` (0 zeroes it).
struct WeightChange {
    static constexpr int kAll = -1;
    int layer = 0;
    int row = 0;
    int col = 0;
    float factor = 0.0f;

    bool isSingleWeight() const { return row != kAll && col != kAll; }
};

// "L:R:C", "L:R:*", "L:*:C", optionally followed by "=F" (else `defaultFactor`).
// Throws InvalidInput naming the text when it is malformed.
WeightChange parseWeightChange(const std::string& text, float defaultFactor = 0.0f);
std::string toString(const WeightChange& c);  // "L:R:C" or "L:R:C=F" when factor != 0

// Throws InvalidInput when the layer, row or column is outside the model.
void validateChange(const ModelConfig& config, const WeightChange& change);
void validateCoord(const ModelConfig& config, const WeightCoord& coord);

// The toggle that applies `changes` to model's weights (validated first).
WeightOverrides weightOverrides(const Model& model, const std::vector<WeightChange>& changes);

// The `count` largest-magnitude weights of the mlp/down matrices named by `changes`,
// excluding every weight the changes touch (the super-weight paper's control), as
// single-weight changes with `factor`. Largest first.
std::vector<WeightChange> largestOtherWeights(const Model& model, const std::vector<WeightChange>& changes,
                                              int count, float factor = 0.0f);

std::vector<WeightChange> zeroChanges(const std::vector<WeightCoord>& coords);

nlohmann::json toJson(const WeightChange& c);
nlohmann::json toJson(const WeightCoord& c);

}  // namespace mwb
