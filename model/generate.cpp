#include "model/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "tensor/errors.h"

namespace mwb {

int sampleToken(const Eigen::Ref<const RowVector>& logits, const SamplingOptions& o, double uniform) {
    const int vocab = static_cast<int>(logits.size());
    if (o.temperature <= 0.0f) {
        Eigen::Index best;
        logits.maxCoeff(&best);
        return static_cast<int>(best);
    }
    if (o.topP <= 0.0f || o.topP > 1.0f) throw InvalidInput("top-p must be in (0, 1]");
    if (o.topK < 0) throw InvalidInput("top-k must not be negative");
    std::vector<int> order(vocab);
    std::iota(order.begin(), order.end(), 0);
    // Ties broken by id so that the result does not depend on the sort's stability.
    auto byLogit = [&](int a, int b) { return logits[a] != logits[b] ? logits[a] > logits[b] : a < b; };
    const int keep = o.topK > 0 ? std::min(o.topK, vocab) : vocab;
    std::partial_sort(order.begin(), order.begin() + keep, order.end(), byLogit);
    order.resize(keep);
    std::vector<double> p(keep);
    const double maxLogit = logits[order[0]];
    for (int i = 0; i < keep; ++i) p[i] = std::exp((logits[order[i]] - maxLogit) / o.temperature);
    double total = std::accumulate(p.begin(), p.end(), 0.0);
    // Nucleus: the smallest prefix whose probability reaches topP.
    if (o.topP < 1.0f) {
        double cum = 0.0;
        int cut = keep;
        for (int i = 0; i < keep; ++i) {
            cum += p[i] / total;
            if (cum >= o.topP) { cut = i + 1; break; }
        }
        p.resize(cut);
        total = std::accumulate(p.begin(), p.end(), 0.0);
    }
    double target = uniform * total;
    for (size_t i = 0; i < p.size(); ++i) {
        target -= p[i];
        if (target < 0.0) return order[i];
    }
    return order[p.size() - 1];
}

std::string generatedText(const Tokenizer& tokenizer, const Generation& generation) {
    std::vector<int> ids = generation.newIds;
    if (generation.stoppedAtEos && !ids.empty()) ids.pop_back();
    return tokenizer.decode(ids);
}

Generation generate(const Transformer& transformer, const std::vector<int>& promptIds,
                    const GenerateOptions& options, const ProgressFn& progress) {
    if (options.maxNewTokens < 0) throw InvalidInput("the number of new tokens must not be negative");
    Generation g;
    g.promptIds = promptIds;
    RunState state = transformer.run(promptIds);
    std::mt19937_64 rng(options.sampling.seed);
    const int eos = transformer.model().tokenizer.spec().eosId;
    const int nCtx = transformer.config().nCtx;
    for (int step = 0; step < options.maxNewTokens; ++step) {
        report(progress, {step, options.maxNewTokens, "generate"});
        // 53 random bits -> a double in [0, 1), the same on every platform.
        const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
        const int next = sampleToken(state.lastLogits(), options.sampling, u);
        g.newIds.push_back(next);
        if (options.stopAtEos && next == eos) { g.stoppedAtEos = true; break; }
        if (state.nTokens + 1 >= nCtx) { g.stoppedAtContext = true; break; }
        if (step + 1 < options.maxNewTokens) transformer.extend(state, {next});
    }
    return g;
}

}  // namespace mwb
