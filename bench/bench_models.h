// Models the benchmarks share.
#pragma once

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

}  // namespace mwb::bench
