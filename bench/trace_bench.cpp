// Causal tracing: the fast path (prefix reuse, batched samples) against the naive
// path that recomputes every run in full. gpt2-small shape with random weights, a
// 24-token prompt, 10 samples: all three kinds, and the hidden kind alone, the
// latter also against the work of the reference implementation (ROME's
// trace_with_patch: for every cell one forward pass of the clean prompt and the
// noised copies, logits at every position); and the bundled demo model when present.
//
//   build/bench/trace_bench
#include <benchmark/benchmark.h>

#include <random>

#include "analysis/causal_trace.h"
#include "bench/bench_models.h"
#include "model/transformer.h"

namespace {

using namespace mwb;

using bench::gpt2Small;

void traceBench(benchmark::State& state, const Model& m, const std::string& prompt, const std::string& subject) {
    CausalTraceParams p;
    p.naive = state.range(0) != 0;
    p.samples = 10;
    for (auto _ : state) benchmark::DoNotOptimize(traceFact(m, prompt, subject, "", p).probClean);
    state.SetLabel(p.naive ? "naive" : "fast");
}

void BM_TraceGpt2Small(benchmark::State& state) {
    // 24 tokens with the default tokenizer of `mwb init`, the subject from token 3.
    traceBench(state, gpt2Small(), "The Eiffel Tower is located in the city of Paris and", "Eiffel Tower");
}
BENCHMARK(BM_TraceGpt2Small)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

constexpr const char* kGpt2SmallPrompt = "The Eiffel Tower is located in the city of Paris and";

void BM_TraceGpt2SmallHidden(benchmark::State& state) {
    CausalTraceParams p;
    p.naive = state.range(0) != 0;
    p.samples = 10;
    p.kinds = {TraceKind::Hidden};
    for (auto _ : state) benchmark::DoNotOptimize(traceFact(gpt2Small(), kGpt2SmallPrompt, "Eiffel Tower", "", p));
    state.SetLabel(p.naive ? "naive" : "fast");
}
BENCHMARK(BM_TraceGpt2SmallHidden)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

// The reference implementation's work for the hidden kind, cell by cell: a batch of
// the clean prompt and 10 noised copies run in full, the restored state patched in
// the noised ones, logits at every position, the answer's probability from the last.
void BM_TraceGpt2SmallHiddenReferenceWork(benchmark::State& state) {
    const Model& m = gpt2Small();
    const Transformer t(m, nullptr, WeightPacking::Once);
    const std::vector<int> ids = m.tokenizer.encodeIds(kGpt2SmallPrompt);
    const int nTokens = int(ids.size()), nLayers = m.config.nLayers, samples = 10;
    Hooks captures;
    for (int l = 0; l < nLayers; ++l) captures.captures.push_back({HookSite::ResidPost, l});
    const RunState clean = t.run(ids, captures);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    std::vector<Vector> noise;
    for (int i = 0; i < samples * 3; ++i) noise.push_back(Vector::NullaryExpr(m.config.dModel, [&] { return normal(rng); }));
    for (auto _ : state) {
        double sum = 0.0;
        for (int token = 0; token < nTokens; ++token)
            for (int layer = 0; layer < nLayers; ++layer) {
                std::vector<RunState> batch(samples + 1, clean);
                std::vector<Hooks> hooks(samples + 1);
                for (int s = 1; s <= samples; ++s) {
                    for (int pos = 1; pos <= 3; ++pos)  // the subject's tokens
                        hooks[s].patches.push_back({HookSite::Embed, 0, pos, noise[(s - 1) * 3 + pos - 1], PatchMode::Add});
                    hooks[s].patches.push_back({HookSite::ResidPost, layer, token,
                                                clean.captured.at({HookSite::ResidPost, layer}).row(token).transpose(),
                                                PatchMode::Replace});
                }
                std::vector<RunState*> ptrs;
                std::vector<const Hooks*> hookPtrs;
                for (int s = 0; s <= samples; ++s) {
                    ptrs.push_back(&batch[s]);
                    hookPtrs.push_back(&hooks[s]);
                }
                t.rerunMany(ptrs, 0, 0, hookPtrs, LogitsMode::All);
                for (int s = 1; s <= samples; ++s) sum += softmax(batch[s].lastLogits())[ids.back()];
            }
        benchmark::DoNotOptimize(sum);
    }
    state.SetLabel("reference work");
}
BENCHMARK(BM_TraceGpt2SmallHiddenReferenceWork)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

void BM_TraceDemo(benchmark::State& state) {
    const Model* m = bench::demoModel();
    if (!m) {
        state.SkipWithError("resources/models/demo.h5 is missing");
        return;
    }
    traceBench(state, *m, "The Eiffel Tower is located in the city of", "Eiffel Tower");
}
BENCHMARK(BM_TraceDemo)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->Iterations(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
