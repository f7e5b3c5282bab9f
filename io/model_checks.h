// Consistency checks of a model's parts against its configuration, shared by the
// file reader (which turns a problem into a ModelFormatError) and the writer (which
// refuses to save, with InvalidInput, a model it could not read back).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "model/model.h"

namespace mwb {

// What is wrong and where: `path` is the HDF5 path the problem concerns
// ("/blocks/3/mlp/down/weight", "/tokenizer", "/edits/0"), `text` one sentence
// that reads well after it ("has shape [768, 3000], expected [768, 3072]").
struct ModelProblem {
    std::string path;
    std::string text;
};

// "[768, 3072]" for dims {768, 3072}; "[]" for a scalar.
std::string shapeText(std::span<const int64_t> dims);

// The first NaN or infinite value of `data` (row-major with shape `dims`), as
// "holds NaN at [3, 17]"; nullopt when all values are finite.
std::optional<std::string> nonFiniteProblem(const float* data, std::span<const int64_t> dims);

// Every tensor of `w` has the shape the config asks for; modules the architecture
// lacks (llama biases, position embedding, lm_head when tied) are empty. With
// `checkFinite`, also no NaN or Inf.
std::optional<ModelProblem> weightsProblem(const ModelConfig& c, const Weights& w,
                                           bool checkFinite);

// The tokenizer spec fits a model with `vocabSize` embedding rows: vocab size, ids
// of BOS and EOS, add_bos, scores for sentencepiece_bpe.
std::optional<ModelProblem> tokenizerProblem(const TokenizerSpec& spec, int vocabSize);

// Edit number `index` names valid layers (and experts) and has one factor pair left
// [dModel x r], right [dFf x r] (1 <= r <= maxEditRank(c)) per layer, and either no
// `before` weights or one [dModel x dFf] matrix per layer, and either no keys or one
// [dFf x n] matrix per layer; all finite. In an edit of experts d_expert stands for dFf.
std::optional<ModelProblem> editProblem(const EditRecord& e, const ModelConfig& c, int index);
// The part of editProblem about where the record's entries are (layers and experts),
// which decides the shapes its factors must have: readers check it before the factors.
std::optional<ModelProblem> editPlacesProblem(const EditRecord& e, const ModelConfig& c, int index);

// Any weight change of mlp/down has rank <= min(dModel, dFf); factors up to
// dModel + dFf columns are accepted so that unreduced MEMIT factors still load.
inline int64_t maxEditRank(const ModelConfig& c) { return int64_t(c.dModel) + c.dFf; }

// An edit names at most this many layers (a layer may appear more than once: a MEMIT
// edit of experts has one entry per edited expert).
inline size_t maxEditLayers(const ModelConfig& c) { return 4 * size_t(c.nLayers) * size_t(std::max(1, c.nExperts)); }

}  // namespace mwb
