// Perplexity of a model on a text corpus, cut into chunks of the model's context,
// and the comparison of a changed model against the original on the same corpus
// (perplexity of both and the mean KL divergence of their next-token distributions).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/transformer.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

// The text's tokens (without BOS) in chunks of at most nCtx tokens; when the tokenizer
// adds BOS, each chunk starts with it and holds nCtx - 1 text tokens. `maxTokens` > 0
// keeps only the first maxTokens text tokens. Throws InvalidInput when the text gives
// fewer than 2 tokens.
std::vector<std::vector<int>> corpusChunks(const Model& model, const std::string& text, long maxTokens = 0);

struct CorpusScore {
    long tokens = 0;      // predicted tokens
    double meanNll = 0.0; // mean negative log-likelihood (nats)
    double perplexity = 0.0;
};

struct CorpusComparison {
    CorpusScore original;
    CorpusScore variant;
    double meanKl = 0.0;  // mean over predicted positions of KL(original || variant)
    double maxKl = 0.0;
};

// The residual stream after the last block (before the final norm) of chunk c:
// at least [chunk size x dModel]. Lets a caller score a changed model (weights
// switched, activations patched) with the original's head.
using FinalStateFn = std::function<Matrix(size_t chunk)>;

// Every position of every chunk predicts the next token of its chunk.
CorpusScore corpusPerplexity(const Model& model, const std::vector<std::vector<int>>& chunks,
                             const ProgressFn& progress = {});
// As above with the final states from `final`, unembedded by `head`.
CorpusScore corpusPerplexity(const Transformer& head, const std::vector<std::vector<int>>& chunks,
                             const FinalStateFn& final, const ProgressFn& progress = {});
// Perplexity of both and the KL divergence of the variant's next-token distributions
// from the original's, position by position.
CorpusComparison compareOnCorpus(const Transformer& head, const std::vector<std::vector<int>>& chunks,
                                 const FinalStateFn& original, const FinalStateFn& variant,
                                 const ProgressFn& progress = {});
// The original model's last residual stream (before the final norm) per chunk,
// [chunk size x dModel]: lets several comparisons on the same corpus skip the
// original's blocks (quantisation tables).
std::vector<Matrix> finalStates(const Model& model, const std::vector<std::vector<int>>& chunks,
                                const ProgressFn& progress = {});
nlohmann::json toJson(const CorpusScore& s);
nlohmann::json toJson(const CorpusComparison& c);

}  // namespace mwb
