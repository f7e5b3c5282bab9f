// Forward pass: against an independent NumPy implementation of the Hugging Face
// definitions (tests/fixtures/make_forward_golden.py), against hand-computed small
// cases, and the invariants of hooks and prefix reuse.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "model/generate.h"
#include "model/transformer.h"

namespace mwb {
namespace {

const std::string kFixtures = std::string(MWB_SOURCE_DIR) + "/tests/fixtures/";

Model loadFixture(const std::string& name) { return loadModel(kFixtures + name); }

std::vector<int> goldenIds() {
    std::ifstream in(kFixtures + "golden_logits.json");
    return nlohmann::json::parse(in)["ids"].get<std::vector<int>>();
}

class GoldenForward : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenForward, LogitsEqualReferenceToFloatRounding) {
    std::ifstream in(kFixtures + "golden_logits.json");
    const auto golden = nlohmann::json::parse(in);
    const auto expected = golden[GetParam()].get<std::vector<std::vector<double>>>();
    const Model model = loadFixture(GetParam());
    const Transformer t(model);
    const RunState s = t.run(golden["ids"].get<std::vector<int>>(), {}, LogitsMode::All);
    ASSERT_EQ(s.logits.rows(), static_cast<long>(expected.size()));
    double worst = 0;
    for (size_t i = 0; i < expected.size(); ++i)
        for (size_t j = 0; j < expected[i].size(); ++j)
            worst = std::max(worst, std::abs(s.logits(i, j) - expected[i][j]) / (1.0 + std::abs(expected[i][j])));
    EXPECT_LT(worst, 2e-5);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenForward,
                         ::testing::Values("golden_gpt2_untied.h5", "golden_llama_tied.h5",
                                           "golden_llama_untied.h5"));

// A 1-layer GPT-2 with d_model 2 whose blocks are chosen so the result can be
// worked out by hand.
Model handModel() {
    Model m;
    auto& c = m.config;
    c.architecture = Architecture::Gpt2;
    c.nLayers = 1; c.nHeads = 1; c.nKvHeads = 1; c.dModel = 2; c.dFf = 2; c.vocabSize = 3; c.nCtx = 4;
    c.normEps = 0.0f;
    c.activation = Activation::GeluTanh;
    c.tieEmbeddings = true;
    m.weights = zeroWeights<float>(c);
    m.weights.tokenEmbedding << 3, 1,   // token 0
                                1, 2,   // token 1
                                0, 4;   // token 2
    auto& b = m.weights.blocks[0];
    b.norm1.weight << 1, 1;
    b.norm2.weight << 1, 1;
    m.weights.finalNorm.weight << 1, 1;
    return m;
}

TEST(TransformerHand, IdentityBlocksGiveNormedEmbeddingTimesEmbedding) {
    // All block weights zero: attention and MLP add nothing (gelu(0) = 0), so the
    // logits are LN(e_token) · Eᵀ. LN([3,1]) = [1,-1]; logits = [3-1, 1-2, 0-4] = [2,-1,-4].
    const Model m = handModel();
    const Transformer t(m);
    const RunState s = t.run({0});
    EXPECT_NEAR(s.logits(0, 0), 2.0f, 1e-5);
    EXPECT_NEAR(s.logits(0, 1), -1.0f, 1e-5);
    EXPECT_NEAR(s.logits(0, 2), -4.0f, 1e-5);
}

TEST(TransformerHand, UniformAttentionAveragesVisibleValues) {
    // q = k = 0 makes every score equal, so position i attends uniformly to 0..i;
    // v = o = identity, so attn_out(i) = mean_{j<=i} LN(x_j).
    // LN([3,1]) = [1,-1], LN([1,2]) = [-1,1], LN([0,4]) = [-1,1].
    Model m = handModel();
    auto& b = m.weights.blocks[0];
    b.v.weight.setIdentity();
    b.o.weight.setIdentity();
    const Transformer t(m);
    Hooks hooks;
    hooks.captures = {{HookSite::AttnOut, 0}, {HookSite::AttnPattern, 0}, {HookSite::ResidPost, 0}};
    const RunState s = t.run({0, 1, 2}, hooks);
    const Matrix& a = s.captured.at({HookSite::AttnOut, 0});
    EXPECT_NEAR(a(0, 0), 1.0f, 1e-5);
    EXPECT_NEAR(a(1, 0), 0.0f, 1e-5);
    EXPECT_NEAR(a(2, 0), -1.0f / 3.0f, 1e-5);
    EXPECT_NEAR(a(2, 1), 1.0f / 3.0f, 1e-5);
    const Matrix& p = s.captured.at({HookSite::AttnPattern, 0});
    EXPECT_NEAR(p(2, 0), 1.0f / 3.0f, 1e-6);
    EXPECT_EQ(p(0, 1), 0.0f);  // causal
    const Matrix& r = s.captured.at({HookSite::ResidPost, 0});
    EXPECT_NEAR(r(2, 0), 0.0f - 1.0f / 3.0f, 1e-5);  // x + attn_out, MLP adds 0
    EXPECT_NEAR(r(2, 1), 4.0f + 1.0f / 3.0f, 1e-5);
}

TEST(TransformerHooks, AttentionRowsSumToOneAndAreCausal) {
    const Model m = loadFixture("golden_llama_untied.h5");
    const Transformer t(m);
    Hooks hooks;
    hooks.captures = {{HookSite::AttnPattern, 1}};
    const RunState s = t.run(goldenIds(), hooks);
    const Matrix& p = s.captured.at({HookSite::AttnPattern, 1});
    const int n = s.nTokens;
    ASSERT_EQ(p.rows(), m.config.nHeads * n);
    for (int r = 0; r < p.rows(); ++r) {
        EXPECT_NEAR(p.row(r).sum(), 1.0f, 1e-5);
        const int query = r % n;
        EXPECT_EQ(p.row(r).tail(n - query - 1).cwiseAbs().sum(), 0.0f);
    }
}

TEST(TransformerHooks, ResidPostIsNextResidPreAndCaptureMatchesState) {
    const Model m = loadFixture("golden_gpt2_untied.h5");
    const Transformer t(m);
    Hooks hooks;
    hooks.captures = {{HookSite::ResidPost, 0}, {HookSite::ResidPre, 1}, {HookSite::MlpIn, 1}};
    const RunState s = t.run(goldenIds(), hooks);
    EXPECT_EQ(s.captured.at({HookSite::ResidPost, 0}), s.captured.at({HookSite::ResidPre, 1}));
    EXPECT_EQ(s.captured.at({HookSite::ResidPre, 1}), s.resid[1].topRows(s.nTokens));
    EXPECT_EQ(s.captured.at({HookSite::MlpIn, 1}).cols(), m.config.dFf);
}

TEST(TransformerHooks, ReplacingWithOwnValueChangesNothingAndAddingChangesOutput) {
    const Model m = loadFixture("golden_gpt2_untied.h5");
    const Transformer t(m);
    const auto ids = goldenIds();
    Hooks capture;
    capture.captures = {{HookSite::MlpOut, 0}};
    const RunState clean = t.run(ids, capture);
    Hooks patch;
    patch.patches = {{HookSite::MlpOut, 0, 3, clean.captured.at({HookSite::MlpOut, 0}).row(3).transpose()}};
    EXPECT_EQ(t.run(ids, patch).logits, clean.logits);
    patch.patches[0].mode = PatchMode::Add;
    EXPECT_GT((t.run(ids, patch).logits - clean.logits).cwiseAbs().maxCoeff(), 1e-3);
}

// Noise added through the embedding hook is, bit for bit, noise written into the
// embeddings by hand; the embeddings are hooked afresh on every rerun from layer 0,
// so rerunning adds it once; the capture holds the noised embeddings.
TEST(TransformerHooks, EmbeddingHookEqualsNoiseWrittenByHand) {
    for (const char* name : {"golden_gpt2_untied.h5", "golden_llama_untied.h5"}) {
        const Model m = loadFixture(name);
        const Transformer t(m);
        const auto ids = goldenIds();
        const Matrix noise = Matrix::Random(3, m.config.dModel);
        Hooks hooks;
        for (int i = 0; i < 3; ++i)
            hooks.patches.push_back({HookSite::Embed, 0, 2 + i, noise.row(i).transpose(), PatchMode::Add});
        hooks.captures = {{HookSite::Embed, 0}};
        RunState hooked = t.run(ids, hooks, LogitsMode::All);

        RunState byHand = t.run(ids, {}, LogitsMode::All);
        byHand.resid[0].middleRows(2, 3) += noise;
        t.rerun(byHand, 0, 0, {}, LogitsMode::All);
        EXPECT_TRUE(hooked.logits == byHand.logits) << name;
        EXPECT_TRUE(hooked.captured.at({HookSite::Embed, 0}) == byHand.resid[0].topRows(byHand.nTokens)) << name;

        t.rerun(hooked, 0, 1, hooks, LogitsMode::All);
        EXPECT_TRUE(hooked.logits.bottomRows(ids.size() - 1) == byHand.logits.bottomRows(ids.size() - 1)) << name;
        EXPECT_FALSE(hooked.logits == t.run(ids, {}, LogitsMode::All).logits) << name;
    }
    EXPECT_EQ(parseHookSite("embed"), HookSite::Embed);
    EXPECT_EQ(toString(HookSite::Embed), "embed");
}

TEST(TransformerPrefixReuse, RerunEqualsFullRecomputation) {
    for (const char* name : {"golden_gpt2_untied.h5", "golden_llama_untied.h5"}) {
        const Model m = loadFixture(name);
        const Transformer t(m);
        const auto ids = goldenIds();
        const Vector delta = Vector::Constant(m.config.dModel, 0.7f);
        for (int layer = 0; layer < m.config.nLayers; ++layer)
            for (int pos : {0, 4, static_cast<int>(ids.size()) - 1}) {
                Hooks patch;
                patch.patches = {{HookSite::ResidPre, layer, pos, delta, PatchMode::Add},
                                 {HookSite::MlpOut, m.config.nLayers - 1, pos, delta, PatchMode::Add}};
                const RunState full = t.run(ids, patch, LogitsMode::All);
                RunState reused = t.run(ids);
                t.rerun(reused, layer, pos, patch, LogitsMode::All);
                EXPECT_EQ(reused.logitsFirstPos, pos);
                // Bit for bit: every product is batch invariant (model/matmul.h).
                EXPECT_TRUE(reused.logits == full.logits.bottomRows(ids.size() - pos))
                    << name << " layer " << layer << " pos " << pos;
                EXPECT_TRUE(reused.resid[m.config.nLayers].topRows(ids.size()) ==
                            full.resid[m.config.nLayers].topRows(ids.size()));
            }
    }
}

TEST(TransformerPrefixReuse, ExtendEqualsFullRun) {
    const Model m = loadFixture("golden_llama_tied.h5");
    const Transformer t(m);
    const auto ids = goldenIds();
    RunState s = t.run({ids.begin(), ids.begin() + 3});
    for (size_t i = 3; i < ids.size(); ++i) t.extend(s, {ids[i]});
    const RunState full = t.run(ids);
    EXPECT_TRUE(s.lastLogits() == full.lastLogits());  // KV-cache decoding is exact
}

TEST(TransformerPrefixReuse, RerunManyEqualsSeparateReruns) {
    const Model m = loadFixture("golden_llama_untied.h5");
    const Transformer t(m);
    const auto ids = goldenIds();
    std::vector<RunState> together(3, t.run(ids));
    std::vector<Hooks> hooks(3);
    for (int i = 0; i < 3; ++i) {
        hooks[i].patches = {{HookSite::MlpOut, 0, 5, Vector::Constant(m.config.dModel, 0.3f * i), PatchMode::Add}};
        hooks[i].captures = {{HookSite::AttnPattern, 1}};
    }
    std::vector<RunState*> ptrs = {&together[0], &together[1], &together[2]};
    t.rerunMany(ptrs, 0, 4, {&hooks[0], &hooks[1], &hooks[2]});
    for (int i = 0; i < 3; ++i) {
        RunState alone = t.run(ids);
        t.rerun(alone, 0, 4, hooks[i]);
        EXPECT_TRUE(alone.lastLogits() == together[i].lastLogits());
        EXPECT_TRUE(alone.captured.at({HookSite::AttnPattern, 1}) ==
                    together[i].captured.at({HookSite::AttnPattern, 1}));
    }
    EXPECT_GT((together[0].lastLogits() - together[2].lastLogits()).cwiseAbs().maxCoeff(), 1e-3);
}

// Weights packed once when the Transformer is made give the same bits as weights
// packed per product: every logit of a full run, and KV-cache decoding, on GPT-2
// (biases everywhere, untied head) and Llama (tied and untied), and with an
// override, which is what gets packed in place of the model's weight.
TEST(TransformerPacking, WeightsPackedOnceGiveTheSameBits) {
    const auto ids = goldenIds();
    for (const char* name : {"golden_gpt2_untied.h5", "golden_llama_tied.h5", "golden_llama_untied.h5"}) {
        const Model m = loadFixture(name);
        WeightOverrides overrides;
        overrides.edit(m, 1, BlockLinear::Down).weight *= 1.5f;
        for (const WeightOverrides* o : std::vector<const WeightOverrides*>{nullptr, &overrides}) {
            const Transformer perProduct(m, o), once(m, o, WeightPacking::Once);
            const RunState a = perProduct.run(ids, {}, LogitsMode::All), b = once.run(ids, {}, LogitsMode::All);
            EXPECT_TRUE(a.logits == b.logits) << name;
            RunState decoded = once.run({ids.begin(), ids.begin() + 2});
            for (size_t i = 2; i < ids.size(); ++i) once.extend(decoded, {ids[i]});
            EXPECT_TRUE(decoded.lastLogits() == a.lastLogits()) << name;
        }
        const RunState plain = Transformer(m).run(ids), edited = Transformer(m, &overrides, WeightPacking::Once).run(ids);
        EXPECT_GT((plain.lastLogits() - edited.lastLogits()).cwiseAbs().maxCoeff(), 1e-4) << name;
    }
}

TEST(TransformerBatch, BatchEqualsSingleRuns) {
    const Model m = loadFixture("golden_gpt2_untied.h5");
    const Transformer t(m);
    const std::vector<std::vector<int>> prompts = {{1, 2, 3}, {4}, {7, 8, 9, 10, 11}};
    const auto batch = t.runBatch(prompts);
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(batch[i].logits, t.run(prompts[i]).logits);
}

TEST(TransformerBatch, ABadPatchInAParallelBatchIsAnErrorNotACrash) {
    const Model m = loadFixture("golden_gpt2_untied.h5");
    const Transformer t(m);
    Hooks patch;
    patch.patches = {{HookSite::MlpOut, 0, 7, Vector::Zero(m.config.dModel), PatchMode::Replace}};  // position 7
    EXPECT_THROW(t.runBatch({{1, 2, 3}, {4, 5}, {6, 7, 8, 9}}, patch), InvalidInput);
}

TEST(TransformerErrors, BadTokensAreRefusedWithASentence) {
    const Model m = loadFixture("golden_gpt2_untied.h5");
    const Transformer t(m);
    EXPECT_THROW(t.run({}), InvalidInput);
    EXPECT_THROW(t.run({1, 300}), InvalidInput);
    EXPECT_THROW(t.run({-1}), InvalidInput);
    EXPECT_THROW(t.run(std::vector<int>(m.config.nCtx + 1, 1)), InvalidInput);
    try {
        t.run(std::vector<int>(m.config.nCtx + 1, 1));
    } catch (const InvalidInput& e) {
        EXPECT_NE(std::string(e.what()).find("context of 24"), std::string::npos) << e.what();
    }
}


// A weight that overflows float32 (or a NaN that slipped into memory) must never reach a
// printed result: every pass (a run, a rerun, decoding) names the first layer that went
// non-finite.
TEST(TransformerErrors, ANonFiniteLayerIsNamedInsteadOfAResult) {
    Model m = loadFixture("golden_gpt2_untied.h5");
    ASSERT_GE(m.config.nLayers, 2);
    // Finite weights, but the residual of layer 1 overflows to Inf (3e38 + 3e38).
    m.weights.blocks[1].o.bias[0] = 3e38f;
    m.weights.blocks[1].down.bias[0] = 3e38f;
    const Transformer t(m);
    const std::string layer1 = "layer 1 of " + std::to_string(m.config.nLayers);
    auto expectLayer1 = [&](const std::function<void()>& run) {
        try {
            run();
            ADD_FAILURE() << "a non-finite pass gave a result";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("NaN or Inf in " + layer1), std::string::npos) << e.what();
        }
    };
    expectLayer1([&] { t.run({1, 2, 3}); });
    RunState clean = Transformer(loadFixture("golden_gpt2_untied.h5")).run({1, 2, 3});
    expectLayer1([&] { t.rerun(clean, 1, 0); });
    GenerateOptions options;
    options.maxNewTokens = 3;
    expectLayer1([&] { generate(t, {1, 2}, options); });
    // Layer 0 alone is still fine.
    EXPECT_NO_THROW(t.run({1, 2, 3}, {}, LogitsMode::None, 1));
}

}  // namespace
}  // namespace mwb
