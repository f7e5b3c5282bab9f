// Causal tracing invariants that fail if the method is implemented wrongly.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "analysis/causal_trace.h"
#include "tokenizer/continuation.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "model/transformer.h"

namespace mwb {
namespace {

const std::string kFixtures = std::string(MWB_SOURCE_DIR) + "/tests/fixtures/";
// The fixtures' tokenizer has no merges: one token per byte.
const std::string kPrompt = "The cat sat on a mat";
const std::string kSubject = "cat sat";  // tokens 4..11

Model fixture(const char* name = "golden_gpt2_untied.h5") { return loadModel(kFixtures + name); }

CausalTraceParams params(int samples = 3) {
    CausalTraceParams p;
    p.samples = samples;
    p.window = 2;
    p.noise = 1.0;
    p.seed = 7;
    return p;
}

TEST(CausalTrace, SubjectRangeComesFromOffsets) {
    const Model m = fixture();
    const auto r = traceFact(m, kPrompt, kSubject, "", params(1));
    EXPECT_EQ(r.subjectBegin, 4);
    EXPECT_EQ(r.subjectEnd, 11);
    EXPECT_EQ(r.probRestored.at(TraceKind::Hidden).rows(), 20);
    EXPECT_EQ(r.probRestored.at(TraceKind::Hidden).cols(), m.config.nLayers);
}

TEST(CausalTrace, ZeroNoiseGivesZeroEffectEverywhere) {
    const Model m = fixture();
    auto p = params();
    p.noise = 0.0;
    const auto r = traceFact(m, kPrompt, kSubject, "", p);
    EXPECT_NEAR(r.probCorrupted, r.probClean, 1e-6);
    for (auto k : p.kinds) EXPECT_LT(r.indirectEffect(k).cwiseAbs().maxCoeff(), 1e-6) << toString(k);
}

// The corrupted probability is that of full runs with the noise written into the
// subject's embeddings by hand, from the documented stream: per sample, a
// [subject tokens x dModel] block of sigma * N(0, 1) from mt19937_64(seed), row-major.
TEST(CausalTrace, CorruptedProbabilityIsTheMeanOverHandNoisedRuns) {
    const Model m = fixture();
    auto p = params();
    p.noise = 3.0;
    const auto r = traceFact(m, kPrompt, kSubject, "", p);
    const Transformer t(m);
    std::mt19937_64 rng(p.seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    double sum = 0.0;
    for (int s = 0; s < p.samples; ++s) {
        RunState run = t.run(r.ids);
        for (int pos = r.subjectBegin; pos < r.subjectEnd; ++pos)
            for (int j = 0; j < m.config.dModel; ++j) run.resid[0](pos, j) += static_cast<float>(*p.noise * normal(rng));
        t.rerun(run, 0, 0);
        sum += softmax(run.lastLogits())[r.answerId];
    }
    EXPECT_NEAR(r.probCorrupted, sum / p.samples, 1e-9);
}

TEST(CausalTrace, RestoringEveryPositionOfLayerZeroRecoversCleanExactly) {
    const Model m = fixture();
    std::vector<std::pair<int, int>> all;
    for (int t = 0; t < 20; ++t) all.push_back({t, 0});
    const auto r = traceFact(m, kPrompt, kSubject, "", params());
    EXPECT_NEAR(restoredProbability(m, kPrompt, kSubject, "", params(), all), r.probClean, 1e-6);
    EXPECT_NEAR(restoredProbability(m, kPrompt, kSubject, "", params(), {}), r.probCorrupted, 1e-6);
}

TEST(CausalTrace, RestoringLastTokenAtLastLayerRecoversClean) {
    const Model m = fixture();
    for (bool naive : {false, true}) {
        auto p = params();
        p.naive = naive;
        const auto r = traceFact(m, kPrompt, kSubject, "", p);
        EXPECT_NEAR(r.probRestored.at(TraceKind::Hidden)(19, m.config.nLayers - 1), r.probClean, 1e-6);
        // Tokens before the subject are untouched by the noise: no effect there.
        EXPECT_LT(r.indirectEffect(TraceKind::Hidden).topRows(4).cwiseAbs().maxCoeff(), 1e-6);
    }
}

TEST(CausalTrace, FastPathEqualsNaivePath) {
    for (const char* name : {"golden_gpt2_untied.h5", "golden_llama_untied.h5"}) {
        const Model m = fixture(name);
        // Windows of 1 (each layer alone), 2 and 10 (wider than the model: windows
        // share their first layer, and the fast path shares their runs).
        for (auto [severed, window] : {std::pair{Severed::None, 1}, {Severed::None, 2}, {Severed::None, 10},
                                       {Severed::Mlp, 1}, {Severed::Attn, 1}}) {
            auto p = params();
            p.noise = 2.0;
            p.window = window;
            p.severed = severed;
            if (severed != Severed::None) p.kinds = {TraceKind::Hidden};
            const auto fast = traceFact(m, kPrompt, kSubject, "", p);
            p.naive = true;
            const auto naive = traceFact(m, kPrompt, kSubject, "", p);
            EXPECT_EQ(fast.probCorrupted, naive.probCorrupted);
            // Bit for bit: the forward pass is batch invariant.
            for (auto k : p.kinds)
                EXPECT_TRUE(fast.probRestored.at(k) == naive.probRestored.at(k)) << name << " " << toString(k);
        }
    }
}

// Seven layers: windows of 4 start at layers 0, 0, 0, 1, 2, 3, 4 and end at 2, 3,
// 4, 5, 6, 7, 7; the fast path chains the first three and shares the last two.
TEST(CausalTrace, FastPathEqualsNaivePathOnADeeperModel) {
    Model m = fixture();  // its two trained-looking blocks, repeated
    m.config.nLayers = 7;
    for (int l = 2; l < 7; ++l) m.weights.blocks.push_back(m.weights.blocks[l % 2]);
    auto p = params(2);
    p.noise = 3.0;
    p.window = 4;
    p.kinds = {TraceKind::Mlp, TraceKind::Attn};
    const auto fast = traceFact(m, kPrompt, kSubject, "", p);
    p.naive = true;
    const auto naive = traceFact(m, kPrompt, kSubject, "", p);
    for (auto k : p.kinds) {
        EXPECT_TRUE(fast.probRestored.at(k) == naive.probRestored.at(k)) << toString(k);
        EXPECT_GT(fast.indirectEffect(k).cwiseAbs().maxCoeff(), 1e-4);  // not trivially equal
    }
}

// The edit layer comes from the peak window, then from single layers within it: with
// a window of 2 (an 8-layer model), restoring MLPs {0, 1} beats restoring {0} alone
// when layer 1's MLP adds a little, so the window peaks at "layer 1"; but the fact is
// in layer 0's MLP, and that is the layer to edit.
TEST(CausalTrace, MlpPeakLayerIsTheStrongestSingleLayerOfThePeakWindow) {
    Model m = fixture();
    m.config.nLayers = 8;  // window (8 * 10 + 24) / 48 = 2
    for (int l = 2; l < 8; ++l) m.weights.blocks.push_back(m.weights.blocks[l % 2]);
    m.weights.blocks[0].down.weight *= 4.0f;  // the MLP that holds the fact
    m.weights.blocks[1].down.weight *= 0.3f;  // one that adds a little
    for (int l = 2; l < 8; ++l) m.weights.blocks[l].down.weight.setZero();
    const std::string prompt = "The cat sat on a mat", subject = "cat";

    CausalTraceParams p;  // what mlpPeakLayer runs
    p.kinds = {TraceKind::Mlp};
    p.window = 2;
    const auto windowed = traceFact(m, prompt, subject, "", p);
    Eigen::Index peakWindow;
    windowed.probRestored.at(TraceKind::Mlp).row(windowed.subjectEnd - 1).maxCoeff(&peakWindow);
    ASSERT_EQ(peakWindow, 1);  // the window {0, 1}
    p.window = 1;
    const auto single = traceFact(m, prompt, subject, "", p);
    const auto row = single.probRestored.at(TraceKind::Mlp).row(single.subjectEnd - 1);
    ASSERT_GT(row(0), row(1) + 0.01);
    EXPECT_EQ(mlpPeakLayer(m, prompt, subject), 0);
    EXPECT_EQ(editLayerFromTraces(windowed, single), 0);
    EXPECT_THROW(editLayerFromTraces(windowed, windowed), InvalidInput);  // not single layers
    // After a trace of every kind (the workbench's): the same layer, from its own
    // single-layer trace; a trace without the MLP cannot choose.
    CausalTraceParams all;
    all.window = 2;
    EXPECT_EQ(editLayerAfterTrace(m, prompt, subject, "", traceFact(m, prompt, subject, "", all)), 0);
    all.kinds = {TraceKind::Hidden};
    EXPECT_THROW(editLayerAfterTrace(m, prompt, subject, "", traceFact(m, prompt, subject, "", all)), InvalidInput);
}

TEST(CausalTrace, MlpPeakLayerOfABatchTracesASpreadSample) {
    Model m = fixture();
    m.weights.blocks[0].down.weight *= 4.0f;  // layer 0's MLP holds the facts
    const std::vector<std::pair<std::string, std::string>> one = {{"The cat sat on a mat", "cat"}};
    EXPECT_EQ(mlpPeakLayer(m, one), mlpPeakLayer(m, one[0].first, one[0].second));
    // Of 12 facts, 4 are traced: indices 0, 3, 6, 9. The others would be refused
    // (subject not in the prompt) if they were traced.
    std::vector<std::pair<std::string, std::string>> batch(12, {"no such subject", "dog"});
    for (size_t i : {0u, 3u, 6u, 9u}) batch[i] = {i % 2 ? "A cat sat" : "The cat sat on a mat", "cat"};
    EXPECT_EQ(mlpPeakLayer(m, batch, 4), 0);
    EXPECT_THROW(mlpPeakLayer(m, batch, 5), InvalidInput);
    EXPECT_THROW(mlpPeakLayer(m, {}), InvalidInput);
}

// Cancelling from the progress callback, which the fast path calls from its worker
// threads, ends the trace with Cancelled (an exception escaping an OpenMP region
// would terminate the program instead).
TEST(CausalTrace, CancellingTheFastPathThrowsCancelled) {
    const Model m = fixture();
    for (int stopAfter : {1, 3, 6}) {
        int calls = 0;
        const ProgressFn progress = [&](const Progress&) { return ++calls <= stopAfter; };
        EXPECT_THROW(traceFact(m, kPrompt, kSubject, "", params(), progress), Cancelled) << stopAfter;
    }
}

TEST(CausalTrace, SeveringChangesTheHiddenTrace) {
    const Model m = fixture();
    auto p = params();
    p.noise = 2.0;
    p.kinds = {TraceKind::Hidden};
    const auto plain = traceFact(m, kPrompt, kSubject, "", p);
    p.severed = Severed::Mlp;
    const auto severed = traceFact(m, kPrompt, kSubject, "", p);
    EXPECT_GT((plain.probRestored.at(TraceKind::Hidden) - severed.probRestored.at(TraceKind::Hidden))
                  .cwiseAbs().maxCoeff(), 1e-4);
}

TEST(CausalTrace, WindowIsClippedAtTheModelsEnds) {
    // Two layers: a window of 10 around either layer covers both layers, so both
    // columns restore the same modules and must be equal; a window of 1 differs.
    const Model m = fixture();
    auto p = params();
    p.noise = 2.0;
    p.kinds = {TraceKind::Mlp, TraceKind::Attn};
    p.window = 10;
    const auto wide = traceFact(m, kPrompt, kSubject, "", p);
    for (auto k : p.kinds) {
        const MatrixD& g = wide.probRestored.at(k);
        EXPECT_LT((g.col(0) - g.col(1)).cwiseAbs().maxCoeff(), 1e-7);
    }
    p.window = 1;
    const auto narrow = traceFact(m, kPrompt, kSubject, "", p);
    const MatrixD& g = narrow.probRestored.at(TraceKind::Mlp);
    EXPECT_GT((g.col(0) - g.col(1)).cwiseAbs().maxCoeff(), 1e-5);
    // Window 3 around layer 0 is [0, 2): the same as the wide window.
    p.window = 3;
    const auto three = traceFact(m, kPrompt, kSubject, "", p);
    EXPECT_LT((three.probRestored.at(TraceKind::Mlp).col(0) - wide.probRestored.at(TraceKind::Mlp).col(0))
                  .cwiseAbs().maxCoeff(), 1e-7);
}

TEST(CausalTrace, MultiTokenAnswerUsesItsFirstToken) {
    const Model m = fixture();
    const auto r = traceFact(m, kPrompt, kSubject, "xyz", params(1));
    const auto ids = continuationIds(m.tokenizer, kPrompt, "xyz");
    ASSERT_GT(ids.size(), 1u);
    EXPECT_EQ(r.answerId, ids[0]);
    const Transformer t(m);
    const Vector p = softmax(t.run(m.tokenizer.encodeIds(kPrompt)).lastLogits());
    EXPECT_NEAR(r.probClean, p[ids[0]], 1e-6);
}

TEST(CausalTrace, BadInputIsRefused) {
    const Model m = fixture();
    EXPECT_THROW(traceFact(m, kPrompt, "dog", "", params()), InvalidInput);
    EXPECT_THROW(traceFact(m, kPrompt, "", "", params()), InvalidInput);
    EXPECT_THROW(traceFact(m, "", "cat", "", params()), InvalidInput);
    EXPECT_THROW(traceFact(m, std::string(30, 'a'), "aa", "", params()), InvalidInput);  // > n_ctx 24
    auto p = params();
    p.samples = 0;
    EXPECT_THROW(traceFact(m, kPrompt, kSubject, "", p), InvalidInput);
    p = params();
    p.noise = -1.0;
    EXPECT_THROW(traceFact(m, kPrompt, kSubject, "", p), InvalidInput);
}

TEST(CausalTrace, NoiseLevelDefaultsToThreeEmbeddingStds) {
    const Model m = fixture();
    const NoiseLevel all = defaultNoise(m);
    // The fixture's embeddings are N(0, 0.3) float32 samples: 3 x 0.3 within sampling error.
    EXPECT_NEAR(all.sigma, 0.9, 0.03);
    // 3 x the unbiased std of the entries of the subjects' token embeddings, each
    // subject tokenized on its own (one token per byte here: c a t m a t).
    const NoiseLevel subj = defaultNoise(m, {"cat", "mat"});
    std::vector<double> entries;
    for (const char* s : {"cat", "mat"})
        for (int id : m.tokenizer.encodeIds(s, false))
            for (int j = 0; j < m.config.dModel; ++j) entries.push_back(m.weights.tokenEmbedding(id, j));
    ASSERT_EQ(entries.size(), size_t(6 * m.config.dModel));
    double mean = 0.0, var = 0.0;
    for (double e : entries) mean += e / entries.size();
    for (double e : entries) var += (e - mean) * (e - mean) / (entries.size() - 1);
    EXPECT_NEAR(subj.sigma, 3.0 * std::sqrt(var), 1e-9);
    EXPECT_NE(subj.source.find("2 subjects"), std::string::npos);
}

TEST(CausalTrace, AverageOverFactsUsesTheTokenCategories) {
    const Model m = fixture();
    std::vector<KnownFact> facts = {{0, "cat sat", "x", "", "The cat sat on a mat", ""},
                                    {1, "on", "y", "", "The cat sat on a mat", ""}};
    auto p = params(2);
    p.kinds = {TraceKind::Hidden};
    const auto avg = traceFacts(m, facts, p, false);
    EXPECT_EQ(avg.factsUsed, 2);
    const MatrixD& g = avg.probRestored.at(TraceKind::Hidden);
    EXPECT_EQ(g.rows(), 6);
    // The last-token row at the last layer restores the clean output of each fact.
    const auto r0 = traceFact(m, facts[0].prompt, facts[0].subject, "x", [&] { auto q = p; q.noise = avg.noise.sigma; return q; }());
    const auto r1 = traceFact(m, facts[1].prompt, facts[1].subject, "y", [&] { auto q = p; q.noise = avg.noise.sigma; return q; }());
    EXPECT_NEAR(g(5, m.config.nLayers - 1), (r0.probClean + r1.probClean) / 2, 1e-9);
    EXPECT_NEAR(g(0, 0), (r0.probRestored.at(TraceKind::Hidden)(4, 0) + r1.probRestored.at(TraceKind::Hidden)(12, 0)) / 2, 1e-9);
    // Effects are per fact: restored minus that fact's own corrupted probability.
    const MatrixD& ie = avg.indirectEffect.at(TraceKind::Hidden);
    EXPECT_NEAR(ie(0, 0), (r0.probRestored.at(TraceKind::Hidden)(4, 0) - r0.probCorrupted +
                           r1.probRestored.at(TraceKind::Hidden)(12, 0) - r1.probCorrupted) / 2, 1e-9);
    // Middle subject tokens: only fact 0 ("cat sat", tokens 4..10) has them, rows 5..9.
    double middle = 0;
    for (int t = 5; t <= 9; ++t) middle += r0.probRestored.at(TraceKind::Hidden)(t, 1) - r0.probCorrupted;
    EXPECT_NEAR(ie(1, 1), middle / 5, 1e-9);
}

}  // namespace
}  // namespace mwb
