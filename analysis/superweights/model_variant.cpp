#include "analysis/superweights/model_variant.h"

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "analysis/superweights/massive_activations.h"
#include "tensor/errors.h"
#include "model/generate.h"

namespace mwb {

namespace {

// At most `count` greedy tokens after `ids`, up to the end-of-text token (left out), as
// the Predict tab's generation stops there: text after it is not a continuation.
std::vector<int> greedy(const Transformer& t, const std::vector<int>& ids, int count) {
    GenerateOptions options;
    options.maxNewTokens = count;
    Generation g = generate(t, ids, options);
    if (g.stoppedAtEos) g.newIds.pop_back();
    return g.newIds;
}

int argmax(const RowVector& v) {
    Eigen::Index i = 0;
    v.maxCoeff(&i);
    return static_cast<int>(i);
}

}  // namespace

ModelVariant::ModelVariant(const Model& model, WeightOverrides overrides, std::vector<Channel> restoredChannels,
                           double restoreMinRatio)
    : m_model(model),
      m_transformer(model),
      m_overrides(std::make_shared<const WeightOverrides>(std::move(overrides))),
      m_changed(model, m_overrides.get()),
      m_channels(std::move(restoredChannels)),
      m_restoreMinRatio(restoreMinRatio) {
    if (!(restoreMinRatio >= 0.0)) throw InvalidInput("the restoration threshold must not be negative");
    for (const auto& [layer, row] : m_channels)
        if (layer < 0 || layer >= model.config.nLayers || row < 0 || row >= model.config.dModel)
            throw InvalidInput("channel " + std::to_string(row) + " of layer " + std::to_string(layer) +
                               " to restore is outside the model");
}

RunState ModelVariant::runOriginal(const std::vector<int>& ids, LogitsMode logits) const {
    return m_transformer.run(ids, {}, logits);
}

RunState ModelVariant::runVariant(const std::vector<int>& ids, LogitsMode logits) const {
    if (m_channels.empty()) return m_changed.run(ids, {}, logits);
    // The original mlp/down outputs of the channels' layers, on the same tokens.
    std::set<int> layers;
    for (const auto& ch : m_channels) layers.insert(ch.first);
    Hooks capture;
    for (int l : layers) capture.captures.push_back({HookSite::MlpOut, l});
    const RunState original = m_transformer.run(ids, capture, LogitsMode::None);
    std::map<int, double> floor;  // per layer: |output| above this is a super activation
    for (int l : layers)
        floor[l] = m_restoreMinRatio * medianAbs(original.captured.at({HookSite::MlpOut, l}));

    Hooks restore;
    restore.wants = [&layers](HookSite site, int layer) { return site == HookSite::MlpOut && layers.count(layer) > 0; };
    restore.callback = [&](const HookPoint& at, Eigen::Ref<Matrix> rows) {
        const Matrix& orig = original.captured.at({HookSite::MlpOut, at.layer});
        for (const auto& [layer, row] : m_channels) {
            if (layer != at.layer) continue;
            for (Eigen::Index i = 0; i < rows.rows(); ++i) {
                const float v = orig(at.firstPos + i, row);
                if (std::abs(v) > floor.at(layer) || m_restoreMinRatio == 0.0) rows(i, row) = v;
            }
        }
    };
    return m_changed.run(ids, restore, logits);
}

std::vector<int> ModelVariant::greedyOriginal(const std::vector<int>& ids, int count) const {
    return greedy(m_transformer, ids, count);
}

std::vector<int> ModelVariant::greedyVariant(const std::vector<int>& ids, int count) const {
    if (m_channels.empty()) return greedy(m_changed, ids, count);
    // The restored activation depends on the original model's run of the variant's
    // own continuation, so every step runs both models on the whole sequence.
    std::vector<int> seq = ids;
    std::vector<int> out;
    const int eos = m_model.tokenizer.spec().eosId;
    for (int i = 0; i < count && static_cast<int>(seq.size()) < m_model.config.nCtx; ++i) {
        const int next = argmax(runVariant(seq).lastLogits());
        if (next == eos) break;
        out.push_back(next);
        seq.push_back(next);
    }
    return out;
}

namespace {

FinalStateFn variantFinal(const ModelVariant& variant, const std::vector<std::vector<int>>& chunks) {
    return [&variant, &chunks](size_t c) -> Matrix {
        return std::move(variant.runVariant(chunks[c], LogitsMode::None).resid[variant.model().config.nLayers]);
    };
}

}  // namespace

CorpusScore variantPerplexity(const ModelVariant& variant, const std::vector<std::vector<int>>& chunks,
                              const ProgressFn& progress) {
    return corpusPerplexity(variant.transformer(), chunks, variantFinal(variant, chunks), progress);
}

CorpusComparison compareOnCorpus(const ModelVariant& variant, const std::vector<std::vector<int>>& chunks,
                                 const ProgressFn& progress) {
    const int nLayers = variant.model().config.nLayers;
    const FinalStateFn original = [&](size_t c) -> Matrix {
        const RunState s = variant.runOriginal(chunks[c], LogitsMode::None);
        return s.resid[nLayers].topRows(s.nTokens);
    };
    return compareOnCorpus(variant.transformer(), chunks, original, variantFinal(variant, chunks), progress);
}

CorpusComparison compareOnCorpus(const ModelVariant& variant, const std::vector<std::vector<int>>& chunks,
                                 const std::vector<Matrix>& originalFinal, const ProgressFn& progress) {
    if (originalFinal.size() != chunks.size())
        throw InvalidInput("the cached original states do not match the corpus chunks");
    for (size_t c = 0; c < chunks.size(); ++c)
        if (originalFinal[c].rows() != static_cast<long>(chunks[c].size()) ||
            originalFinal[c].cols() != variant.model().config.dModel)
            throw InvalidInput("the cached original states do not match the corpus chunks");
    return compareOnCorpus(
        variant.transformer(), chunks, [&](size_t c) -> Matrix { return originalFinal[c]; },
        variantFinal(variant, chunks), progress);
}

}  // namespace mwb
