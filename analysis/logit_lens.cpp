#include "analysis/logit_lens.h"

#include "tensor/errors.h"
#include "model/transformer.h"

namespace mwb {

LogitLensResult logitLens(const Model& model, const std::vector<int>& ids, int topK, int targetId) {
    if (topK < 1) throw InvalidInput("--top must be at least 1");
    if (targetId < -1 || targetId >= model.config.vocabSize)
        throw InvalidInput("target token id " + std::to_string(targetId) + " is outside the vocabulary of " +
                           std::to_string(model.config.vocabSize));
    const Transformer t(model);
    const RunState s = t.run(ids, {}, LogitsMode::None);
    LogitLensResult r;
    r.ids = ids;
    for (int id : ids) r.tokens.push_back(model.tokenizer.tokenDisplay(id));
    r.topK = topK;
    r.targetId = targetId;
    if (targetId >= 0) r.target = model.tokenizer.tokenDisplay(targetId);
    const int n = s.nTokens;
    for (int layer = 0; layer < model.config.nLayers; ++layer) {
        // The same final norm + unembedding the model's own output goes through.
        const Matrix logits = t.unembed(s.resid[layer + 1].topRows(n));
        std::vector<std::vector<TokenProb>> perPos;
        std::vector<double> target;
        for (int p = 0; p < n; ++p) {
            const VectorD probs = logSoftmax(logits.row(p)).array().exp();
            perPos.push_back(topTokens(probs, topK, model.tokenizer));
            if (targetId >= 0) target.push_back(probs[targetId]);
        }
        r.top.push_back(std::move(perPos));
        if (targetId >= 0) r.targetProb.push_back(std::move(target));
    }
    return r;
}

nlohmann::json toJson(const LogitLensResult& r) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& layer : r.top) {
        nlohmann::json positions = nlohmann::json::array();
        for (const auto& list : layer) positions.push_back(toJson(list));
        top.push_back(positions);
    }
    nlohmann::json j = {{"ids", r.ids}, {"tokens", r.tokens}, {"top_k", r.topK}, {"n_layers", r.top.size()},
                        {"top", top}};
    if (r.targetId >= 0)
        j["target"] = {{"id", r.targetId}, {"token", r.target}, {"prob", r.targetProb}};
    return j;
}

}  // namespace mwb
