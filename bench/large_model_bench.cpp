// Peak memory and seconds per token of a large model file (the GPT-2 XL and 7B
// Llama shapes written by `mwb init --dtype float16`, docs/performance.md). One long
// run per figure, so not Google Benchmark:
//   large_model_bench MODEL.h5 [float16|float32|auto] [prompt tokens] [decode tokens]
// prints load time, prefill seconds per token, decode seconds per token (KV cache)
// and the peak resident memory of the process, as one JSON object.
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "model/transformer.h"

namespace {

double seconds(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double peakResidentGiB() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is in KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: large_model_bench MODEL.h5 [float16|float32|auto] [prompt tokens] [decode tokens]\n";
        return 1;
    }
    const std::string precision = argc > 2 ? argv[2] : "auto";
    const int promptTokens = argc > 3 ? std::atoi(argv[3]) : 16;
    const int decodeTokens = argc > 4 ? std::atoi(argv[4]) : 4;
    try {
        mwb::LoadOptions options;
        if (precision == "float16") options.precision = mwb::WeightPrecision::Float16;
        else if (precision == "float32") options.precision = mwb::WeightPrecision::Float32;
        auto start = std::chrono::steady_clock::now();
        const mwb::Model model = mwb::loadModel(argv[1], options);
        const double load = seconds(start);
        const mwb::Transformer t(model);

        std::vector<int> prompt;
        for (int i = 0; i < promptTokens; ++i) prompt.push_back((i * 7919 + 13) % model.config.vocabSize);
        start = std::chrono::steady_clock::now();
        mwb::RunState state = t.run(prompt);
        const double prefill = seconds(start);

        start = std::chrono::steady_clock::now();
        for (int i = 0; i < decodeTokens; ++i) {
            int next = 0;
            state.lastLogits().maxCoeff(&next);
            t.extend(state, {next});
        }
        const double decode = seconds(start);

        nlohmann::json out = {{"model", argv[1]},
                              {"parameters", model.config.parameterCount()},
                              {"weights_in_float16", mwb::hasHalfWeights(model.weights)},
                              {"load_s", load},
                              {"prompt_tokens", promptTokens},
                              {"prefill_s_per_token", prefill / promptTokens},
                              {"decode_tokens", decodeTokens},
                              {"decode_s_per_token", decodeTokens ? decode / decodeTokens : 0.0},
                              {"peak_resident_gib", peakResidentGiB()}};
        std::cout << out.dump(2) << "\n";
    } catch (const mwb::Error& e) {
        std::cerr << "large_model_bench: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
