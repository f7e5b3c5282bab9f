// Helpers shared by the GUI tests: small random models built in memory.
#pragma once

#include <memory>

#include "model/model.h"
#include "model/random_init.h"

namespace mwb::test {

// A GPT-2 shaped random model with the default tokenizer (vocab 1024, ctx 128).
// Bigger layers/width make traces slow enough to cancel and to measure latency.
inline std::shared_ptr<const Model> randomGpt2(int nLayers = 2, int dModel = 64, uint64_t seed = 1) {
    ModelConfig c = namedShape("gpt2-tiny");
    c.nLayers = nLayers;
    c.dModel = dModel;
    c.dFf = 4 * dModel;
    c.name = "test-gpt2";
    return std::make_shared<const Model>(randomModel(c, seed));
}

// A copy of `model` that records one (empty) edit: what the workspace counts as
// unsaved once set with edited = true, the file having no edits.
inline std::shared_ptr<const Model> withEditRecord(const std::shared_ptr<const Model>& model) {
    auto copy = std::make_shared<Model>(*model);
    EditRecord record;
    record.method = "rome";
    record.layers = {0};
    record.subject = "test";
    record.prompt = "{} is";
    record.targetNew = " x";
    record.created = "2024-01-01T00:00:00Z";
    record.left = {Matrix::Zero(model->config.dModel, 1)};
    record.right = {Matrix::Zero(model->config.dFf, 1)};
    copy->edits.push_back(record);
    return copy;
}

}  // namespace mwb::test
