#include <gtest/gtest.h>

#include "tensor/errors.h"
#include "model/generate.h"
#include "io/hdf5_model_file.h"

namespace mwb {
namespace {

const std::string kFixtures = std::string(MWB_SOURCE_DIR) + "/tests/fixtures/";

TEST(Sampling, GreedyTopKTopPAndTemperature) {
    RowVector logits(4);
    logits << 1.0f, 3.0f, 2.0f, 3.0f - 1e-3f;
    EXPECT_EQ(sampleToken(logits, {}, 0.99), 1);                      // greedy ignores u
    EXPECT_EQ(sampleToken(logits, {1.0f, 1, 1.0f, 0}, 0.99), 1);      // top-k 1 = greedy
    EXPECT_EQ(sampleToken(logits, {1.0f, 0, 0.01f, 0}, 0.99), 1);     // tiny nucleus = greedy
    // Temperature 1, no cuts: the sorted order is [1, 3, 2, 0]; p ∝ exp(logit).
    const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0) + std::exp(3.0 - 1e-3);
    const double p1 = std::exp(3.0) / z, p3 = std::exp(3.0 - 1e-3) / z;
    EXPECT_EQ(sampleToken(logits, {1.0f, 0, 1.0f, 0}, p1 - 1e-4), 1);
    EXPECT_EQ(sampleToken(logits, {1.0f, 0, 1.0f, 0}, p1 + 1e-4), 3);
    EXPECT_EQ(sampleToken(logits, {1.0f, 0, 1.0f, 0}, p1 + p3 + 1e-4), 2);
    EXPECT_EQ(sampleToken(logits, {1.0f, 0, 1.0f, 0}, 0.999999), 0);
    // top-k 2 keeps tokens 1 and 3 only.
    EXPECT_EQ(sampleToken(logits, {1.0f, 2, 1.0f, 0}, 0.999999), 3);
    EXPECT_THROW(sampleToken(logits, {1.0f, 0, 0.0f, 0}, 0.5), InvalidInput);
}

TEST(Generate, TextLeavesOutTheEndOfTextItStoppedAt) {
    const Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const int eos = m.tokenizer.spec().eosId;
    ASSERT_GE(eos, 0);
    const std::vector<int> cat = m.tokenizer.encodeIds("cat", false);
    Generation g;
    g.newIds = cat;
    g.newIds.push_back(eos);
    g.stoppedAtEos = true;
    EXPECT_EQ(generatedText(m.tokenizer, g), "cat");
    g.stoppedAtEos = false;  // an end-of-text the generation ran through stays visible
    EXPECT_EQ(generatedText(m.tokenizer, g), "cat" + m.tokenizer.tokenBytes(eos));
}

TEST(Generate, GreedyEqualsRepeatedFullRuns) {
    const Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const Transformer t(m);
    GenerateOptions o;
    o.maxNewTokens = 8;
    o.stopAtEos = false;
    const Generation g = generate(t, {5, 17, 250}, o);
    ASSERT_EQ(g.newIds.size(), 8u);
    std::vector<int> ids = {5, 17, 250};
    for (int expected : g.newIds) {
        Eigen::Index best;
        t.run(ids).lastLogits().maxCoeff(&best);
        EXPECT_EQ(best, expected);
        ids.push_back(static_cast<int>(best));
    }
}

TEST(Generate, SamplingIsDeterministicForASeedAndStopsAtContext) {
    const Model m = loadModel(kFixtures + "golden_llama_untied.h5");
    const Transformer t(m);
    GenerateOptions o;
    o.maxNewTokens = 100;
    o.stopAtEos = false;
    o.sampling = {1.0f, 20, 0.9f, 42};
    const Generation a = generate(t, {1, 2, 3}, o);
    const Generation b = generate(t, {1, 2, 3}, o);
    EXPECT_EQ(a.newIds, b.newIds);
    EXPECT_TRUE(a.stoppedAtContext);
    EXPECT_EQ(a.promptIds.size() + a.newIds.size(), static_cast<size_t>(m.config.nCtx));
    o.sampling.seed = 43;
    EXPECT_NE(generate(t, {1, 2, 3}, o).newIds, a.newIds);
}

}  // namespace
}  // namespace mwb
