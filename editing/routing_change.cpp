#include "editing/routing_change.h"

#include <algorithm>

#include "model/transformer.h"
#include "tensor/errors.h"

namespace mwb {

RoutingSnapshot routingSnapshot(const Model& model, const std::vector<std::string>& prompts) {
    const auto& c = model.config;
    if (!c.moe()) throw InvalidInput("the model has no experts, so it has no routing to compare");
    const Transformer transformer(model);
    RoutingSnapshot s;
    s.prompts = prompts;
    for (const std::string& prompt : prompts) {
        if (prompt.empty()) throw InvalidInput("a prompt to compare the routing on is empty");
        std::vector<int> ids = model.tokenizer.encodeIds(prompt);
        const RunState run = transformer.run(ids, {}, LogitsMode::None);
        auto& layers = s.experts.emplace_back();
        for (int l = 0; l < c.nLayers; ++l) {
            if (!c.moeLayer(l)) continue;
            auto& positions = layers.emplace_back();
            const auto& chosen = run.routing[size_t(l)].experts;
            for (int t = 0; t < run.nTokens; ++t) {
                const auto row = chosen.row(t).head(c.nExpertsPerToken);
                positions.emplace_back(row.data(), row.data() + row.size());
            }
        }
        s.ids.push_back(std::move(ids));
    }
    return s;
}

long RoutingChange::places() const {
    long n = 0;
    for (const auto& p : prompts) n += p.places;
    return n;
}

long RoutingChange::changed() const {
    long n = 0;
    for (const auto& p : prompts) n += long(p.changes.size());
    return n;
}

int RoutingChange::promptsChanged() const {
    return int(std::count_if(prompts.begin(), prompts.end(), [](const auto& p) { return !p.changes.empty(); }));
}

RoutingChange routingChange(const RoutingSnapshot& before, const RoutingSnapshot& after, const ModelConfig& c) {
    if (before.prompts != after.prompts || before.ids != after.ids || before.experts.size() != after.experts.size())
        throw InvalidInput("the routing snapshots to compare are not of the same prompts");
    std::vector<int> sparse;
    for (int l = 0; l < c.nLayers; ++l)
        if (c.moeLayer(l)) sparse.push_back(l);
    RoutingChange out;
    for (size_t p = 0; p < before.prompts.size(); ++p) {
        PromptRoutingChange change;
        change.prompt = before.prompts[p];
        const auto &b = before.experts[p], &a = after.experts[p];
        if (b.size() != sparse.size() || a.size() != sparse.size())
            throw InvalidInput("the routing snapshots are not of models of this shape");
        for (size_t i = 0; i < sparse.size(); ++i)
            for (size_t t = 0; t < b[i].size() && t < a[i].size(); ++t) {
                ++change.places;
                std::vector<int> x = b[i][t], y = a[i][t];
                std::sort(x.begin(), x.end());
                std::sort(y.begin(), y.end());
                if (x != y) change.changes.push_back({sparse[i], int(t), b[i][t], a[i][t]});
            }
        out.prompts.push_back(std::move(change));
    }
    return out;
}

nlohmann::json toJson(const RoutingChange& change) {
    nlohmann::json prompts = nlohmann::json::array();
    for (const auto& p : change.prompts) {
        nlohmann::json changes = nlohmann::json::array();
        for (const auto& at : p.changes)
            changes.push_back({{"layer", at.layer}, {"position", at.position}, {"before", at.before}, {"after", at.after}});
        prompts.push_back({{"prompt", p.prompt}, {"places", p.places}, {"changes", changes}});
    }
    return {{"places", change.places()},
            {"changed", change.changed()},
            {"prompts_changed", change.promptsChanged()},
            {"prompts", prompts}};
}

}  // namespace mwb
