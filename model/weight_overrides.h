// Changed linear weights of a model's blocks, seen through a copy-on-write view: a
// changed weight is a copy held here and the model itself is never written, so the
// original and the changed model can run side by side, on any thread. The weight
// experiments of the super-weight paper (zeroing, scaling, quantising; Yu et al. 2024
// §3-4) are expressed this way; a Transformer built with overrides runs the changed
// model (transformer.h).
#pragma once

#include <map>
#include <utility>

#include "model/model.h"

namespace mwb {

enum class BlockLinear { Q, K, V, O, Up, Gate, Down };
constexpr int kBlockLinears = 7;

// The linear `which` of a block.
const Linear& linearOf(const BlockWeights& block, BlockLinear which);

class WeightOverrides {
public:
    // The weight (layer, which) to change: on first use a float32 copy of the model's
    // (a weight kept in float16 is decoded). Throws InvalidInput for a layer outside
    // the model, a gate in a model without one, or an MLP weight of a mixture-of-experts
    // layer (the experts' weights are not among the overridable ones).
    Linear& edit(const Model& model, int layer, BlockLinear which);
    // Replaces (layer, which) by `linear`, which must have the model's shapes.
    void set(const Model& model, int layer, BlockLinear which, Linear linear);

    // The override of (layer, which), or null.
    const Linear* find(int layer, BlockLinear which) const;
    bool empty() const { return m_linears.empty(); }

private:
    std::map<std::pair<int, BlockLinear>, Linear> m_linears;
};

}  // namespace mwb
