// Expert routing of a prompt (see expert_routing.h).
#include "analysis/experts/expert_routing.h"

#include "tensor/errors.h"

namespace mwb {

namespace {

void requireExperts(const ModelConfig& c) {
    if (!c.moe())
        throw InvalidInput("the model " + quote(c.name) +
                           " has no mixture-of-experts layers, so no token is routed to experts");
}

}  // namespace

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
    requireExperts(c);
    const Transformer transformer(model);
    const RunState state = transformer.run(ids, {}, LogitsMode::None);
    ExpertRoutingResult r;
    r.ids = ids;
    for (int id : ids) r.tokens.push_back(model.tokenizer.tokenDisplay(id));
    r.layers = routingOf(c, state);
    return r;
}

namespace {

// Adds one routing result's counts and weights into `load` (share and meanWeight hold
// sums until finish()).
void accumulate(ExpertLoad& load, const std::vector<LayerRoutingResult>& layers) {
    for (size_t i = 0; i < layers.size(); ++i)
        for (const TokenRouting& t : layers[i].tokens)
            for (size_t j = 0; j < t.experts.size(); ++j) {
                load.share[i][size_t(t.experts[j])] += 1.0;
                load.meanWeight[i][size_t(t.experts[j])] += t.weights[j];
            }
    if (!layers.empty()) load.tokens += long(layers.front().tokens.size());
}

ExpertLoad emptyLoad(const ModelConfig& c) {
    ExpertLoad load;
    load.nExperts = c.nExperts;
    for (int l = 0; l < c.nLayers; ++l)
        if (c.moeLayer(l)) load.layers.push_back(l);
    load.share.assign(load.layers.size(), std::vector<double>(size_t(c.nExperts), 0.0));
    load.meanWeight = load.share;
    return load;
}

void finish(ExpertLoad& load, int perToken) {
    for (size_t i = 0; i < load.share.size(); ++i)
        for (size_t e = 0; e < load.share[i].size(); ++e) {
            const double chosen = load.share[i][e];
            load.meanWeight[i][e] = chosen > 0 ? load.meanWeight[i][e] / chosen : 0.0;
            load.share[i][e] = load.tokens > 0 ? chosen / (double(load.tokens) * perToken) : 0.0;
        }
}

}  // namespace

ExpertLoad loadOf(const ModelConfig& c, const std::vector<LayerRoutingResult>& layers) {
    requireExperts(c);
    ExpertLoad load = emptyLoad(c);
    accumulate(load, layers);
    finish(load, c.nExpertsPerToken);
    return load;
}

ExpertLoad expertLoad(const Model& model, const std::vector<std::vector<int>>& sequences, const ProgressFn& progress) {
    const ModelConfig& c = model.config;
    requireExperts(c);
    if (sequences.empty()) throw InvalidInput("the expert load needs at least one sequence of tokens");
    const Transformer transformer(model);
    for (const auto& ids : sequences) transformer.validateTokens(ids);
    ExpertLoad load = emptyLoad(c);
    for (size_t s = 0; s < sequences.size(); ++s) {
        report(progress, {long(s), long(sequences.size()), "expert load"});
        accumulate(load, routingOf(c, transformer.run(sequences[s], {}, LogitsMode::None)));
    }
    report(progress, {long(sequences.size()), long(sequences.size()), "expert load"});
    finish(load, c.nExpertsPerToken);
    return load;
}

nlohmann::json toJson(const ExpertLoad& load) {
    nlohmann::json layers = nlohmann::json::array();
    for (size_t i = 0; i < load.layers.size(); ++i)
        layers.push_back({{"layer", load.layers[i]}, {"share", load.share[i]}, {"mean_weight", load.meanWeight[i]}});
    return {{"tokens", load.tokens}, {"layers", std::move(layers)}};
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
