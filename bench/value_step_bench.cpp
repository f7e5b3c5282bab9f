// One step of ROME's value optimisation (a forward pass from the edited layer up with
// the delta added, and the backward pass down to it) on a ROME-sized batch: 21
// rewriting prompts and the essence prompt, 16 tokens each. The baseline computes
// logits at every row, as a plain forward pass does; the loss reads one row per
// prompt, and the other computes only those (BackpropT::setLogitRows).
//
//   build/bench/value_step_bench
#include <benchmark/benchmark.h>

#include <random>

#include "bench/bench_models.h"
#include "model/backprop.h"

namespace {

using namespace mwb;

void valueStep(benchmark::State& state, const Model& m, int layer) {
    const int batch = 22, seqLen = 16;
    std::mt19937 rng(7);
    std::vector<int> tokens(batch * seqLen);
    for (int& t : tokens) t = static_cast<int>(rng() % static_cast<unsigned>(m.config.vocabSize));
    std::vector<int> rows(batch), lossRows(batch);
    for (int b = 0; b < batch; ++b) {
        rows[b] = b * seqLen + 5;  // the subject's last token
        lossRows[b] = b * seqLen + seqLen - 1;
    }
    const bool selected = state.range(0) != 0;
    Backprop bp(m.config, m.weights);
    if (selected) bp.setLogitRows(lossRows);
    bp.forward(tokens, batch, seqLen);
    Hooks delta;  // ROME's δ at the lookup rows
    for (int row : rows) delta.patches.push_back({HookSite::MlpOut, layer, row, Vector::Constant(m.config.dModel, 0.01f), PatchMode::Add});
    for (auto _ : state) {
        const Matrix& logits = bp.rerun(delta);
        Matrix dLogits = Matrix::Zero(logits.rows(), logits.cols());
        for (int b = 0; b < batch; ++b) dLogits(selected ? b : lossRows[b], 0) = 1.0f;
        benchmark::DoNotOptimize(bp.backwardToPatches(dLogits).sum());
    }
    state.SetLabel(selected ? "logits at the loss rows" : "logits at every row");
}

void BM_ValueStepDemo(benchmark::State& state) {
    const Model* m = bench::demoModel();
    if (!m) {
        state.SkipWithError("resources/models/demo.h5 is missing");
        return;
    }
    valueStep(state, *m, 1);
}
BENCHMARK(BM_ValueStepDemo)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ValueStepGpt2Small(benchmark::State& state) { valueStep(state, bench::gpt2Small(), 5); }
BENCHMARK(BM_ValueStepGpt2Small)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
