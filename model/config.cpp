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
    const N hd = c.dHead();
    const N qRows = N(c.nHeads) * hd, kvRows = N(c.nKvHeads) * hd;
    const bool gpt2 = c.architecture == Architecture::Gpt2;

    N block = 0;
    block += gpt2 ? 2 * d : d;                        // norm1
    block += qRows * d + 2 * kvRows * d + d * qRows;  // q, k, v, o weights
    if (gpt2) block += qRows + 2 * kvRows + d;        // q, k, v, o biases
    else if (c.qkvBias) block += qRows + 2 * kvRows;  // q, k, v biases
    block += gpt2 ? 2 * d : d;                        // norm2
    block += f * d + d * f;                           // up, down
    if (gpt2) block += f + d;                         // up, down biases
    if (!gpt2) block += f * d;                        // gate

    N total = v * d;                                  // token embedding
    if (gpt2) total += N(c.nCtx) * d;                 // position embedding
    total += N(c.nLayers) * block;
    total += gpt2 ? 2 * d : d;                        // final norm
    if (!c.tieEmbeddings) total += v * d;             // lm_head
    return total;
}

std::string formatNumber(double x) {
    std::ostringstream out;
    out << x;
    return out.str();
}

}  // namespace

int64_t ModelConfig::parameterCount() const { return countParameters<int64_t>(*this); }

std::string toString(Architecture a) {
    switch (a) {
        case Architecture::Gpt2: return "gpt2";
        case Architecture::Llama: return "llama";
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

RopeScalingType parseRopeScalingType(const std::string& s) {
    if (s == "none") return RopeScalingType::None;
    if (s == "linear") return RopeScalingType::Linear;
    if (s == "llama3") return RopeScalingType::Llama3;
    throw InvalidInput("unknown rotary scaling '" + s + "' (expected none, linear or llama3)");
}

double ropeInverseFrequency(const ModelConfig& c, int i, int dHead) {
    const double invFreq = std::pow(double(c.ropeTheta), -2.0 * i / dHead);
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

Architecture parseArchitecture(const std::string& s) {
    if (s == "gpt2") return Architecture::Gpt2;
    if (s == "llama") return Architecture::Llama;
    throw InvalidInput("unknown architecture '" + s + "' (expected gpt2 or llama)");
}

Activation parseActivation(const std::string& s) {
    if (s == "gelu_tanh") return Activation::GeluTanh;
    if (s == "gelu") return Activation::Gelu;
    if (s == "relu") return Activation::Relu;
    if (s == "silu") return Activation::Silu;
    throw InvalidInput("unknown activation '" + s + "' (expected gelu_tanh, gelu, relu or silu)");
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
    if (c.dModel % c.nHeads != 0)
        return "d_model (" + std::to_string(c.dModel) + ") is not divisible by n_head (" +
               std::to_string(c.nHeads) + ")";
    if (c.nHeads % c.nKvHeads != 0)
        return "n_head (" + std::to_string(c.nHeads) + ") is not divisible by n_kv_head (" +
               std::to_string(c.nKvHeads) + ")";
    if (c.isLlama() && c.dHead() % 2 != 0)
        return "head_dim (" + std::to_string(c.dHead()) +
               ") is odd, but llama rotary embeddings need an even head_dim";
    if (!std::isfinite(c.normEps) || c.normEps < 0.0f)  // 0 is fine for hand-made test models
        return "norm_eps (" + formatNumber(c.normEps) + ") must be zero or a positive number";
    if (c.isLlama() && (!std::isfinite(c.ropeTheta) || c.ropeTheta <= 0.0f))
        return "rope_theta (" + formatNumber(c.ropeTheta) + ") must be a positive number";
    if (const RopeScaling& r = c.ropeScaling; c.isLlama() && r.type != RopeScalingType::None) {
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
    const double count = countParameters<double>(c);
    if (count > double(kMaxParameters))
        return "the sizes declare about " + formatNumber(count) +
               " parameters, more than this program can hold";
    return {};
}

}  // namespace mwb
