// A changed model compared against the original: weight overrides seen only by the
// variant's runs (model/weight_overrides.h), and optionally the original model's mlp/down
// output patched back at chosen (layer, row) channels where it is a super activation
// — the super-weight paper's "remove the super weight but restore the super
// activation" (Yu et al. 2024, section 3.2).
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "metrics/perplexity.h"
#include "model/model.h"
#include "model/transformer.h"
#include "model/weight_overrides.h"

namespace mwb {

// (layer, output channel of mlp/down)
using Channel = std::pair<int, int>;

// Holds `model` by reference and never changes it: the variant runs through the
// overrides, so the original and the variant may be run concurrently with anything
// else that reads the model. The overrides change only the blocks, so both share the
// final norm and the unembedding (callers unembed a variant's residual stream with
// transformer()).
class ModelVariant {
public:
    // Restoration: at every channel, positions whose original |output| exceeds
    // restoreMinRatio x the median |output| of that layer (in the same run) get the
    // original value back; restoreMinRatio 0 restores every position. Throws
    // InvalidInput when a channel is outside the model or restoreMinRatio < 0.
    ModelVariant(const Model& model, WeightOverrides overrides, std::vector<Channel> restoredChannels = {},
                 double restoreMinRatio = 100.0);

    RunState runOriginal(const std::vector<int>& ids, LogitsMode logits = LogitsMode::Last) const;
    RunState runVariant(const std::vector<int>& ids, LogitsMode logits = LogitsMode::Last) const;

    // Greedy continuations of `ids` by at most `count` tokens, stopping at the context's end
    // and before the end-of-text token.
    std::vector<int> greedyOriginal(const std::vector<int>& ids, int count) const;
    std::vector<int> greedyVariant(const std::vector<int>& ids, int count) const;

    const Model& model() const { return m_model; }
    const Transformer& transformer() const { return m_transformer; }
    const std::vector<Channel>& restoredChannels() const { return m_channels; }

private:
    const Model& m_model;
    Transformer m_transformer;
    std::shared_ptr<const WeightOverrides> m_overrides;  // shared: m_changed points into it
    Transformer m_changed;
    std::vector<Channel> m_channels;
    double m_restoreMinRatio;
};

// Corpus perplexity of the variant, and its comparison with the original
// (metrics/perplexity.h), running the variant through runVariant.
CorpusScore variantPerplexity(const ModelVariant& variant, const std::vector<std::vector<int>>& chunks,
                              const ProgressFn& progress = {});
CorpusComparison compareOnCorpus(const ModelVariant& variant, const std::vector<std::vector<int>>& chunks,
                                 const ProgressFn& progress = {});
// As above with the original's finalStates() of the same chunks (checked against them).
CorpusComparison compareOnCorpus(const ModelVariant& variant, const std::vector<std::vector<int>>& chunks,
                                 const std::vector<Matrix>& originalFinal, const ProgressFn& progress = {});

}  // namespace mwb
