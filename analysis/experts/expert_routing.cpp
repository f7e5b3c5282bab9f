// Expert routing of a prompt (see expert_routing.h).
#include "analysis/experts/expert_routing.h"

#include "tensor/errors.h"

namespace mwb {

std::vector<LayerRoutingResult> routingOf(const ModelConfig& c, const RunState& state) {
    std::vector<LayerRoutingResult> out;
    for (int l = 0; l < c.nLayers; ++l) {
        if (!c.moeLayer(l)) continue;
        const LayerRouting& routing = state.routing.at(size_t(l));
        LayerRoutingResult layer;
        layer.layer = l;
        for (int pos = 0; pos < state.nTokens; ++pos) {
            TokenRouting t;
            for (int j = 0; j < c.nExpertsPerToken; ++j) {
                t.experts.push_back(routing.experts(pos, j));
                t.weights.push_back(routing.weights(pos, j));
            }
            layer.tokens.push_back(std::move(t));
        }
        out.push_back(std::move(layer));
    }
    return out;
}

ExpertRoutingResult expertRouting(const Model& model, const std::vector<int>& ids) {
    const ModelConfig& c = model.config;
    if (!c.moe())
        throw InvalidInput("the model " + quote(c.name) +
                           " has no mixture-of-experts layers, so no token is routed to experts");
    const Transformer transformer(model);
    const RunState state = transformer.run(ids, {}, LogitsMode::None);
    ExpertRoutingResult r;
    r.ids = ids;
    for (int id : ids) r.tokens.push_back(model.tokenizer.tokenDisplay(id));
    r.layers = routingOf(c, state);
    return r;
}

nlohmann::json toJson(const ExpertRoutingResult& r) {
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerRoutingResult& l : r.layers) {
        nlohmann::json tokens = nlohmann::json::array();
        for (const TokenRouting& t : l.tokens) tokens.push_back({{"experts", t.experts}, {"weights", t.weights}});
        layers.push_back({{"layer", l.layer}, {"tokens", std::move(tokens)}});
    }
    return {{"ids", r.ids}, {"layers", std::move(layers)}};
}

}  // namespace mwb
