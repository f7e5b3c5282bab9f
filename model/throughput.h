// Inference speed in the manner of llama.cpp's llama-bench (`mwb bench`): prefills of
// random prompts and greedy decoding with the key/value cache, each repeated and
// summarised by the median, which a shared, noisy machine disturbs less than the mean.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "tensor/progress.h"

namespace mwb {

struct ThroughputOptions {
    int promptTokens = 512;  // N: tokens of each prefill
    int decodeTokens = 128;  // M: tokens decoded one at a time after each prefill
    int repeat = 5;          // R: how many prefills (each followed by its decoding)
    uint64_t seed = 1;       // of the random prompt ids
};

struct ThroughputResult {
    ThroughputOptions options;
    // Every repeat's time: the prefill, and the sum of its M decoding steps.
    std::vector<double> prefillSeconds, decodeSeconds;
    double medianPrefillSeconds = 0;
    // 2 × weightParameters × promptTokens / medianPrefillSeconds, in 10^9 per second.
    double prefillGflops = 0;
    // Median over the repeats of M / decode time; 0 when M is 0.
    double decodeTokensPerSecond = 0;
    long weightParameters = 0;
    int threads = 0;  // omp_get_max_threads() during the measurement
    std::string isa;  // matmulIsa()
};

// The parameters of the products a forward pass computes for every token: the linear
// weights of the blocks (q, k, v, o, up, gate, down; in a sparse layer the router, the
// experts one token uses and the shared expert) plus the unembedding. Embeddings
// (a lookup), norms and biases are left out, and so is attention's own work, which
// grows with the sequence; 2 × this × tokens is therefore the usual lower bound on a
// prefill's floating-point operations.
long weightParameters(const Model& model);

// Throws InvalidInput (one sentence) unless promptTokens >= 1, decodeTokens >= 0,
// repeat >= 1 and promptTokens + decodeTokens fit in the model's context.
void validateThroughputOptions(const ModelConfig& config, const ThroughputOptions& options);

// One untimed warm-up prefill (first-touch of the buffers, the thread pool), then
// `repeat` times: a prefill of promptTokens random ids computing the logits of every
// position (so that the unembedding counted by weightParameters is done for every
// token), then decodeTokens greedy steps with Transformer::extend. Progress is
// reported between the timed parts, never inside them; a false return cancels.
ThroughputResult measureThroughput(const Transformer& transformer, const ThroughputOptions& options,
                                   const ProgressFn& progress = {});

}  // namespace mwb
