#include "model/weight_overrides.h"

#include <string>

#include "tensor/errors.h"

namespace mwb {

const Linear& linearOf(const BlockWeights& b, BlockLinear which) {
    switch (which) {
        case BlockLinear::Q: return b.q;
        case BlockLinear::K: return b.k;
        case BlockLinear::V: return b.v;
        case BlockLinear::O: return b.o;
        case BlockLinear::Up: return b.up;
        case BlockLinear::Gate: return b.gate;
        case BlockLinear::Down: return b.down;
    }
    throw Error("unknown block linear");
}

namespace {

const Linear& original(const Model& model, int layer, BlockLinear which) {
    if (layer < 0 || layer >= model.config.nLayers)
        throw InvalidInput("layer " + std::to_string(layer) + " is outside the model's " +
                           std::to_string(model.config.nLayers) + " layers");
    if (which == BlockLinear::Gate && !model.config.gatedMlp())
        throw InvalidInput("this model's MLP has no gate weight to change");
    const bool mlp = which == BlockLinear::Up || which == BlockLinear::Gate || which == BlockLinear::Down;
    if (mlp && model.config.moeLayer(layer))
        throw InvalidInput("layer " + std::to_string(layer) +
                           " is a mixture of experts: its MLP weights are the experts', which cannot be overridden yet");
    return linearOf(model.weights.blocks[layer], which);
}

}  // namespace

Linear& WeightOverrides::edit(const Model& model, int layer, BlockLinear which) {
    const Linear& from = original(model, layer, which);
    auto [it, added] = m_linears.try_emplace({layer, which});
    if (added) {
        it->second.bias = from.bias;
        it->second.weight = from.isHalf() ? from.weightHalf.toFloat() : from.weight;
    }
    return it->second;
}

void WeightOverrides::set(const Model& model, int layer, BlockLinear which, Linear linear) {
    const Linear& from = original(model, layer, which);
    if (linear.isHalf() || linear.weight.rows() != from.outFeatures() || linear.weight.cols() != from.inFeatures() ||
        linear.bias.size() != from.bias.size())
        throw InvalidInput("a changed weight must have the shape of the weight it replaces");
    m_linears[{layer, which}] = std::move(linear);
}

void WeightOverrides::removeExpert(const Model& model, int layer, int expert) {
    const ModelConfig& c = model.config;
    if (layer < 0 || layer >= c.nLayers)
        throw InvalidInput("layer " + std::to_string(layer) + " is outside the model's " + std::to_string(c.nLayers) +
                           " layers");
    if (!c.moeLayer(layer)) throw InvalidInput("layer " + std::to_string(layer) + " has no experts to remove");
    if (expert < 0 || expert >= c.nExperts)
        throw InvalidInput("expert " + std::to_string(expert) + " is outside layer " + std::to_string(layer) +
                           "'s " + std::to_string(c.nExperts) + " experts");
    m_removedExperts.insert({layer, expert});
    int removed = 0;
    for (int e = 0; e < c.nExperts; ++e) removed += expertRemoved(layer, e);
    if (c.nExperts - removed < c.nExpertsPerToken) {
        m_removedExperts.erase({layer, expert});
        throw InvalidInput("removing " + std::to_string(removed) + " experts of layer " + std::to_string(layer) +
                           " would leave fewer than the " + std::to_string(c.nExpertsPerToken) +
                           " each token is routed to");
    }
}

bool WeightOverrides::removesExperts(int layer) const {
    const auto it = m_removedExperts.lower_bound({layer, 0});
    return it != m_removedExperts.end() && it->first == layer;
}

const Linear* WeightOverrides::find(int layer, BlockLinear which) const {
    const auto it = m_linears.find({layer, which});
    return it == m_linears.end() ? nullptr : &it->second;
}

}  // namespace mwb
