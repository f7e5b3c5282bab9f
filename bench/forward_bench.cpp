// Forward-pass throughput on the gpt2-small shape (random weights) against the
// machine's single-precision matrix-multiply throughput measured in the same run.
//
//   build/bench/forward_bench --benchmark_counters_tabular=true
//
// Each benchmark reports GFLOP/s (counter "GFLOPs"); the forward pass's fraction of
// the GEMM baseline is the figure docs/performance.md quotes.
#include <benchmark/benchmark.h>

#include "bench/bench_models.h"
#include "tensor/matmul.h"
#include "model/transformer.h"

namespace {

using namespace mwb;

using bench::gpt2Small;

// Floating-point operations of a forward pass of n tokens (multiply-add = 2),
// logits for the last position only.
double forwardFlops(const ModelConfig& c, double n) {
    const double perLayerLinear = 2.0 * n * (4.0 * c.dModel * c.dModel + 2.0 * c.dModel * c.dFf);
    const double perLayerAttention = 2.0 * 2.0 * n * n / 2.0 * c.dModel;  // QKᵀ and PV, causal half
    return c.nLayers * (perLayerLinear + perLayerAttention) + 2.0 * c.dModel * c.vocabSize;
}

// Baseline: the GEMM shape of the MLP up-projection of a 512-token prefill.
void BM_SgemmBaseline(benchmark::State& state) {
    const int m = static_cast<int>(state.range(0)), k = 768, n = 3072;
    Matrix a = Matrix::Random(m, k), b = Matrix::Random(n, k), c(m, n);
    for (auto _ : state) {
        c.noalias() = a * b.transpose();
        benchmark::DoNotOptimize(c.data());
    }
    state.counters["GFLOPs"] = benchmark::Counter(2.0 * m * k * n, benchmark::Counter::kIsIterationInvariantRate,
                                                  benchmark::Counter::kIs1000);
}
BENCHMARK(BM_SgemmBaseline)->Arg(512)->Arg(64)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// The forward pass's own batch-invariant product (model/matmul.h) on the same shape.
void BM_BatchInvariantMatmul(benchmark::State& state) {
    const int m = static_cast<int>(state.range(0)), k = 768, n = 3072;
    Matrix a = Matrix::Random(m, k), b = Matrix::Random(n, k), c(m, n);
    for (auto _ : state) {
        matmulTransposed(a.data(), k, b.data(), k, c.data(), n, m, n, k);
        benchmark::DoNotOptimize(c.data());
    }
    state.counters["GFLOPs"] = benchmark::Counter(2.0 * m * k * n, benchmark::Counter::kIsIterationInvariantRate,
                                                  benchmark::Counter::kIs1000);
}
BENCHMARK(BM_BatchInvariantMatmul)->Arg(512)->Arg(64)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Prefill(benchmark::State& state) {
    const Model& m = gpt2Small();
    const Transformer t(m);
    const int n = static_cast<int>(state.range(0));
    std::vector<int> ids(n);
    for (int i = 0; i < n; ++i) ids[i] = (i * 7919) % m.config.vocabSize;
    for (auto _ : state) benchmark::DoNotOptimize(t.run(ids).logits.data());
    state.counters["GFLOPs"] = benchmark::Counter(forwardFlops(m.config, n), benchmark::Counter::kIsIterationInvariantRate,
                                                  benchmark::Counter::kIs1000);
    state.counters["tokens/s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Prefill)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

// Decoding 32 tokens after a 64-token prompt with the key/value cache.
void BM_Decode(benchmark::State& state) {
    const Model& m = gpt2Small();
    const Transformer t(m);
    std::vector<int> ids(64);
    for (int i = 0; i < 64; ++i) ids[i] = (i * 7919) % m.config.vocabSize;
    const RunState prompt = t.run(ids);
    for (auto _ : state) {
        RunState s = prompt;
        for (int i = 0; i < 32; ++i) t.extend(s, {(i * 31) % m.config.vocabSize});
        benchmark::DoNotOptimize(s.logits.data());
    }
    state.counters["tokens/s"] = benchmark::Counter(32, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
