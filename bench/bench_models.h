// Models the benchmarks share.
#pragma once

#include <filesystem>
#include <string>

#include "io/hdf5_model_file.h"
#include "model/random_init.h"

namespace mwb::bench {

// The gpt2-small shape with random weights (seed 1) and the default tokenizer.
inline const Model& gpt2Small() {
    static const Model m = [] {
        Model model;
        model.config = namedShape("gpt2-small");
        model.weights = randomWeights(model.config, 1);
        model.tokenizer = Tokenizer(defaultTokenizer(model.config.architecture, model.config.vocabSize));
        return model;
    }();
    return m;
}

// The bundled demo model (MWB_SOURCE_DIR/resources/models/demo.h5), loaded once;
// nullptr when the file is missing.
inline const Model* demoModel() {
    static const std::string path = std::string(MWB_SOURCE_DIR) + "/resources/models/demo.h5";
    if (!std::filesystem::exists(path)) return nullptr;
    static const Model m = loadModel(path);
    return &m;
}

}  // namespace mwb::bench
