#include "analysis/attention_maps.h"

#include "tensor/errors.h"
#include "model/transformer.h"

namespace mwb {

AttentionMaps attentionMaps(const Model& model, const std::vector<int>& ids) {
    const Transformer t(model);
    Hooks hooks;
    for (int l = 0; l < model.config.nLayers; ++l) hooks.captures.push_back({HookSite::AttnPattern, l});
    const RunState s = t.run(ids, hooks, LogitsMode::None);
    AttentionMaps maps;
    maps.ids = ids;
    for (int id : ids) maps.tokens.push_back(model.tokenizer.tokenDisplay(id));
    maps.nLayers = model.config.nLayers;
    maps.nHeads = model.config.nHeads;
    const int n = s.nTokens;
    for (int l = 0; l < maps.nLayers; ++l) {
        // Captured head-major: [nHeads * nTokens x nTokens].
        const Matrix& pattern = s.captured.at({HookSite::AttnPattern, l});
        std::vector<Matrix> heads;
        for (int h = 0; h < maps.nHeads; ++h) heads.push_back(pattern.middleRows(static_cast<long>(h) * n, n));
        maps.weights.push_back(std::move(heads));
    }
    return maps;
}

void validateSelection(const AttentionMaps& maps, std::optional<int> layer, std::optional<int> head) {
    if (layer && (*layer < 0 || *layer >= maps.nLayers))
        throw InvalidInput("layer " + std::to_string(*layer) + " is out of range: the model has " +
                           std::to_string(maps.nLayers) + " layers");
    if (head && (*head < 0 || *head >= maps.nHeads))
        throw InvalidInput("head " + std::to_string(*head) + " is out of range: the model has " +
                           std::to_string(maps.nHeads) + " heads");
}

nlohmann::json toJson(const AttentionMaps& maps, std::optional<int> layer, std::optional<int> head) {
    validateSelection(maps, layer, head);
    nlohmann::json list = nlohmann::json::array();
    for (int l = 0; l < maps.nLayers; ++l) {
        if (layer && l != *layer) continue;
        for (int h = 0; h < maps.nHeads; ++h) {
            if (head && h != *head) continue;
            const Matrix& w = maps.weights[l][h];
            nlohmann::json rows = nlohmann::json::array();
            for (int q = 0; q < w.rows(); ++q) {
                std::vector<float> row(w.row(q).data(), w.row(q).data() + w.cols());
                rows.push_back(row);
            }
            list.push_back({{"layer", l}, {"head", h}, {"weights", rows}});
        }
    }
    return {{"ids", maps.ids}, {"tokens", maps.tokens}, {"n_layers", maps.nLayers}, {"n_heads", maps.nHeads},
            {"maps", list}};
}

}  // namespace mwb
