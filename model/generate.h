// Text generation with the key/value cache: greedy, or sampling with
// temperature, top-k and top-p (nucleus) and a seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/progress.h"
#include "model/transformer.h"

namespace mwb {

struct SamplingOptions {
    float temperature = 0.0f;  // 0: greedy (argmax)
    int topK = 0;              // 0: no top-k cut
    float topP = 1.0f;         // 1: no nucleus cut
    uint64_t seed = 0;
};

struct GenerateOptions {
    int maxNewTokens = 32;
    SamplingOptions sampling;
    bool stopAtEos = true;
};

struct Generation {
    std::vector<int> promptIds;
    std::vector<int> newIds;
    bool stoppedAtEos = false;
    bool stoppedAtContext = false;  // the model's context filled up
};

// Stops early at EOS (when stopAtEos and the tokenizer has one) or when the context is full.
Generation generate(const Transformer& transformer, const std::vector<int>& promptIds,
                    const GenerateOptions& options, const ProgressFn& progress = {});

// The generated text, without the end-of-text token a generation stopped at (the
// ids keep it; stoppedAtEos says it was there).
std::string generatedText(const Tokenizer& tokenizer, const Generation& generation);

// Pick the next token from logits. `uniform` is a number in [0, 1).
int sampleToken(const Eigen::Ref<const RowVector>& logits, const SamplingOptions& options, double uniform);

}  // namespace mwb
