#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "editing/second_moments.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "tests/support/temp_dir.h"
#include "model/transformer.h"

namespace mwb {
namespace {

const std::string kFixtures = std::string(MWB_SOURCE_DIR) + "/tests/fixtures/";
const std::string kTwoDocuments = "hello world\n\nsecond line here\n";

// The keys (mlp_in) of `layer` at every token of kTwoDocuments' two documents, captured
// by hand, one row per token.
MatrixD capturedKeys(const Model& m, int layer) {
    const Transformer t(m);
    Hooks h;
    h.captures = {{HookSite::MlpIn, layer}};
    MatrixD keys(0, m.config.dFf);
    for (const char* doc : {"hello world", "second line here"}) {
        const Matrix k = t.run(m.tokenizer.encodeIds(doc), h).captured.at({HookSite::MlpIn, layer});
        keys.conservativeResize(keys.rows() + k.rows(), Eigen::NoChange);
        keys.bottomRows(k.rows()) = k.cast<double>();
    }
    return keys;
}

TEST(SecondMoments, EqualTheMeanOuterProductOfTheKeys) {
    const Model m = loadModel(kFixtures + "golden_llama_untied.h5");
    SecondMomentOptions o;
    o.useCache = false;
    const SecondMoment s = secondMoment(m, 1, kTwoDocuments, o);
    // By hand: average k kᵀ over the captured keys.
    const MatrixD k = capturedKeys(m, 1);
    MatrixD sum = MatrixD::Zero(m.config.dFf, m.config.dFf);
    for (int i = 0; i < k.rows(); ++i) sum += k.row(i).transpose() * k.row(i);
    const long n = k.rows();
    EXPECT_EQ(s.tokens, n);
    EXPECT_LT((s.moment - sum / n).cwiseAbs().maxCoeff(), 1e-5 * sum.cwiseAbs().maxCoeff() / n);
    EXPECT_TRUE(s.moment == s.moment.transpose());  // accumulated as one triangle, mirrored
}

TEST(SecondMoments, OutputChangeByHand) {
    // W = diag(1, 2), C = diag(1, 4): E‖W k‖² = 1·1 + 4·4 = 17. ΔW = e1 e2ᵀ moves the
    // output by e1 · k₂, E‖ΔW k‖² = C₂₂ = 4.
    Matrix w(2, 2);
    w << 1, 0, 0, 2;
    MatrixD c = MatrixD::Zero(2, 2);
    c.diagonal() << 1, 4;
    EXPECT_DOUBLE_EQ(meanSquaredOutput(w, c), 17.0);
    MatrixD left(2, 1), right(2, 1);
    left << 1, 0;
    right << 0, 1;
    EXPECT_DOUBLE_EQ(outputChange(w, left, right, c), std::sqrt(4.0 / 17.0));
    right << 1, 0;  // along the low-variance key direction the same ||ΔW|| moves the output less
    EXPECT_DOUBLE_EQ(outputChange(w, left, right, c), std::sqrt(1.0 / 17.0));
    EXPECT_THROW(outputChange(w, left, MatrixD::Zero(3, 1), c), InvalidInput);
}

TEST(SecondMoments, OutputChangeIsTheChangeOfTheLayersOutputOnTheKeys) {
    const Model m = loadModel(kFixtures + "golden_llama_untied.h5");
    SecondMomentOptions o;
    o.useCache = false;
    const SecondMoment s = secondMoment(m, 1, kTwoDocuments, o);
    const Matrix& w = m.weights.blocks[1].down.weight;
    const MatrixD left = MatrixD::Random(m.config.dModel, 2), right = MatrixD::Random(m.config.dFf, 2);
    const MatrixD dw = left * right.transpose();
    // Σ‖ΔW k‖², Σ‖W k‖² over every key of the corpus
    const MatrixD k = capturedKeys(m, 1);
    const double moved = (k * dw.transpose()).squaredNorm(), out = (k * w.cast<double>().transpose()).squaredNorm();
    EXPECT_NEAR(outputChange(w, left, right, s.moment), std::sqrt(moved / out), 1e-6 * std::sqrt(moved / out));
}

TEST(SecondMoments, MaxTokensAndChunksLongerThanTheContext) {
    const Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    SecondMomentOptions o;
    o.useCache = false;
    o.maxTokens = 30;
    // One 60-byte document: split into chunks of n_ctx = 24 tokens, cut at 30.
    EXPECT_EQ(secondMoment(m, 0, std::string(60, 'a'), o).tokens, 30);
    EXPECT_THROW(secondMoment(m, 0, "\n\n", o), InvalidInput);
    EXPECT_THROW(secondMoment(m, 5, "abc", o), InvalidInput);
}

// The sums are taken per shard of shardTokens tokens and added in shard order, which
// fixes the floating-point order for any number of ranks. Another shard size adds in
// another order: the same statistics within a few units in the last place, not the
// same bits, and so a different cache entry.
TEST(SecondMoments, ShardSizeChangesOnlyTheOrderOfTheSums) {
    const Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const test::TempDir dir;
    SecondMomentOptions o;
    o.cacheDir = dir.path();
    std::string corpus;
    for (int i = 0; i < 40; ++i) corpus += "document number " + std::to_string(i) + " of the shard test\n";
    o.shardTokens = 1000000;  // one shard: the plain running sum
    const SecondMoment whole = secondMoment(m, 1, corpus, o);
    o.shardTokens = 17;
    const SecondMoment sharded = secondMoment(m, 1, corpus, o);
    EXPECT_FALSE(sharded.fromCache);  // the shard size is part of the key
    EXPECT_EQ(sharded.tokens, whole.tokens);
    EXPECT_LE((sharded.moment - whole.moment).cwiseAbs().maxCoeff(), 1e-13 * whole.moment.cwiseAbs().maxCoeff());
    EXPECT_TRUE(sharded.moment == sharded.moment.transpose());
    // The same shard size again: the same bits (from the cache, and recomputed).
    EXPECT_EQ(secondMoment(m, 1, corpus, o).moment, sharded.moment);
    o.useCache = false;
    EXPECT_EQ(secondMoment(m, 1, corpus, o).moment, sharded.moment);
    o.shardTokens = 0;
    EXPECT_THROW(secondMoment(m, 1, corpus, o), InvalidInput);
}

TEST(SecondMoments, CacheIsReusedAndInvalidatedByAWeightChange) {
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const test::TempDir dir;
    SecondMomentOptions o;
    o.cacheDir = dir.path();
    const std::string corpus = "some text to measure\nand more of it\n";
    const SecondMoment first = secondMoment(m, 1, corpus, o);
    EXPECT_FALSE(first.fromCache);
    const SecondMoment again = secondMoment(m, 1, corpus, o);
    EXPECT_TRUE(again.fromCache);
    EXPECT_EQ(again.moment, first.moment);
    // Layer 1's own mlp/down does not shape its keys: still cached.
    m.weights.blocks[1].down.weight(0, 0) += 1.0f;
    EXPECT_TRUE(secondMoment(m, 1, corpus, o).fromCache);
    // Anything below does.
    m.weights.blocks[0].down.weight(0, 0) += 1.0f;
    const SecondMoment changed = secondMoment(m, 1, corpus, o);
    EXPECT_FALSE(changed.fromCache);
    EXPECT_NE(changed.moment, first.moment);
    // So does the corpus.
    EXPECT_FALSE(secondMoment(m, 1, corpus + "x\n", o).fromCache);
}

// An edited model written elsewhere starts with its source's statistics, linked: the
// next edit of the new file finds them for every layer whose keys the edit left alone.
TEST(SecondMoments, WrittenModelsShareTheirSourcesCachedStatistics) {
    namespace fs = std::filesystem;
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const test::TempDir dir;
    const std::string corpus = "some text to measure\nand more of it\n";
    m.path = dir / "source.h5";
    EXPECT_FALSE(secondMoment(m, 1, corpus).fromCache);  // cached beside source.h5
    const fs::path linkedDir = dir / "edited.h5.mwbstats";
    linkCachedStatistics(dir / "source.h5", dir / "edited.h5");
    ASSERT_TRUE(fs::is_directory(linkedDir));
    for (const auto& e : fs::directory_iterator(linkedDir)) EXPECT_EQ(fs::hard_link_count(e.path()), 2u);
    m.path = dir / "edited.h5";
    m.weights.blocks[1].down.weight(0, 0) += 1.0f;  // an edit of layer 1 keeps its keys
    EXPECT_TRUE(secondMoment(m, 1, corpus).fromCache);
    // Linking again, onto itself or from a model without statistics does nothing.
    linkCachedStatistics(dir / "source.h5", dir / "edited.h5");
    linkCachedStatistics(dir / "edited.h5", dir / "edited.h5");
    linkCachedStatistics(dir / "nothing.h5", dir / "other.h5");
    linkCachedStatistics("", dir / "other.h5");
    EXPECT_FALSE(fs::exists(dir / "other.h5.mwbstats"));
}

TEST(SecondMoments, CacheKeepsOnlyTheMostRecentlyUsedWithinItsSize) {
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const test::TempDir dir;
    SecondMomentOptions o;
    o.cacheDir = dir.path();
    const uintmax_t entry = 24 + sizeof(double) * m.config.dFf * m.config.dFf;
    o.maxCacheBytes = 2 * entry;  // room for two
    const std::string corpus = "some text to measure\nand more of it\n";
    auto files = [&] {
        int n = 0;
        for (const auto& e : std::filesystem::directory_iterator(dir.path())) n += e.path().extension() == ".bin";
        return n;
    };
    secondMoment(m, 0, corpus, o);
    secondMoment(m, 1, corpus, o);
    EXPECT_EQ(files(), 2);
    EXPECT_TRUE(secondMoment(m, 0, corpus, o).fromCache);  // layer 0 is now the most recently used
    m.weights.blocks[0].up.weight(0, 0) += 1.0f;            // a third key for layer 0 ...
    EXPECT_FALSE(secondMoment(m, 0, corpus, o).fromCache);
    EXPECT_EQ(files(), 2);  // ... pushes out the least recently used: layer 1's
    EXPECT_FALSE(secondMoment(m, 1, corpus, o).fromCache);
}

}  // namespace
}  // namespace mwb
