// Changed linear weights of a model's blocks, seen through a copy-on-write view: a
// changed weight is a copy held here and the model itself is never written, so the
// original and the changed model can run side by side, on any thread. The weight
// experiments of the super-weight paper (zeroing, scaling, quantising; Yu et al. 2024
// §3-4) are expressed this way; a Transformer built with overrides runs the changed
// model (transformer.h).
#pragma once

#include <map>
#include <set>
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
    bool empty() const { return m_linears.empty() && m_removedExperts.empty(); }

    // Removes expert `expert` of sparse layer `layer` from the routing: its router
    // logit counts as -infinity, so every token's top-k and softmax run over the other
    // experts (with renormalisation the chosen weights again sum to one). This is how
    // Su et al. (2025, "Unveiling Super Experts") prune an expert. Throws InvalidInput
    // for a dense layer, an expert outside the layer, or when fewer than
    // nExpertsPerToken experts of the layer would remain.
    void removeExpert(const Model& model, int layer, int expert);
    bool expertRemoved(int layer, int expert) const { return m_removedExperts.count({layer, expert}) > 0; }
    // Whether any expert of `layer` is removed.
    bool removesExperts(int layer) const;

private:
    std::map<std::pair<int, BlockLinear>, Linear> m_linears;
    std::set<std::pair<int, int>> m_removedExperts;  // (layer, expert)
};

}  // namespace mwb
