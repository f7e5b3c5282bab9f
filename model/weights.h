// The weights of a transformer as plain data: one struct per module, paths as in
// docs/file-format.md. Templated on the scalar so that gradients can be checked
// in double precision; everything else uses Weights = WeightsT<float>.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "model/config.h"
#include "tensor/errors.h"
#include "tensor/half_matrix.h"
#include "tensor/tensor.h"

namespace mwb {

// How the linear weights other than mlp/down are kept in memory: float16 or bfloat16
// halve the memory of a large model (a 7B Llama needs 27 GB in float32, 16 GB so).
// bfloat16 keeps float32's range (no overflow), float16 three more bits of precision.
enum class WeightPrecision { Float32, Float16, BFloat16 };

// Whether the linear weight at `path` may be kept in float16: every one but mlp/down,
// which editing, ablation and the super-weight tools change in place, and the routers
// (a router's rounding would change which experts a token goes to).
inline bool mayKeepInFloat16(const std::string& path) {
    return !path.ends_with("/mlp/down/weight") && !path.ends_with("/moe/router/weight") &&
           !path.ends_with("/moe/shared_gate/weight");
}

// y = W x + b, W stored [out, in]; bias has size 0 when the module has none.
template <typename T>
struct LinearT {
    MatrixT<T> weight;
    VectorT<T> bias;
    // Large models (WeightPrecision::Float16): the weight kept in float16 and
    // `weight` empty (never for mlp/down, see mayKeepInFloat16).
    HalfMatrix weightHalf;

    bool isHalf() const { return !weightHalf.empty(); }
    long outFeatures() const { return isHalf() ? weightHalf.rows : long(weight.rows()); }
    long inFeatures() const { return isHalf() ? weightHalf.cols : long(weight.cols()); }
    // The weight in the scalar type: a reference to `weight`, or the float16 copy
    // decoded into `scratch`.
    const MatrixT<T>& weightIn(MatrixT<T>& scratch) const {
        if (!isHalf()) return weight;
        if constexpr (std::is_same_v<T, float>) scratch = weightHalf.toFloat();
        else scratch = weightHalf.toFloat().template cast<T>();
        return scratch;
    }
};

// LayerNorm (weight and bias) or RMSNorm (weight only).
template <typename T>
struct NormT {
    VectorT<T> weight;
    VectorT<T> bias;
};

// One expert of a mixture: a gated MLP, down(act(gate x) * up x).
template <typename T>
struct ExpertT {
    LinearT<T> gate, up, down;  // [dExpert, dModel], [dExpert, dModel], [dModel, dExpert]
};

// The MLP of a sparse layer (ModelConfig::moeLayer): router [nExperts, dModel],
// nExperts experts, and with dSharedExpert > 0 the shared expert and its gate [1, dModel].
template <typename T>
struct MoeWeightsT {
    LinearT<T> router;
    std::vector<ExpertT<T>> experts;
    ExpertT<T> shared;
    LinearT<T> sharedGate;
};

// Which norms a block has depends on the architecture (ModelConfig::preNorms,
// sharedBlockNorm, postNorms, qkNorm); the others stay empty. A sparse layer has `moe`
// and no up, gate, down.
template <typename T>
struct BlockWeightsT {
    NormT<T> norm1;  // before attention (and the MLP when the block has one norm)
    LinearT<T> q, k, v, o;
    NormT<T> norm2;  // before the MLP
    LinearT<T> up, gate, down;  // gate: gated MLPs only
    NormT<T> qNorm, kNorm;                // of q and k before the rotation
    NormT<T> postAttnNorm, postMlpNorm;  // of the sublayer outputs, before the residual add
    MoeWeightsT<T> moe;
};

template <typename T>
struct WeightsT {
    MatrixT<T> tokenEmbedding;     // [vocabSize, dModel]
    MatrixT<T> positionEmbedding;  // [nCtx, dModel], gpt2 only
    std::vector<BlockWeightsT<T>> blocks;
    NormT<T> finalNorm;
    MatrixT<T> lmHead;  // [vocabSize, dModel]; empty when tied to tokenEmbedding
    VectorT<T> lmHeadBias;  // [vocabSize] (GPT-J); empty when there is none

    const MatrixT<T>& unembedding() const { return lmHead.size() ? lmHead : tokenEmbedding; }
};

using Linear = LinearT<float>;
using Norm = NormT<float>;
using Expert = ExpertT<float>;
using MoeWeights = MoeWeightsT<float>;
using BlockWeights = BlockWeightsT<float>;
using Weights = WeightsT<float>;

// Zero-filled weights of the right shapes for `config`.
template <typename T>
WeightsT<T> zeroWeights(const ModelConfig& config);

// Convert between scalar types (for double-precision gradient checks).
template <typename To, typename From>
WeightsT<To> castWeights(const WeightsT<From>& w);

namespace detail {
// The list of tensors, once. `fn(path, tensor)` gets every Eigen matrix or vector
// except linear weights, which go to `linearWeight(path, linear)`.
template <typename W, typename Fn, typename LinearFn>
void visitTensors(const ModelConfig& c, W& w, Fn&& fn, LinearFn&& linearWeight) {
    auto norm = [&](const std::string& path, auto& n) {
        fn(path + "/weight", n.weight);
        if (c.normBiases()) fn(path + "/bias", n.bias);
    };
    fn(std::string("/embed/token"), w.tokenEmbedding);
    if (c.learnedPositions()) fn(std::string("/embed/position"), w.positionEmbedding);
    for (int i = 0; i < c.nLayers; ++i) {
        auto& b = w.blocks[i];
        const std::string p = "/blocks/" + std::to_string(i);
        if (c.preNorms()) norm(p + "/norm1", b.norm1);
        decltype(&b.q) attn[] = {&b.q, &b.k, &b.v, &b.o};
        const char* attnNames[] = {"q", "k", "v", "o"};
        for (int j = 0; j < 4; ++j) {
            linearWeight(p + "/attn/" + attnNames[j] + "/weight", *attn[j]);
            if (j < 3 ? c.qkvBiases() : c.attnOutBias()) fn(p + "/attn/" + attnNames[j] + "/bias", attn[j]->bias);
        }
        if (c.qkNorm() != QkNorm::None) {
            fn(p + "/attn/q_norm/weight", b.qNorm.weight);
            fn(p + "/attn/k_norm/weight", b.kNorm.weight);
        }
        if (c.postNorms()) norm(p + "/post_attn_norm", b.postAttnNorm);
        if (c.preNorms() && !c.sharedBlockNorm()) norm(p + "/norm2", b.norm2);
        if (c.moeLayer(i)) {
            // Mutable weights get their experts here, so that every reader and writer
            // that fills weights through this list sizes them the same way.
            if constexpr (!std::is_const_v<W>) b.moe.experts.resize(size_t(c.nExperts));
            MWB_CHECK(b.moe.experts.size() == size_t(c.nExperts));
            linearWeight(p + "/moe/router/weight", b.moe.router);
            auto expert = [&](const std::string& e, auto& x) {
                linearWeight(e + "/gate/weight", x.gate);
                linearWeight(e + "/up/weight", x.up);
                linearWeight(e + "/down/weight", x.down);
            };
            for (int e = 0; e < c.nExperts; ++e) expert(p + "/moe/experts/" + std::to_string(e), b.moe.experts[e]);
            if (c.dSharedExpert > 0) {
                expert(p + "/moe/shared", b.moe.shared);
                linearWeight(p + "/moe/shared_gate/weight", b.moe.sharedGate);
            }
            if (c.postNorms()) norm(p + "/post_mlp_norm", b.postMlpNorm);
            continue;
        }
        linearWeight(p + "/mlp/up/weight", b.up);
        if (c.mlpBiases()) fn(p + "/mlp/up/bias", b.up.bias);
        if (c.gatedMlp()) linearWeight(p + "/mlp/gate/weight", b.gate);
        linearWeight(p + "/mlp/down/weight", b.down);
        if (c.mlpBiases()) fn(p + "/mlp/down/bias", b.down.bias);
        if (c.postNorms()) norm(p + "/post_mlp_norm", b.postMlpNorm);
    }
    norm(std::string("/final_norm"), w.finalNorm);
    if (!c.tieEmbeddings) fn(std::string("/lm_head/weight"), w.lmHead);
    if (c.lmHeadBias()) fn(std::string("/lm_head/bias"), w.lmHeadBias);
}
}  // namespace detail

// Visit every tensor with its HDF5 path, in file order. `fn(path, Eigen matrix or vector&)`;
// the tensor is valid only during the call.
// Used by the file writer, the reader, model diff and the optimiser, so that the list
// of tensors exists once. A weight kept in float16 cannot be changed through this
// (the mutable version throws); the const version passes a float copy made for the
// call, one matrix at a time.
template <typename T, typename Fn>
void forEachTensor(const ModelConfig& c, WeightsT<T>& w, Fn&& fn) {
    detail::visitTensors(c, w, fn, [&](const std::string& path, LinearT<T>& l) {
        if (l.isHalf()) throw Error(path + " is kept in float16 and cannot be changed in place");
        fn(path, l.weight);
    });
}

template <typename T, typename Fn>
void forEachTensor(const ModelConfig& c, const WeightsT<T>& w, Fn&& fn) {
    detail::visitTensors(c, w, fn, [&](const std::string& path, const LinearT<T>& l) {
        MatrixT<T> scratch;
        fn(path, l.weightIn(scratch));
    });
}

// True when some linear weight is kept in float16.
template <typename T>
bool hasHalfWeights(const WeightsT<T>& w) {
    for (const auto& b : w.blocks) {
        for (const auto* l : {&b.q, &b.k, &b.v, &b.o, &b.up, &b.gate, &b.down})
            if (l->isHalf()) return true;
        for (const auto* e : {&b.moe.shared})
            if (e->gate.isHalf() || e->up.isHalf() || e->down.isHalf()) return true;
        for (const auto& e : b.moe.experts)
            if (e.gate.isHalf() || e.up.isHalf() || e.down.isHalf()) return true;
    }
    return false;
}

// Expected shape {rows, cols} of the tensor at `path` (cols = 1 for vectors).
std::pair<long, long> expectedShape(const ModelConfig& c, const std::string& path);

}  // namespace mwb
