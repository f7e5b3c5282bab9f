// Consistency checks of weights, tokenizer and edits against a ModelConfig.
#include "io/model_checks.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "tokenizer/byte_level.h"

namespace mwb {

namespace {

std::string str(int64_t x) { return std::to_string(x); }

}  // namespace

std::string shapeText(std::span<const int64_t> dims) {
    std::string out = "[";
    for (size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + str(dims[i]);
    return out + "]";
}

std::optional<std::string> nonFiniteProblem(const float* data, std::span<const int64_t> dims) {
    int64_t count = 1;
    for (int64_t d : dims) count *= d;
    const float* bad = std::find_if(data, data + count, [](float x) { return !std::isfinite(x); });
    if (bad == data + count) return std::nullopt;
    // Row-major multi-index of the offending element.
    std::vector<int64_t> index(dims.size());
    int64_t flat = bad - data;
    for (size_t i = dims.size(); i-- > 0;) {
        index[i] = dims[i] ? flat % dims[i] : 0;
        flat = dims[i] ? flat / dims[i] : 0;
    }
    return std::string("holds ") + (std::isnan(*bad) ? "NaN" : "Inf") + " at " + shapeText(index);
}

std::optional<ModelProblem> weightsProblem(const ModelConfig& c, const Weights& w,
                                           bool checkFinite) {
    if (w.blocks.size() != size_t(c.nLayers))
        return ModelProblem{"/blocks", "has " + str(w.blocks.size()) + " blocks, expected " +
                                           str(c.nLayers) + " (n_layer)"};
    if (!c.tieEmbeddings && w.lmHead.size() == 0)
        return ModelProblem{"/lm_head/weight", "is empty although tie_embeddings is 0"};
    if (c.tieEmbeddings && w.lmHead.size() != 0)
        return ModelProblem{"/lm_head/weight", "is set although tie_embeddings is 1"};
    // Tensors the architecture does not have must be empty: the file lists only those
    // it has (forEachTensor), so anything else would be silently ignored.
    auto absent = [&](bool has, Eigen::Index size, bool half, const std::string& path) -> std::optional<ModelProblem> {
        if (has || (size == 0 && !half)) return std::nullopt;
        return ModelProblem{path, "is set, but a " + toString(c.architecture) + " model of this configuration has no such tensor"};
    };
    std::optional<ModelProblem> extra = absent(c.learnedPositions(), w.positionEmbedding.size(), false, "/embed/position");
    if (!extra) extra = absent(c.normBiases(), w.finalNorm.bias.size(), false, "/final_norm/bias");
    if (!extra) extra = absent(c.lmHeadBias(), w.lmHeadBias.size(), false, "/lm_head/bias");
    for (int i = 0; i < c.nLayers && !extra; ++i) {
        const auto& b = w.blocks[i];
        const std::string p = "/blocks/" + str(i);
        const bool qk = c.qkNorm() != QkNorm::None;
        const std::tuple<bool, Eigen::Index, bool, std::string> checks[] = {
            {c.preNorms(), b.norm1.weight.size(), false, p + "/norm1/weight"},
            {c.preNorms() && c.normBiases(), b.norm1.bias.size(), false, p + "/norm1/bias"},
            {c.preNorms() && !c.sharedBlockNorm(), b.norm2.weight.size(), false, p + "/norm2/weight"},
            {c.preNorms() && !c.sharedBlockNorm() && c.normBiases(), b.norm2.bias.size(), false, p + "/norm2/bias"},
            {c.postNorms(), b.postAttnNorm.weight.size(), false, p + "/post_attn_norm/weight"},
            {c.postNorms(), b.postMlpNorm.weight.size(), false, p + "/post_mlp_norm/weight"},
            {false, b.postAttnNorm.bias.size() + b.postMlpNorm.bias.size(), false, p + "/post_attn_norm/bias"},
            {qk, b.qNorm.weight.size(), false, p + "/attn/q_norm/weight"},
            {qk, b.kNorm.weight.size(), false, p + "/attn/k_norm/weight"},
            {c.qkvBiases(), b.q.bias.size() + b.k.bias.size() + b.v.bias.size(), false, p + "/attn/q/bias"},
            {c.attnOutBias(), b.o.bias.size(), false, p + "/attn/o/bias"},
            {c.mlpBiases(), b.up.bias.size() + b.down.bias.size(), false, p + "/mlp/up/bias"},
            {c.gatedMlp(), b.gate.weight.size(), b.gate.isHalf(), p + "/mlp/gate/weight"},
            {false, b.gate.bias.size(), false, p + "/mlp/gate/bias"},
        };
        for (const auto& [has, size, half, path] : checks)
            if (!extra) extra = absent(has, size, half, path);
    }
    if (extra) return extra;

    std::optional<ModelProblem> problem;
    forEachTensor(c, w, [&](const std::string& path, const auto& t) {
        if (problem) return;
        using Tensor = std::decay_t<decltype(t)>;
        const auto [rows, cols] = expectedShape(c, path);
        std::vector<int64_t> expected{rows}, actual{t.rows()};
        if constexpr (Tensor::ColsAtCompileTime != 1) {
            expected.push_back(cols);
            actual.push_back(t.cols());
        }
        if (expected != actual) {
            problem = ModelProblem{path, "has shape " + shapeText(actual) + ", expected " +
                                             shapeText(expected)};
        } else if (checkFinite) {
            if (auto bad = nonFiniteProblem(t.data(), actual)) problem = ModelProblem{path, *bad};
        }
    });
    return problem;
}

std::optional<ModelProblem> tokenizerProblem(const TokenizerSpec& spec, int vocabSize) {
    const int64_t n = int64_t(spec.vocab.size());
    if (n != vocabSize)
        return ModelProblem{"/tokenizer/vocab", "has shape [" + str(n) + "], expected [" +
                                                    str(vocabSize) + "] (vocab_size)"};
    for (const auto& [name, id] : {std::pair{"bos_id", spec.bosId}, std::pair{"eos_id", spec.eosId}})
        if (id < -1 || id >= vocabSize)
            return ModelProblem{"/tokenizer", std::string("attribute ") + name + " is " + str(id) +
                                                  ", outside -1 .. " + str(vocabSize - 1)};
    if (spec.addBos && spec.bosId < 0)
        return ModelProblem{"/tokenizer", "has add_bos = 1 but no BOS token (bos_id = -1)"};
    if (spec.kind == TokenizerKind::SentencePieceBpe && spec.scores.empty())
        return ModelProblem{"/tokenizer/scores", "is missing; sentencepiece_bpe needs piece scores"};
    if (!spec.scores.empty() && int64_t(spec.scores.size()) != n)
        return ModelProblem{"/tokenizer/scores", "has shape [" + str(spec.scores.size()) +
                                                     "], expected [" + str(n) + "] (vocab_size)"};
    for (size_t i = 0; i < spec.scores.size(); ++i)
        if (std::isnan(spec.scores[i]))
            return ModelProblem{"/tokenizer/scores", "holds NaN at [" + str(i) + "]"};
    // Pieces are text: byte-level vocabularies spell bytes as characters and SentencePiece
    // ones as <0xNN>, so bytes that are not UTF-8 mean a damaged or mistaken file.
    for (const auto& [path, strings] : {std::pair{"/tokenizer/vocab", &spec.vocab}, std::pair{"/tokenizer/merges", &spec.merges}})
        for (size_t i = 0; i < strings->size(); ++i)
            if (!isValidUtf8((*strings)[i]))
                return ModelProblem{path, "entry " + str(i) + " is not valid UTF-8"};
    return std::nullopt;
}

std::optional<ModelProblem> editPlacesProblem(const EditRecord& e, const ModelConfig& c, int index) {
    const std::string path = "/edits/" + str(index);
    if (e.layers.empty()) return ModelProblem{path, "names no layer"};
    if (e.layers.size() > maxEditLayers(c))
        return ModelProblem{path, "names " + str(e.layers.size()) + " layers, more than the limit " +
                                      str(maxEditLayers(c))};
    if (!e.experts.empty() && e.experts.size() != e.layers.size())
        return ModelProblem{path, "has " + str(e.experts.size()) + " experts for " + str(e.layers.size()) + " layers"};
    for (size_t j = 0; j < e.layers.size(); ++j) {
        if (e.layers[j] < 0 || e.layers[j] >= c.nLayers)
            return ModelProblem{path, "names layer " + str(e.layers[j]) + ", outside 0 .. " +
                                          str(c.nLayers - 1)};
        if (const std::string problem = editTargetProblem(c, e.layers[j], e.expertAt(j)); !problem.empty())
            return ModelProblem{path, "does not fit the model: " + problem};
    }
    for (size_t j = 1; j < e.layers.size(); ++j)
        if ((e.expertAt(j) < 0) != (e.expertAt(0) < 0)) return ModelProblem{path, "mixes edits of experts and of MLPs"};
    return std::nullopt;
}

std::optional<ModelProblem> editProblem(const EditRecord& e, const ModelConfig& c, int index) {
    if (auto problem = editPlacesProblem(e, c, index)) return problem;
    const std::string path = "/edits/" + str(index);
    // The width of the keys: d_ff, or d_expert for an edit of experts.
    const int width = editedKeyWidth(c, e.expertAt(0));
    if (e.left.size() != e.layers.size() || e.right.size() != e.layers.size())
        return ModelProblem{path, "has " + str(e.left.size()) + " left and " +
                                      str(e.right.size()) + " right factors for " +
                                      str(e.layers.size()) + " layers"};
    for (size_t j = 0; j < e.layers.size(); ++j) {
        const Matrix& l = e.left[j];
        const Matrix& r = e.right[j];
        const std::string where = " (layer " + str(e.layers[j]) + ")";
        if (l.rows() != c.dModel || r.rows() != width || l.cols() != r.cols() || l.cols() < 1 ||
            l.cols() > maxEditRank(c))
            return ModelProblem{path, "has factors left " + shapeText(std::vector<int64_t>{l.rows(), l.cols()}) +
                                          " and right " + shapeText(std::vector<int64_t>{r.rows(), r.cols()}) +
                                          where + ", expected [" + str(c.dModel) + ", r] and [" +
                                          str(width) + ", r] with 1 <= r <= " + str(maxEditRank(c))};
        if (auto bad = nonFiniteProblem(l.data(), std::vector<int64_t>{l.rows(), l.cols()}))
            return ModelProblem{path + "/left", *bad + where};
        if (auto bad = nonFiniteProblem(r.data(), std::vector<int64_t>{r.rows(), r.cols()}))
            return ModelProblem{path + "/right", *bad + where};
    }
    if (!e.before.empty() && e.before.size() != e.layers.size())
        return ModelProblem{path + "/before", "holds " + str(e.before.size()) +
                                                  " matrices for " + str(e.layers.size()) + " layers"};
    for (size_t j = 0; j < e.before.size(); ++j) {
        const Matrix& b = e.before[j];
        const std::string where = path + "/before/" + str(j);
        const std::vector<int64_t> shape{b.rows(), b.cols()};
        if (b.rows() != c.dModel || b.cols() != width)
            return ModelProblem{where, "has shape " + shapeText(shape) + ", expected " +
                                           shapeText(std::vector<int64_t>{c.dModel, width})};
        if (auto bad = nonFiniteProblem(b.data(), shape)) return ModelProblem{where, *bad};
    }
    if (!e.keys.empty() && e.keys.size() != e.layers.size())
        return ModelProblem{path + "/keys", "holds " + str(e.keys.size()) + " matrices for " +
                                                str(e.layers.size()) + " layers"};
    for (size_t j = 0; j < e.keys.size(); ++j) {
        const Matrix& k = e.keys[j];
        const std::string where = path + "/keys/" + str(j);
        const std::vector<int64_t> shape{k.rows(), k.cols()};
        if (k.rows() != width || k.cols() < 1 || k.cols() > maxEditRank(c))
            return ModelProblem{where, "has shape " + shapeText(shape) + ", expected [" + str(width) +
                                           ", n] with 1 <= n <= " + str(maxEditRank(c))};
        if (auto bad = nonFiniteProblem(k.data(), shape)) return ModelProblem{where, *bad};
    }
    return std::nullopt;
}

}  // namespace mwb
