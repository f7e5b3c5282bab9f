// Round-to-nearest block quantisation: the arithmetic of one block, error falling as
// bits rise, holding out a planted super weight lowering the error, exact restore.
#include <gtest/gtest.h>

#include <cstring>

#include "analysis/superweights/quantization.h"
#include "tensor/errors.h"
#include "tests/analysis/planted_model.h"

namespace mwb {
namespace {

using namespace planted;

const std::string kCorpus =
    "The cat sat on the mat. The dog sat on the log. A bird flew over the house and the tree, "
    "then it came back to the garden where the children were playing with a red ball.";

QuantizationConfig config(int bits, int block = 128, bool holdOut = false, double clip = 0.0) {
    return {bits, block, holdOut, clip};
}

TEST(Quantization, OneBlockIsRoundedToTheNearestLevelOfItsAbsmaxScale) {
    Matrix w(1, 6);
    w << 1.0f, -0.5f, 0.25f, 0.0f, -1.0f, 0.6f;
    QuantizationError e;
    const Matrix q = quantizeBlockwise(w, config(3, 6), {}, e);  // qmax 3: levels k/3
    Matrix expected(1, 6);
    expected << 1.0f, -2.0f / 3, 1.0f / 3, 0.0f, -1.0f, 2.0f / 3;
    EXPECT_TRUE(q.isApprox(expected, 1e-6f)) << q;
    EXPECT_EQ(e.weights, 6);
    EXPECT_NEAR(e.squaredNorm, 1 + 0.25 + 0.0625 + 1 + 0.36, 1e-6);
    // Two blocks of 3: the second block's scale comes from its own absmax.
    QuantizationError e2;
    const Matrix q2 = quantizeBlockwise(w, config(8, 3), {}, e2);
    EXPECT_NEAR(q2(0, 5), 0.6f, 1.0f / 127);
    EXPECT_EQ(q2(0, 4), -1.0f);
}

TEST(Quantization, HeldOutWeightsKeepTheirValueAndLeaveTheScale) {
    Matrix w(1, 4);
    w << 100.0f, 0.3f, -0.2f, 0.1f;
    QuantizationError plain, held;
    const Matrix a = quantizeBlockwise(w, config(4, 4), {}, plain);
    const Matrix b = quantizeBlockwise(w, config(4, 4), {0}, held);
    EXPECT_EQ(a(0, 1), 0.0f);  // scale 100/7 wipes out the small weights
    EXPECT_EQ(b(0, 0), 100.0f);
    EXPECT_NEAR(b(0, 1), 0.3f, 0.3f / 14);
    EXPECT_EQ(held.heldOut, 1);
    EXPECT_LT(held.relative(), plain.relative());
}

TEST(Quantization, ClippingKeepsSmallWeightsTheOutliersScaleWouldWipeOut) {
    Matrix w = Matrix::Constant(1, 128, 0.1f);
    w(0, 3) = 5.0f;
    QuantizationError plain, clipped;
    const Matrix a = quantizeBlockwise(w, config(4, 128), {}, plain);
    const Matrix b = quantizeBlockwise(w, config(4, 128, false, 2.0), {}, clipped);
    EXPECT_EQ(plain.clipped, 0);
    EXPECT_EQ(clipped.clipped, 1);
    EXPECT_EQ(a(0, 0), 0.0f);  // scale 5/7: 0.1 rounds to 0
    EXPECT_LT(b(0, 3), 2.0f);  // clipped to mean + 2 std of |w| (about 1.0)
    EXPECT_NEAR(b(0, 0), 0.1f, 0.05f);
}

TEST(Quantization, ErrorFallsAsBitsRise) {
    Model m = makeTinyModel(Architecture::Gpt2, 5);
    const auto chunks = corpusChunks(m, kCorpus);
    const auto t = evaluateQuantization(m, {config(3, 32), config(4, 32), config(8, 32)}, {}, chunks);
    ASSERT_EQ(t.rows.size(), 3u);
    EXPECT_GT(t.rows[0].error.relative(), t.rows[1].error.relative());
    EXPECT_GT(t.rows[1].error.relative(), t.rows[2].error.relative());
    EXPECT_GT(t.rows[0].corpus.meanKl, t.rows[1].corpus.meanKl);
    EXPECT_GT(t.rows[1].corpus.meanKl, t.rows[2].corpus.meanKl);
    EXPECT_LT(t.rows[2].corpus.meanKl, 1e-3);
    EXPECT_NEAR(t.rows[2].corpus.variant.perplexity, t.original.perplexity, 0.01 * t.original.perplexity);
}

TEST(Quantization, HoldingOutThePlantedSuperWeightLowersTheError) {
    Model m = plantedTinyGpt2();
    const auto chunks = corpusChunks(m, kCorpus);
    const std::vector<WeightCoord> sw = {{kPlantedLayer, kPlantedRow, kPlantedCol}};
    for (int bits : {3, 4}) {
        const auto t = evaluateQuantization(m, {config(bits, 128), config(bits, 128, true)}, sw, chunks);
        EXPECT_LT(t.rows[1].error.relative(), t.rows[0].error.relative()) << bits;
        EXPECT_LT(t.rows[1].corpus.meanKl, t.rows[0].corpus.meanKl) << bits;
        EXPECT_EQ(t.rows[1].error.heldOut, 1);
    }
}

TEST(Quantization, CachedOriginalStatesGiveTheSameComparison) {
    Model m = plantedTinyGpt2();
    const auto chunks = corpusChunks(m, kCorpus);
    QuantizationError e;
    ModelVariant v(m, quantizationOverrides(m, config(4, 64), {}, e));
    const CorpusComparison a = compareOnCorpus(v, chunks);
    const CorpusComparison b = compareOnCorpus(v, chunks, finalStates(m, chunks));
    EXPECT_DOUBLE_EQ(a.original.perplexity, b.original.perplexity);
    EXPECT_DOUBLE_EQ(a.variant.perplexity, b.variant.perplexity);
    EXPECT_DOUBLE_EQ(a.meanKl, b.meanKl);
    EXPECT_GT(a.meanKl, 0.0);
    EXPECT_THROW(compareOnCorpus(v, chunks, std::vector<Matrix>{}), InvalidInput);
}

TEST(Quantization, TheModelIsNeverChanged) {
    Model m = plantedTinyGpt2();
    const Model copy = m;
    evaluateQuantization(m, tableConfigs({3, 4}, 64, true, 3.0),
                         {{kPlantedLayer, kPlantedRow, kPlantedCol}}, corpusChunks(m, kCorpus));
    bool same = true;
    for (int l = 0; l < m.config.nLayers; ++l)
        for (auto [a, b] : {std::pair{&m.weights.blocks[l].q.weight, &copy.weights.blocks[l].q.weight},
                            {&m.weights.blocks[l].down.weight, &copy.weights.blocks[l].down.weight},
                            {&m.weights.blocks[l].up.weight, &copy.weights.blocks[l].up.weight}})
            same &= std::memcmp(a->data(), b->data(), a->size() * sizeof(float)) == 0;
    EXPECT_TRUE(same);
}

TEST(Quantization, TableConfigsAndBadInput) {
    const auto c = tableConfigs({4, 8}, 64, true, 2.5);
    ASSERT_EQ(c.size(), 8u);
    EXPECT_EQ(label(c[0]), "int4/64");
    EXPECT_EQ(label(c[1]), "int4/64 +SW");
    EXPECT_EQ(label(c[2]), "int4/64 clip z=2.5");
    EXPECT_EQ(label(c[3]), "int4/64 clip z=2.5 +SW");
    EXPECT_EQ(tableConfigs({3}, 16, false, 0).size(), 1u);
    EXPECT_THROW(tableConfigs({5}, 16, false, 0), InvalidInput);
    EXPECT_THROW(validateConfig(config(4, 0)), InvalidInput);
    EXPECT_THROW(validateConfig(config(4, 16, false, -1.0)), InvalidInput);
    Model m = plantedTinyGpt2();
    EXPECT_THROW(evaluateQuantization(m, {config(4)}, {{0, 16, 0}}, corpusChunks(m, kCorpus)), InvalidInput);
    EXPECT_THROW(evaluateQuantization(m, {config(4)}, {}, {}), InvalidInput);
}

// Quantised copies replace float32 matrices; a model that keeps its weights in
// float16 (large models) is refused rather than silently left unquantised.
TEST(Quantization, ModelKeptInFloat16IsRefused) {
    Model m = plantedTinyGpt2();
    auto& q = m.weights.blocks[0].q;
    q.weightHalf = HalfMatrix::fromFloat(q.weight);
    q.weight.resize(0, 0);
    QuantizationError error;
    EXPECT_THROW(quantizationOverrides(m, config(4), {}, error), InvalidInput);
}

}  // namespace
}  // namespace mwb
