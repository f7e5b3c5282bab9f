// The shape of a transformer, as stored in the root attributes of a model file
// (docs/file-format.md).
#pragma once

#include <cstdint>
#include <string>

namespace mwb {

enum class Architecture { Gpt2, Llama };
enum class Activation { GeluTanh, Gelu, Relu, Silu };

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
    bool tieEmbeddings = false;
    std::string name;

    int dHead() const { return nHeads > 0 ? dModel / nHeads : 0; }
    bool isLlama() const { return architecture == Architecture::Llama; }
    int64_t parameterCount() const;
};

std::string toString(Architecture a);
std::string toString(Activation a);
// Throw InvalidInput on unknown names.
Architecture parseArchitecture(const std::string& s);
Activation parseActivation(const std::string& s);

// Empty string when the shape is consistent, else one sentence saying what is wrong.
std::string configProblem(const ModelConfig& c);

}  // namespace mwb
