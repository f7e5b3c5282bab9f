// The super weights Yu et al. published for real models, kept as a cross-check: when a
// loaded model has the architecture and shape of one of them, detection's findings can
// be set beside the published coordinates.
//
// Source: Yu et al. 2024, "The Super Weight in Large Language Models" (arXiv:2411.07191),
// Table 2, as listed in the authors' code (SUPER_WEIGHTS_MAP of mit-han-lab's
// super-weight repository); Llama-2-7B and Llama-2-13B from Table 2. Coordinates are
// (layer, row, column) of mlp.down_proj.weight, row = output (d_model) channel,
// column = input (d_ff) channel, as this project's layer:row:col. Transcriptions of
// Table 2 disagree on OLMo-1B's second weight (layer 1 or 2); the authors' code says 2.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/superweights/weight_selection.h"
#include "model/model.h"

namespace mwb {

struct PublishedSuperWeights {
    std::string model;         // Hugging Face id
    std::string architecture;  // model_type: llama, mistral, olmo, phi3
    int nLayers = 0, dModel = 0, dFf = 0, vocabSize = 0, nCtx = 0;
    std::vector<WeightCoord> coords;
};

// Every model of the table.
const std::vector<PublishedSuperWeights>& publishedSuperWeights();

// The entry whose architecture and shape (layers, d_model, d_ff, vocabulary, context)
// the model has, if any.
std::optional<PublishedSuperWeights> publishedFor(const ModelConfig& config);

// The entry, with the loaded model's weight at each coordinate and whether detection
// found it: {"model", "source", "weights": [{layer, row, col, value, detected}]}.
nlohmann::json publishedComparisonJson(const PublishedSuperWeights& published, const Model& model,
                                       const std::vector<WeightCoord>& detected);

}  // namespace mwb
