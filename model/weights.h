// The weights of a transformer as plain data: one struct per module, paths as in
// spec/model-format.md. Templated on the scalar so that gradients can be checked
// in double precision; everything else uses Weights = WeightsT<float>.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "model/config.h"
#include "model/tensor.h"

namespace mwb {

// y = W x + b, W stored [out, in]; bias has size 0 when the module has none.
template <typename T>
struct LinearT {
    MatrixT<T> weight;
    VectorT<T> bias;
};

// LayerNorm (weight and bias) or RMSNorm (weight only).
template <typename T>
struct NormT {
    VectorT<T> weight;
    VectorT<T> bias;
};

template <typename T>
struct BlockWeightsT {
    NormT<T> norm1;
    LinearT<T> q, k, v, o;
    NormT<T> norm2;
    LinearT<T> up, gate, down;  // gate: llama only
};

template <typename T>
struct WeightsT {
    MatrixT<T> tokenEmbedding;     // [vocabSize, dModel]
    MatrixT<T> positionEmbedding;  // [nCtx, dModel], gpt2 only
    std::vector<BlockWeightsT<T>> blocks;
    NormT<T> finalNorm;
    MatrixT<T> lmHead;  // [vocabSize, dModel]; empty when tied to tokenEmbedding

    const MatrixT<T>& unembedding() const { return lmHead.size() ? lmHead : tokenEmbedding; }
};

using Linear = LinearT<float>;
using Norm = NormT<float>;
using BlockWeights = BlockWeightsT<float>;
using Weights = WeightsT<float>;

// Zero-filled weights of the right shapes for `config`.
template <typename T>
WeightsT<T> zeroWeights(const ModelConfig& config);

// Convert between scalar types (for double-precision gradient checks).
template <typename To, typename From>
WeightsT<To> castWeights(const WeightsT<From>& w);

// Visit every tensor with its HDF5 path, in file order. `fn(path, Eigen matrix or vector&)`.
// Used by the file writer, the reader, model diff and the optimiser, so that the list
// of tensors exists once.
template <typename T, typename Fn>
void forEachTensor(const ModelConfig& c, WeightsT<T>& w, Fn&& fn) {
    fn(std::string("/embed/token"), w.tokenEmbedding);
    if (c.architecture == Architecture::Gpt2) fn(std::string("/embed/position"), w.positionEmbedding);
    const bool gpt2 = c.architecture == Architecture::Gpt2;
    for (int i = 0; i < c.nLayers; ++i) {
        auto& b = w.blocks[i];
        const std::string p = "/blocks/" + std::to_string(i);
        fn(p + "/norm1/weight", b.norm1.weight);
        if (gpt2) fn(p + "/norm1/bias", b.norm1.bias);
        LinearT<T>* attn[] = {&b.q, &b.k, &b.v, &b.o};
        const char* attnNames[] = {"q", "k", "v", "o"};
        for (int j = 0; j < 4; ++j) {
            fn(p + "/attn/" + attnNames[j] + "/weight", attn[j]->weight);
            if (gpt2) fn(p + "/attn/" + attnNames[j] + "/bias", attn[j]->bias);
        }
        fn(p + "/norm2/weight", b.norm2.weight);
        if (gpt2) fn(p + "/norm2/bias", b.norm2.bias);
        fn(p + "/mlp/up/weight", b.up.weight);
        if (gpt2) fn(p + "/mlp/up/bias", b.up.bias);
        if (!gpt2) fn(p + "/mlp/gate/weight", b.gate.weight);
        fn(p + "/mlp/down/weight", b.down.weight);
        if (gpt2) fn(p + "/mlp/down/bias", b.down.bias);
    }
    fn(std::string("/final_norm/weight"), w.finalNorm.weight);
    if (gpt2) fn(std::string("/final_norm/bias"), w.finalNorm.bias);
    if (!c.tieEmbeddings) fn(std::string("/lm_head/weight"), w.lmHead);
}

template <typename T, typename Fn>
void forEachTensor(const ModelConfig& c, const WeightsT<T>& w, Fn&& fn) {
    forEachTensor(c, const_cast<WeightsT<T>&>(w),
                  [&](const std::string& path, auto& t) { fn(path, std::as_const(t)); });
}

// Expected shape {rows, cols} of the tensor at `path` (cols = 1 for vectors).
std::pair<long, long> expectedShape(const ModelConfig& c, const std::string& path);

}  // namespace mwb
