// Names, parameter count and consistency check of a ModelConfig (docs/file-format.md).
#include "model/config.h"

#include <cmath>
#include <numbers>
#include <sstream>

#include "tensor/errors.h"

namespace mwb {

namespace {

// Largest size accepted for any single dimension and for the whole model. They only
// guard against absurd declared shapes (a damaged file) before anything is allocated.
constexpr int64_t kMaxDimension = int64_t(1) << 24;   // 16 M
constexpr int64_t kMaxParameters = int64_t(1) << 38;  // 256 G parameters

// The parameter count in the number type N: double to check sizes that would overflow
// int64_t, int64_t for the exact count.
template <typename N>
N countParameters(const ModelConfig& c) {
    const N d = c.dModel, f = c.dFf, v = c.vocabSize;
    const N qRows = N(c.nHeads) * c.dHead(), kvRows = N(c.nKvHeads) * c.dHead();
    const N norm = c.normBiases() ? 2 * d : d;

    N block = 0, sparse = 0;
    if (c.preNorms()) block += c.sharedBlockNorm() ? norm : 2 * norm;  // norm1, norm2
    if (c.postNorms()) block += 2 * norm;
    if (c.qkNorm() == QkNorm::PerHead) block += 2 * N(c.dHead());
    if (c.qkNorm() == QkNorm::Whole) block += qRows + kvRows;
    block += qRows * d + 2 * kvRows * d + d * qRows;  // q, k, v, o weights
    if (c.qkvBiases()) block += qRows + 2 * kvRows;
    if (c.attnOutBias()) block += d;
    N dense = (c.gatedMlp() ? 3 : 2) * f * d;         // (gate,) up, down
    if (c.mlpBiases()) dense += f + d;
    if (c.moe()) {                                    // router, experts, shared expert and its gate
        sparse = N(c.nExperts) * d + N(c.nExperts) * 3 * N(c.dExpert) * d;
        if (c.dSharedExpert > 0) sparse += 3 * N(c.dSharedExpert) * d + d;
    }
    const N sparseLayers = c.moe() ? N(c.moeLayerCount()) : N(0);

    N total = v * d;                                  // token embedding
    if (c.learnedPositions()) total += N(c.nCtx) * d;
    total += N(c.nLayers) * block + (N(c.nLayers) - sparseLayers) * dense + sparseLayers * sparse;
    total += norm;                                    // final norm
    if (!c.tieEmbeddings) total += v * d;             // lm_head
    if (c.lmHeadBias()) total += v;
    return total;
}

// The mixture-of-experts settings: consistent with each other and with the block.
std::string moeProblem(const ModelConfig& c) {
    if (c.nExperts < 0 || c.nExperts > kMaxDimension)
        return "n_experts (" + std::to_string(c.nExperts) + ") must be zero (a dense model) or positive";
    if (c.nExperts == 0) {
        if (c.nExpertsPerToken != 0 || c.dSharedExpert != 0 || !c.denseLayers.empty())
            return "the model sets mixture-of-experts sizes but has no experts (n_experts is 0)";
        return {};
    }
    if (c.nExpertsPerToken < 1 || c.nExpertsPerToken > c.nExperts)
        return "n_experts_per_token (" + std::to_string(c.nExpertsPerToken) + ") must be between 1 and n_experts (" +
               std::to_string(c.nExperts) + ")";
    if (c.dExpert <= 0 || c.dExpert > kMaxDimension)
        return "d_expert (" + std::to_string(c.dExpert) + ") must be positive";
    if (c.dSharedExpert < 0 || c.dSharedExpert > kMaxDimension)
        return "d_shared_expert (" + std::to_string(c.dSharedExpert) + ") must be zero (none) or positive";
    if (c.moeEvery < 1 || c.moeEvery > kMaxDimension)
        return "moe_every (" + std::to_string(c.moeEvery) + ") must be positive";
    for (int l : c.denseLayers)
        if (l < 0 || l >= c.nLayers)
            return "dense layer " + std::to_string(l) + " is outside the model's " + std::to_string(c.nLayers) +
                   " layers";
    if (!c.gatedMlp() || c.mlpBiases())
        return "mixture-of-experts layers are implemented for gated MLPs without biases, not for " +
               toString(c.architecture);
    return {};
}

std::string formatNumber(double x) {
    std::ostringstream out;
    out << x;
    return out.str();
}

}  // namespace

int64_t ModelConfig::parameterCount() const { return countParameters<int64_t>(*this); }

bool ModelConfig::rmsNorm() const {
    return architecture != Architecture::Gpt2 && architecture != Architecture::GptJ &&
           architecture != Architecture::GptNeoX;
}

RotaryStyle ModelConfig::rotaryStyle() const {
    return architecture == Architecture::GptJ ? RotaryStyle::Interleaved : RotaryStyle::Half;
}

bool ModelConfig::parallelBlock() const {
    return architecture == Architecture::GptJ || (architecture == Architecture::GptNeoX && parallelResidual);
}

bool ModelConfig::gatedMlp() const {
    return architecture != Architecture::Gpt2 && architecture != Architecture::GptJ &&
           architecture != Architecture::GptNeoX;
}

bool ModelConfig::qkvBiases() const {
    return architecture == Architecture::Gpt2 || architecture == Architecture::GptNeoX ||
           (architecture == Architecture::Llama && qkvBias);
}

bool ModelConfig::attnOutBias() const {
    return architecture == Architecture::Gpt2 || architecture == Architecture::GptNeoX;
}

bool ModelConfig::mlpBiases() const {
    return architecture == Architecture::Gpt2 || architecture == Architecture::GptJ ||
           architecture == Architecture::GptNeoX;
}

bool ModelConfig::moeLayer(int layer) const {
    if (nExperts <= 0 || moeEvery <= 0 || (layer + 1) % moeEvery != 0) return false;
    for (int l : denseLayers)
        if (l == layer) return false;
    return true;
}

int ModelConfig::moeLayerCount() const {
    int n = 0;
    for (int l = 0; l < nLayers; ++l) n += moeLayer(l) ? 1 : 0;
    return n;
}

QkNorm ModelConfig::qkNorm() const {
    if (architecture == Architecture::Qwen3) return QkNorm::PerHead;
    if (architecture == Architecture::Olmo2 || architecture == Architecture::Olmoe) return QkNorm::Whole;
    return QkNorm::None;
}

float ModelConfig::embeddingScale() const {
    return scaledEmbeddings() ? static_cast<float>(std::sqrt(double(dModel))) : 1.0f;
}

float ModelConfig::attentionScale() const {
    const float base = queryPreAttnScalar > 0.0f ? queryPreAttnScalar : float(dHead());
    return 1.0f / std::sqrt(base);
}

std::string toString(Architecture a) {
    switch (a) {
        case Architecture::Gpt2: return "gpt2";
        case Architecture::Llama: return "llama";
        case Architecture::GptJ: return "gptj";
        case Architecture::GptNeoX: return "gpt_neox";
        case Architecture::Qwen3: return "qwen3";
        case Architecture::Gemma2: return "gemma2";
        case Architecture::Phi3: return "phi3";
        case Architecture::Olmo2: return "olmo2";
        case Architecture::Olmoe: return "olmoe";
    }
    return "unknown";
}

std::string toString(Activation a) {
    switch (a) {
        case Activation::GeluTanh: return "gelu_tanh";
        case Activation::Gelu: return "gelu";
        case Activation::Relu: return "relu";
        case Activation::Silu: return "silu";
    }
    return "unknown";
}

std::string toString(RopeScalingType t) {
    switch (t) {
        case RopeScalingType::None: return "none";
        case RopeScalingType::Linear: return "linear";
        case RopeScalingType::Llama3: return "llama3";
    }
    return "unknown";
}

std::string toString(SlidingLayers s) { return s == SlidingLayers::Even ? "even" : "all"; }

SlidingLayers parseSlidingLayers(const std::string& s) {
    if (s == "all") return SlidingLayers::All;
    if (s == "even") return SlidingLayers::Even;
    throw InvalidInput("unknown sliding-window layers " + quote(s) + " (expected all or even)");
}

RopeScalingType parseRopeScalingType(const std::string& s) {
    if (s == "none") return RopeScalingType::None;
    if (s == "linear") return RopeScalingType::Linear;
    if (s == "llama3") return RopeScalingType::Llama3;
    throw InvalidInput("unknown rotary scaling " + quote(s) + " (expected none, linear or llama3)");
}

double ropeInverseFrequency(const ModelConfig& c, int i, int rotaryDims) {
    const double invFreq = std::pow(double(c.ropeTheta), -2.0 * i / rotaryDims);
    const RopeScaling& r = c.ropeScaling;
    switch (r.type) {
        case RopeScalingType::None: return invFreq;
        case RopeScalingType::Linear: return invFreq / r.factor;
        case RopeScalingType::Llama3: {
            const double wavelength = 2.0 * std::numbers::pi / invFreq;
            const double lowFreqWavelength = r.originalContext / r.lowFreqFactor;
            const double highFreqWavelength = r.originalContext / r.highFreqFactor;
            if (wavelength < highFreqWavelength) return invFreq;
            if (wavelength > lowFreqWavelength) return invFreq / r.factor;
            const double smooth =
                (r.originalContext / wavelength - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
            return (1.0 - smooth) * invFreq / r.factor + smooth * invFreq;
        }
    }
    return invFreq;
}

Activation defaultActivation(Architecture a) {
    switch (a) {
        case Architecture::Gpt2:
        case Architecture::GptJ:
        case Architecture::Gemma2: return Activation::GeluTanh;
        case Architecture::GptNeoX: return Activation::Gelu;
        default: return Activation::Silu;
    }
}

Architecture parseArchitecture(const std::string& s) {
    if (s == "gpt2") return Architecture::Gpt2;
    for (Architecture a : {Architecture::Gpt2, Architecture::Llama, Architecture::GptJ, Architecture::GptNeoX,
                           Architecture::Qwen3, Architecture::Gemma2, Architecture::Phi3, Architecture::Olmo2,
                           Architecture::Olmoe})
        if (s == toString(a)) return a;
    throw InvalidInput("unknown architecture " + quote(s) +
                       " (expected gpt2, llama, gptj, gpt_neox, qwen3, gemma2, phi3, olmo2 or olmoe)");
}

Activation parseActivation(const std::string& s) {
    if (s == "gelu_tanh") return Activation::GeluTanh;
    if (s == "gelu") return Activation::Gelu;
    if (s == "relu") return Activation::Relu;
    if (s == "silu") return Activation::Silu;
    throw InvalidInput("unknown activation " + quote(s) + " (expected gelu_tanh, gelu, relu or silu)");
}

std::vector<std::string> architecturePieces(const ModelConfig& c) {
    std::vector<std::string> out;
    out.push_back(c.rmsNorm() ? (c.normWeightOffset() != 0.0f ? "RMSNorm (1 + w)" : "RMSNorm") : "LayerNorm");
    if (c.learnedPositions()) {
        out.push_back("learned positions");
    } else {
        std::string rotary = "rotary " + std::to_string(c.rotaryDims()) + " of " + std::to_string(c.dHead());
        if (c.rotaryStyle() == RotaryStyle::Interleaved) rotary += ", interleaved";
        if (c.ropeScaling.type != RopeScalingType::None)
            rotary += ", " + toString(c.ropeScaling.type) + " scaling x" + formatNumber(c.ropeScaling.factor);
        out.push_back(rotary + ", theta " + formatNumber(c.ropeTheta));
    }
    if (c.parallelBlock()) out.push_back("parallel attention and MLP");
    if (!c.preNorms()) out.push_back("post-norms only");
    else if (c.postNorms()) out.push_back("pre- and post-norms");
    if (c.qkNorm() == QkNorm::PerHead) out.push_back("q/k norm per head");
    if (c.qkNorm() == QkNorm::Whole) out.push_back("q/k norm");
    out.push_back(c.gatedMlp() ? "gated MLP" : "MLP");
    if (c.moe()) {
        std::string experts = std::to_string(c.nExperts) + " experts, top " + std::to_string(c.nExpertsPerToken) +
                              (c.normTopK ? " renormalised" : "") + ", width " + std::to_string(c.dExpert);
        if (c.dSharedExpert > 0) experts += ", shared expert " + std::to_string(c.dSharedExpert);
        if (const int sparse = c.moeLayerCount(); sparse < c.nLayers)
            experts += ", in " + std::to_string(sparse) + " of " + std::to_string(c.nLayers) + " layers";
        out.push_back(experts);
    }
    if (c.qkvBiases() && !c.attnOutBias()) out.push_back("q/k/v biases");
    if (c.lmHeadBias()) out.push_back("LM-head bias");
    if (c.slidingWindow > 0)
        out.push_back("sliding window " + std::to_string(c.slidingWindow) +
                      (c.slidingLayers == SlidingLayers::Even ? " on even layers" : ""));
    if (c.attnSoftcap > 0 || c.finalSoftcap > 0)
        out.push_back("soft-cap " + formatNumber(c.attnSoftcap) + " / " + formatNumber(c.finalSoftcap));
    if (c.scaledEmbeddings()) out.push_back("embeddings x sqrt(d_model)");
    return out;
}

std::string configProblem(const ModelConfig& c) {
    const std::pair<const char*, int> sizes[] = {
        {"n_layer", c.nLayers},   {"n_head", c.nHeads},        {"n_kv_head", c.nKvHeads},
        {"d_model", c.dModel},    {"d_ff", c.dFf},             {"vocab_size", c.vocabSize},
        {"n_ctx", c.nCtx}};
    for (const auto& [name, value] : sizes) {
        if (value <= 0) return std::string(name) + " is " + std::to_string(value) + ", must be positive";
        if (value > kMaxDimension)
            return std::string(name) + " is " + std::to_string(value) + ", larger than the limit " +
                   std::to_string(kMaxDimension);
    }
    if (c.headDim < 0 || c.headDim > kMaxDimension)
        return "head_dim (" + std::to_string(c.headDim) + ") must be positive";
    if (c.headDim == 0 && c.dModel % c.nHeads != 0)
        return "d_model (" + std::to_string(c.dModel) + ") is not divisible by n_head (" +
               std::to_string(c.nHeads) + ")";
    if (c.nHeads % c.nKvHeads != 0)
        return "n_head (" + std::to_string(c.nHeads) + ") is not divisible by n_kv_head (" +
               std::to_string(c.nKvHeads) + ")";
    if (c.rotary() && c.rotaryDims() % 2 != 0)
        return std::string(c.rotaryDim > 0 ? "rotary_dim" : "head_dim") + " (" + std::to_string(c.rotaryDims()) +
               ") is odd, but rotary embeddings rotate pairs of dimensions";
    if (c.rotary() && (c.rotaryDim < 0 || c.rotaryDims() > c.dHead()))
        return "rotary_dim (" + std::to_string(c.rotaryDim) + ") must be at most head_dim (" +
               std::to_string(c.dHead()) + ")";
    if (c.slidingWindow < 0)
        return "sliding_window (" + std::to_string(c.slidingWindow) + ") must be zero (none) or positive";
    for (const auto& [name, value] : {std::pair<const char*, float>{"attn_logit_softcapping", c.attnSoftcap},
                                      {"final_logit_softcapping", c.finalSoftcap},
                                      {"query_pre_attn_scalar", c.queryPreAttnScalar}})
        if (!std::isfinite(value) || value < 0.0f)
            return std::string(name) + " (" + formatNumber(value) + ") must be zero (off) or a positive number";
    if (!std::isfinite(c.normEps) || c.normEps < 0.0f)  // 0 is fine for hand-made test models
        return "norm_eps (" + formatNumber(c.normEps) + ") must be zero or a positive number";
    if (c.rotary() && (!std::isfinite(c.ropeTheta) || c.ropeTheta <= 0.0f))
        return "rope_theta (" + formatNumber(c.ropeTheta) + ") must be a positive number";
    if (const RopeScaling& r = c.ropeScaling; c.rotary() && r.type != RopeScalingType::None) {
        if (!std::isfinite(r.factor) || r.factor <= 0.0)
            return "rope_scaling factor (" + formatNumber(r.factor) + ") must be a positive number";
        if (r.type == RopeScalingType::Llama3 &&
            !(r.lowFreqFactor > 0.0 && r.highFreqFactor > r.lowFreqFactor && std::isfinite(r.highFreqFactor)))
            return "rope_scaling low_freq_factor (" + formatNumber(r.lowFreqFactor) + ") and high_freq_factor (" +
                   formatNumber(r.highFreqFactor) + ") must be positive with low < high";
        if (r.type == RopeScalingType::Llama3 && r.originalContext <= 0)
            return "rope_scaling original_max_position_embeddings (" + std::to_string(r.originalContext) +
                   ") must be positive";
    }
    if (const std::string problem = moeProblem(c); !problem.empty()) return problem;
    const double count = countParameters<double>(c);
    if (count > double(kMaxParameters))
        return "the sizes declare about " + formatNumber(count) +
               " parameters, more than this program can hold";
    return {};
}

void requireDenseModel(const ModelConfig& c, const std::string& what) {
    if (c.moe())
        throw InvalidInput(what + " works on one MLP per layer and does not yet support a mixture-of-experts model (" +
                           std::to_string(c.moeLayerCount()) + " of its " + std::to_string(c.nLayers) +
                           " layers route tokens to experts)");
}

}  // namespace mwb
