// Causal tracing: the fast path (prefix reuse, batched samples) against the naive
// path that recomputes every run in full, as the reference implementation does.
// gpt2-small shape with random weights, a 12-token prompt, all three kinds, 10
// samples; and the bundled demo model when present.
//
//   build/bench/trace_bench
#include <benchmark/benchmark.h>

#include "analysis/causal_trace.h"
#include "bench/bench_models.h"

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
    // 12 tokens with the default tokenizer of `mwb init`.
    traceBench(state, gpt2Small(), "The Eiffel Tower is located in the city of Paris and", "Eiffel Tower");
}
BENCHMARK(BM_TraceGpt2Small)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

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
