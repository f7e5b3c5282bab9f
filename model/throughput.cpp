#include "model/throughput.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "tensor/errors.h"
#include "tensor/matmul.h"
#include "tensor/median.h"

namespace mwb {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

int argmax(const Eigen::Ref<const RowVector>& logits) {
    Eigen::Index best;
    logits.maxCoeff(&best);
    return static_cast<int>(best);
}

}  // namespace

long weightParameters(const Model& model) {
    long total = 0;
    auto size = [](const Linear& l) { return l.outFeatures() * l.inFeatures(); };  // 0 when absent
    auto expertSize = [&](const Expert& e) { return size(e.gate) + size(e.up) + size(e.down); };
    for (const BlockWeights& b : model.weights.blocks) {
        for (const Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.up, &b.gate, &b.down}) total += size(*l);
        // A sparse layer's active weights: the router, the experts one token uses (all
        // experts are the same size) and the shared expert.
        if (!b.moe.experts.empty())
            total += size(b.moe.router) + model.config.nExpertsPerToken * expertSize(b.moe.experts[0]) +
                     expertSize(b.moe.shared) + size(b.moe.sharedGate);
    }
    const Matrix& unembedding = model.weights.unembedding();
    return total + long(unembedding.rows()) * long(unembedding.cols());
}

void validateThroughputOptions(const ModelConfig& config, const ThroughputOptions& o) {
    if (o.promptTokens < 1) throw InvalidInput("--prompt-tokens must be at least 1");
    if (o.decodeTokens < 0) throw InvalidInput("--decode-tokens must not be negative");
    if (o.repeat < 1) throw InvalidInput("--repeat must be at least 1");
    if (long(o.promptTokens) + o.decodeTokens > config.nCtx)
        throw InvalidInput(std::to_string(o.promptTokens) + " prompt tokens plus " + std::to_string(o.decodeTokens) +
                           " decoded tokens do not fit in the model's context of " + std::to_string(config.nCtx) +
                           " tokens");
}

ThroughputResult measureThroughput(const Transformer& t, const ThroughputOptions& o, const ProgressFn& progress) {
    validateThroughputOptions(t.config(), o);
    ThroughputResult r;
    r.options = o;
    r.weightParameters = weightParameters(t.model());
    r.threads = omp_get_max_threads();
    r.isa = matmulIsa();

    std::mt19937_64 rng(o.seed);
    std::uniform_int_distribution<int> token(0, t.config().vocabSize - 1);
    auto randomPrompt = [&] {
        std::vector<int> ids(o.promptTokens);
        for (int& id : ids) id = token(rng);
        return ids;
    };
    // Units of progress: the warm-up, then per repeat one prefill and M steps.
    const long total = 1 + long(o.repeat) * (1 + o.decodeTokens);
    long done = 0;
    const std::string_view stage = "bench";
    report(progress, {done, total, stage});
    t.run(randomPrompt(), {}, LogitsMode::All);
    report(progress, {++done, total, stage});

    std::vector<double> decodeRates;
    for (int rep = 0; rep < o.repeat; ++rep) {
        const std::vector<int> prompt = randomPrompt();
        const auto start = Clock::now();
        RunState state = t.run(prompt, {}, LogitsMode::All);
        r.prefillSeconds.push_back(secondsSince(start));
        report(progress, {++done, total, stage});
        double decode = 0;
        for (int step = 0; step < o.decodeTokens; ++step) {
            // Greedy, as `mwb generate` decodes by default; choosing the token is timed
            // with the step because a real decoder pays for it too.
            const auto stepStart = Clock::now();
            t.extend(state, {argmax(state.lastLogits())});
            decode += secondsSince(stepStart);
            report(progress, {++done, total, stage});
        }
        r.decodeSeconds.push_back(decode);
        if (o.decodeTokens > 0) decodeRates.push_back(o.decodeTokens / decode);
    }
    r.medianPrefillSeconds = median(r.prefillSeconds);
    r.prefillGflops = 2.0 * double(r.weightParameters) * o.promptTokens / r.medianPrefillSeconds / 1e9;
    r.decodeTokensPerSecond = decodeRates.empty() ? 0.0 : median(decodeRates);
    return r;
}

}  // namespace mwb
