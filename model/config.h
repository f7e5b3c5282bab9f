// The shape of a transformer, as stored in the root attributes of a model file
// (docs/file-format.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mwb {

// The families of transformer the forward pass implements. Each is a set of choices
// of the pieces below (norm kind, positions, block layout, MLP, biases, q/k norms);
// the ModelConfig queries say which, so the passes read pieces, not family names.
//   gpt2     LayerNorm, learned positions, pre-norm sequential block, plain MLP, biases.
//   llama    RMSNorm, rotary (rotate-half), SwiGLU; Mistral, and Qwen 2 with qkvBias.
//   gptj     LayerNorm, partial interleaved rotary, one norm feeding attention and MLP
//            in parallel, MLP and LM-head biases (Wang & Komatsuzaki 2021).
//   gpt_neox LayerNorm, partial rotate-half rotary, biases everywhere, parallel or
//            sequential residual (Black et al. 2022, Pythia).
//   qwen3    llama with RMSNorm of each head's q and k before the rotation.
//   gemma2   RMSNorm with (1 + w) weights before and after both sublayers, embeddings
//            scaled by sqrt(d_model), GeGLU, logit soft-capping, alternating sliding
//            window (Gemma Team 2024, "Gemma 2").
//   phi3     llama whose checkpoints fuse q/k/v and gate/up (split on import).
//   olmo2    llama with RMSNorm of the whole q and k projections and norms after the
//            sublayers instead of before (OLMo Team 2024, "2 OLMo 2 Furious").
//   olmoe    llama with RMSNorm of the whole q and k projections, pre-norms as llama
//            (Muennighoff et al. 2024, "OLMoE").
// Any of the gated families may replace the MLP of some layers by a mixture of experts
// (ModelConfig::nExperts): Mixtral is llama with experts, Qwen2-MoE llama with q/k/v
// biases, experts and a shared expert, Qwen3-MoE qwen3 with experts, OLMoE olmoe with
// experts (docs/mixture-of-experts.md).
enum class Architecture { Gpt2, Llama, GptJ, GptNeoX, Qwen3, Gemma2, Phi3, Olmo2, Olmoe };
enum class Activation { GeluTanh, Gelu, Relu, Silu };

// Which dimensions of a head rotate together: Hugging Face's rotate-half pairs (i, i + r/2),
// GPT-J's interleaved pairs (2i, 2i + 1), r the rotary dimension.
enum class RotaryStyle { Half, Interleaved };
// RMSNorm of q and k before the rotation: of each head (Qwen 3), of the whole projection (OLMo 2).
enum class QkNorm { None, PerHead, Whole };
// Which layers attend only within the sliding window: all, or the even ones (Gemma 2).
enum class SlidingLayers { All, Even };

// Rotary frequencies stretched for a longer context (Hugging Face's rope_scaling).
// linear: every frequency divided by `factor` (position interpolation, Chen et al.
// 2023, "Extending Context Window of Large Language Models via Positional
// Interpolation"). llama3 (Llama 3.1): frequencies whose wavelength exceeds
// originalContext / lowFreqFactor are divided by `factor`, those below
// originalContext / highFreqFactor kept, and those in between interpolated smoothly.
enum class RopeScalingType { None, Linear, Llama3 };

struct RopeScaling {
    RopeScalingType type = RopeScalingType::None;
    double factor = 1.0;
    double lowFreqFactor = 1.0;    // llama3 only
    double highFreqFactor = 4.0;   // llama3 only
    int originalContext = 8192;    // llama3 only
};

struct ModelConfig {
    Architecture architecture = Architecture::Gpt2;
    int nLayers = 0;
    int nHeads = 0;
    int nKvHeads = 0;
    int dModel = 0;
    int dFf = 0;
    int vocabSize = 0;
    int nCtx = 0;
    float normEps = 1e-5f;
    Activation activation = Activation::GeluTanh;
    float ropeTheta = 10000.0f;
    RopeScaling ropeScaling;  // rotary architectures
    bool qkvBias = false;     // llama only: biases on q, k and v (Qwen 2)
    bool tieEmbeddings = false;
    // 0: d_model / n_head. Qwen 3 and Gemma 2 choose it independently.
    int headDim = 0;
    // Rotated dimensions of each head (partial rotary, GPT-J and GPT-NeoX); 0: all.
    int rotaryDim = 0;
    // gpt_neox: attention and MLP both read the block input (use_parallel_residual).
    bool parallelResidual = false;
    // Keys farther back than this are masked (i - j >= slidingWindow); 0: none.
    int slidingWindow = 0;
    SlidingLayers slidingLayers = SlidingLayers::All;
    // Gemma 2: c * tanh(x / c) of the attention scores and of the logits; 0: off.
    float attnSoftcap = 0.0f;
    float finalSoftcap = 0.0f;
    // Gemma 2: scores are scaled by queryPreAttnScalar^-1/2 instead of dHead^-1/2; 0: dHead.
    float queryPreAttnScalar = 0.0f;
    // Mixture of experts (Shazeer et al. 2017; Fedus et al. 2022): in a sparse layer a
    // router (linear, softmax) picks nExpertsPerToken of nExperts gated MLPs of width
    // dExpert per token and mixes their outputs by the router's probabilities,
    // renormalised over the chosen ones when normTopK. 0 experts: a dense model.
    int nExperts = 0;
    int nExpertsPerToken = 0;
    int dExpert = 0;
    // Qwen2-MoE: a shared expert of this width every token uses, scaled by
    // sigmoid(shared_gate x); 0: none.
    int dSharedExpert = 0;
    bool normTopK = false;
    // Layer l is sparse when (l + 1) % moeEvery == 0 and l is not in denseLayers
    // (Qwen-MoE's decoder_sparse_step and mlp_only_layers); dense layers keep the MLP of
    // width dFf.
    int moeEvery = 1;
    std::vector<int> denseLayers;
    std::string name;

    int dHead() const { return headDim > 0 ? headDim : (nHeads > 0 ? dModel / nHeads : 0); }
    int qDim() const { return nHeads * dHead(); }
    int kvDim() const { return nKvHeads * dHead(); }
    int64_t parameterCount() const;

    // The pieces of the architecture (see Architecture).
    bool rmsNorm() const;
    bool learnedPositions() const { return architecture == Architecture::Gpt2; }
    bool rotary() const { return !learnedPositions(); }
    int rotaryDims() const { return rotaryDim > 0 ? rotaryDim : dHead(); }
    RotaryStyle rotaryStyle() const;
    // Attention and MLP read the same block input, their outputs summed into the residual.
    bool parallelBlock() const;
    // The MLP reads norm1's output (GPT-J has one norm per block); no norm2.
    bool sharedBlockNorm() const { return architecture == Architecture::GptJ; }
    bool preNorms() const { return architecture != Architecture::Olmo2; }
    bool postNorms() const { return architecture == Architecture::Gemma2 || architecture == Architecture::Olmo2; }
    // Norm weights w apply as (offset + w): Gemma's (1 + w).
    float normWeightOffset() const { return architecture == Architecture::Gemma2 ? 1.0f : 0.0f; }
    bool gatedMlp() const;
    bool qkvBiases() const;
    bool attnOutBias() const;
    bool mlpBiases() const;
    bool normBiases() const { return !rmsNorm(); }
    bool lmHeadBias() const { return architecture == Architecture::GptJ; }
    QkNorm qkNorm() const;
    // Gemma: the embeddings times sqrt(d_model), rounded to float as Hugging Face
    // rounds it to the weights' type; 1 elsewhere.
    bool scaledEmbeddings() const { return architecture == Architecture::Gemma2; }
    float embeddingScale() const;
    float attentionScale() const;
    bool moe() const { return nExperts > 0; }
    // Whether layer `layer`'s MLP is a mixture of experts.
    bool moeLayer(int layer) const;
    // The number of sparse layers.
    int moeLayerCount() const;
    bool slidingAt(int layer) const {
        return slidingWindow > 0 && (slidingLayers == SlidingLayers::All || layer % 2 == 0);
    }
};

std::string toString(Architecture a);
std::string toString(Activation a);
std::string toString(RopeScalingType t);  // "none", "linear", "llama3"
std::string toString(SlidingLayers s);    // "all", "even"
// The activation the architecture's released models use: GPT-2, GPT-J and Gemma 2 the
// tanh GELU, GPT-NeoX the exact GELU, the others SiLU.
Activation defaultActivation(Architecture a);
// Throw InvalidInput on unknown names.
Architecture parseArchitecture(const std::string& s);
Activation parseActivation(const std::string& s);
RopeScalingType parseRopeScalingType(const std::string& s);
SlidingLayers parseSlidingLayers(const std::string& s);

// The rotary inverse frequency of pair i of `rotaryDims` rotated dimensions
// (c.rotaryDims(); i < rotaryDims / 2): theta^(-2i / rotaryDims), scaled as
// c.ropeScaling says. Computed in double.
double ropeInverseFrequency(const ModelConfig& c, int i, int rotaryDims);

// The pieces of the architecture in words, for display ("RMSNorm", "rotary 32 of 128,
// interleaved", "parallel attention and MLP", "sliding window 4096 on even layers", ...).
std::vector<std::string> architecturePieces(const ModelConfig& c);

// Empty string when the shape is consistent, else one sentence saying what is wrong.
std::string configProblem(const ModelConfig& c);

// For analyses that read or change one MLP per layer (ROME, MEMIT, super weights, the
// differentiable pass): throws InvalidInput saying that `what` does not support a
// model with mixture-of-experts layers.
void requireDenseModel(const ModelConfig& c, const std::string& what);

}  // namespace mwb
