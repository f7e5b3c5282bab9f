#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "model/throughput.h"

namespace mwb::cli {

namespace {

// How the blocks' linear weights are held in memory (the global --weights option and
// its automatic choice): reported because float16 changes the speed.
std::string weightsInMemory(const Model& m) {
    for (const BlockWeights& b : m.weights.blocks)
        if (b.q.isHalf() || b.up.isHalf()) return "float16";
    return "float32";
}

}  // namespace

void registerBench(CLI::App& app) {
    struct Opts {
        std::string model;
        ThroughputOptions bench;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "bench",
        "Inference speed, as llama-bench measures it: R prefills of N random tokens (logits at every "
        "position), each followed by M greedy tokens decoded with the key/value cache; the medians. "
        "Prefill GFLOP/s = 2 x weight parameters x N / time, where the weight parameters are the "
        "blocks' linear weights plus the unembedding. Weights in memory follow the global --weights "
        "option (float32 or float16); threads follow OMP_NUM_THREADS");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--prompt-tokens", o->bench.promptTokens, "N: tokens of each prefill")->capture_default_str();
    cmd->add_option("--decode-tokens", o->bench.decodeTokens, "M: tokens decoded after each prefill")
        ->capture_default_str();
    cmd->add_option("--repeat", o->bench.repeat, "R: how many times to measure")->capture_default_str();
    cmd->add_option("--seed", o->bench.seed, "Seed of the random prompt ids")->capture_default_str();
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o] {
        const Model m = openModel(o->model);
        // Checked before any work so that bad input is one sentence, not a warm-up first.
        validateThroughputOptions(m.config, o->bench);
        const Transformer t(m, nullptr, WeightPacking::Once);
        const ThroughputResult r = measureThroughput(t, o->bench, progressBar());
        const ThroughputOptions& b = r.options;
        if (o->json) {
            printJson({{"model", o->model},
                       {"prompt_tokens", b.promptTokens},
                       {"decode_tokens", b.decodeTokens},
                       {"repeat", b.repeat},
                       {"threads", r.threads},
                       {"isa", r.isa},
                       {"weights", weightsInMemory(m)},
                       {"weight_parameters", r.weightParameters},
                       {"prefill_seconds", r.medianPrefillSeconds},
                       {"prefill_tokens_per_second", b.promptTokens / r.medianPrefillSeconds},
                       {"prefill_gflops", r.prefillGflops},
                       {"decode_tokens_per_second", r.decodeTokensPerSecond},
                       {"prefill_seconds_each", r.prefillSeconds},
                       {"decode_seconds_each", r.decodeSeconds}});
            return;
        }
        std::printf("%s: %.1f M weight parameters, weights %s, %d threads, product %s\n", o->model.c_str(),
                    r.weightParameters / 1e6, weightsInMemory(m).c_str(), r.threads, r.isa.c_str());
        std::printf("prefill %5d tokens: %8.4f s  %8.1f tokens/s  %7.2f GFLOP/s  (median of %d)\n", b.promptTokens,
                    r.medianPrefillSeconds, b.promptTokens / r.medianPrefillSeconds, r.prefillGflops, b.repeat);
        if (b.decodeTokens > 0)
            std::printf("decode  %5d tokens: %8.1f tokens/s  (median of %d)\n", b.decodeTokens,
                        r.decodeTokensPerSecond, b.repeat);
    });
}

}  // namespace mwb::cli
