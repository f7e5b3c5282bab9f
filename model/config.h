// The shape of a transformer, as stored in the root attributes of a model file
// (docs/file-format.md).
#pragma once

#include <cstdint>
#include <string>

namespace mwb {

enum class Architecture { Gpt2, Llama };
enum class Activation { GeluTanh, Gelu, Relu, Silu };

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
    RopeScaling ropeScaling;  // llama only
    bool qkvBias = false;     // llama only: biases on q, k and v (Qwen 2)
    bool tieEmbeddings = false;
    std::string name;

    int dHead() const { return nHeads > 0 ? dModel / nHeads : 0; }
    bool isLlama() const { return architecture == Architecture::Llama; }
    int64_t parameterCount() const;
};

std::string toString(Architecture a);
std::string toString(Activation a);
std::string toString(RopeScalingType t);  // "none", "linear", "llama3"
// Throw InvalidInput on unknown names.
Architecture parseArchitecture(const std::string& s);
Activation parseActivation(const std::string& s);
RopeScalingType parseRopeScalingType(const std::string& s);

// The rotary inverse frequency of pair i of a head of dHead (i < dHead / 2):
// theta^(-2i / dHead), scaled as c.ropeScaling says. Computed in double.
double ropeInverseFrequency(const ModelConfig& c, int i, int dHead);

// Empty string when the shape is consistent, else one sentence saying what is wrong.
std::string configProblem(const ModelConfig& c);

}  // namespace mwb
