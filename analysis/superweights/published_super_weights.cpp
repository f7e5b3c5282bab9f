#include "analysis/superweights/published_super_weights.h"

#include <algorithm>

namespace mwb {

namespace {

constexpr const char* kSource =
    "Yu et al. 2024, The Super Weight in Large Language Models, arXiv:2411.07191, Table 2";

// Which of the project's architectures runs a model_type of the table (OLMo 1's
// "olmo" is not one of them: its entries never match a loaded model).
bool sameArchitecture(const std::string& modelType, Architecture a) {
    if (modelType == "llama" || modelType == "mistral") return a == Architecture::Llama;
    if (modelType == "phi3") return a == Architecture::Phi3;
    return false;
}

}  // namespace

const std::vector<PublishedSuperWeights>& publishedSuperWeights() {
    static const std::vector<PublishedSuperWeights> table = {
        {"huggyllama/llama-7b", "llama", 32, 4096, 11008, 32000, 2048, {{2, 3968, 7003}}},
        {"huggyllama/llama-13b", "llama", 40, 5120, 13824, 32000, 2048, {{2, 2231, 2278}, {2, 2231, 6939}}},
        {"huggyllama/llama-30b", "llama", 60, 6656, 17920, 32000, 2048,
         {{3, 5633, 12817}, {3, 5633, 17439}, {10, 5633, 14386}}},
        {"meta-llama/Llama-2-7b-hf", "llama", 32, 4096, 11008, 32000, 4096, {{1, 2533, 7890}}},
        {"meta-llama/Llama-2-13b-hf", "llama", 40, 5120, 13824, 32000, 4096, {{3, 4743, 7678}}},
        {"meta-llama/Meta-Llama-3-8B", "llama", 32, 4096, 14336, 128256, 8192,
         {{1, 788, 2427}, {1, 1384, 2427}, {1, 4062, 2427}}},
        {"mistralai/Mistral-7B-v0.1", "mistral", 32, 4096, 14336, 32000, 32768, {{1, 2070, 7310}}},
        {"allenai/OLMo-1B-0724-hf", "olmo", 16, 2048, 8192, 50304, 4096, {{1, 1764, 1710}, {2, 1764, 8041}}},
        {"allenai/OLMo-7B-0724-hf", "olmo", 32, 4096, 11008, 50304, 4096,
         {{1, 269, 7467}, {2, 269, 8275}, {7, 269, 453}, {24, 269, 2300}}},
        {"microsoft/Phi-3-mini-4k-instruct", "phi3", 32, 3072, 8192, 32064, 4096,
         {{2, 525, 808}, {2, 1693, 808}, {2, 1113, 808}, {4, 525, 2723}, {4, 1113, 2723}, {4, 1693, 2723}}},
    };
    return table;
}

std::optional<PublishedSuperWeights> publishedFor(const ModelConfig& c) {
    for (const auto& p : publishedSuperWeights())
        if (sameArchitecture(p.architecture, c.architecture) && p.nLayers == c.nLayers && p.dModel == c.dModel &&
            p.dFf == c.dFf && p.vocabSize == c.vocabSize && p.nCtx == c.nCtx)
            return p;
    return std::nullopt;
}

nlohmann::json publishedComparisonJson(const PublishedSuperWeights& published, const Model& model,
                                       const std::vector<WeightCoord>& detected) {
    nlohmann::json weights = nlohmann::json::array();
    for (const auto& w : published.coords) {
        const auto& down = model.weights.blocks[w.layer].down;
        const double value = down.weight.size() ? double(down.weight(w.row, w.col)) : 0.0;
        weights.push_back({{"layer", w.layer},
                           {"row", w.row},
                           {"col", w.col},
                           {"value", value},
                           {"detected", std::find(detected.begin(), detected.end(), w) != detected.end()}});
    }
    return {{"model", published.model}, {"source", kSource}, {"weights", weights}};
}

}  // namespace mwb
