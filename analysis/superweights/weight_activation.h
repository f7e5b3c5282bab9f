// The activations a chosen mlp/down weight W[row, col] meets on a prompt: its input
// channel (col of the mlp/down input) and its output channel (row of the output), at
// the token where the input is largest. What the detection reports for the weights it
// finds, for any weight typed in, so that both kinds can be compared side by side.
#pragma once

#include <vector>

#include "analysis/superweights/weight_selection.h"
#include "model/model.h"

namespace mwb {

struct WeightActivation {
    WeightCoord coord;
    // Signed values; NaN for a whole row's input (col == kAll) or a whole column's
    // output (row == kAll), which have no single channel.
    float input = 0.0f;   // mlp/down input at (pos, col)
    float output = 0.0f;  // mlp/down output at (pos, row)
    int pos = 0;          // the token with the largest |input| (largest |output| for a whole row)
};

// One forward pass over `ids` for all of `coords`. Throws InvalidInput for a coordinate
// outside the model or an empty or too long prompt.
std::vector<WeightActivation> weightActivations(const Model& model, const std::vector<int>& ids,
                                                const std::vector<WeightCoord>& coords);

}  // namespace mwb
