// Ablation: zeroing a planted super weight changes the next-token distribution while
// zeroing an ordinary weight does not, restoring the super activation recovers it,
// and the model's weights are always restored bit-for-bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "analysis/superweights/ablation.h"
#include "analysis/superweights/stop_words.h"
#include "analysis/superweights/superweight_experiments.h"
#include "tensor/errors.h"
#include "model/generate.h"
#include "model/transformer.h"
#include "tests/analysis/planted_model.h"

namespace mwb {
namespace {

using namespace planted;

const WeightChange kSuperWeight{kPlantedLayer, kPlantedRow, kPlantedCol, 0.0f};

AblationInputs inputs(const Model& m, int generate = 0) {
    AblationInputs in;
    for (const char* p : {"The cat sat on the mat.", "Hello there", "x", "One, two, three"})
        in.prompts.push_back(m.tokenizer.encodeIds(p));
    in.stopWords = stopWordMask(m.tokenizer, loadStopWords(defaultStopWordsFile()));
    in.topK = 5;
    in.generateTokens = generate;
    return in;
}

// Every tensor of the model, flattened, for bit-for-bit comparisons.
std::vector<std::vector<float>> snapshot(const Model& m) {
    std::vector<std::vector<float>> out;
    forEachTensor(m.config, m.weights, [&](const std::string&, const auto& t) {
        out.emplace_back(t.data(), t.data() + t.size());
    });
    return out;
}

bool identical(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0)
            return false;
    return true;
}

TEST(Ablation, ZeroingTheSuperWeightChangesTheOutputButAnOrdinaryWeightDoesNot) {
    Model m = plantedTinyGpt2();
    const auto in = inputs(m);
    const auto sw = runAblation(m, {kSuperWeight}, in);
    EXPECT_GT(sw.meanKl, 0.5);  // measured 1.74
    for (int col : {0, 17, 31}) {
        const auto other = runAblation(m, {{kPlantedLayer, kPlantedRow + 1, col, 0.0f}}, in);
        EXPECT_LT(other.meanKl, 0.05) << "column " << col;  // measured below 0.009
    }
}

TEST(Ablation, RestoringTheSuperActivationRecoversTheOutput) {
    Model m = plantedTinyGpt2();
    const auto e = runSuperWeightExperiments(m, {{kPlantedLayer, kPlantedRow, kPlantedCol}}, inputs(m), 7);
    EXPECT_GT(e.zeroed.meanKl, 0.1);
    EXPECT_TRUE(e.zeroedRestored.activationRestored);
    EXPECT_LT(e.zeroedRestored.meanKl, 0.01 * e.zeroed.meanKl);
    ASSERT_TRUE(e.control.has_value());
    EXPECT_EQ(e.control->changes.size(), 7u);
    EXPECT_LT(e.control->meanKl, e.zeroed.meanKl);
}

TEST(Ablation, TheModelIsNeverChanged) {
    Model m = plantedTinyGpt2();
    const auto before = snapshot(m);
    const std::vector<WeightChange> changes = {kSuperWeight, {1, 2, WeightChange::kAll, 0.0f},
                                               {0, WeightChange::kAll, 7, 2.5f}, {1, 4, 4, -1.0f},
                                               {1, 4, 4, 3.0f}};
    auto in = inputs(m, 3);
    AblationInputs withCorpus = in;
    withCorpus.corpus = corpusChunks(m, "The quick brown fox jumps over the lazy dog. " "A second sentence follows.");
    runAblation(m, changes, withCorpus);
    EXPECT_TRUE(identical(before, snapshot(m)));
    runAblation(m, {kSuperWeight, {1, 2, 3, 0.0f}}, in, true);
    EXPECT_TRUE(identical(before, snapshot(m)));
    runScaleSweep(m, {{kPlantedLayer, kPlantedRow, kPlantedCol}}, {0.0, 2.0}, in);
    EXPECT_TRUE(identical(before, snapshot(m)));
    // Also when the work is cancelled half-way.
    int calls = 0;
    const ProgressFn cancel = [&calls](const Progress&) { return ++calls < 3; };
    EXPECT_THROW(runAblation(m, changes, in, false, "x", cancel), Cancelled);
    EXPECT_TRUE(identical(before, snapshot(m)));
    calls = 0;  // 4 prompts, then the corpus: the 6th report comes from inside its comparison
    const ProgressFn cancelInCorpus = [&calls](const Progress&) { return ++calls < 6; };
    const std::vector<WeightChange> rows = {kSuperWeight, {1, 2, WeightChange::kAll, 0.0f}, {1, 4, 4, -1.0f}};
    EXPECT_THROW(runAblation(m, rows, withCorpus, true, "x", cancelInCorpus), Cancelled);
    EXPECT_EQ(calls, 6);
    EXPECT_TRUE(identical(before, snapshot(m)));
}

// The comparison's generations end at end of text, as the Predict tab's do: a model
// whose end-of-text token is its next greedy token generates nothing on either side.
TEST(Ablation, GenerationsStopAtEndOfText) {
    Model m = plantedTinyGpt2();
    const auto ids = m.tokenizer.encodeIds("Hello there");
    Eigen::Index next = 0;
    Transformer(m).run(ids).lastLogits().maxCoeff(&next);
    TokenizerSpec spec = m.tokenizer.spec();
    spec.eosId = static_cast<int>(next);
    m.tokenizer = Tokenizer(spec);
    AblationInputs in;
    in.prompts = {ids};
    in.topK = 5;
    in.generateTokens = 4;
    const auto r = runAblation(m, {{kPlantedLayer, 0, 0, 1.0f}}, in);  // a change that changes nothing
    EXPECT_EQ(r.prompts[0].generationOriginal, "");
    EXPECT_EQ(r.prompts[0].generationAblated, "");
}

TEST(Ablation, ResultsReportTheChangesAndOriginalValues) {
    Model m = plantedTinyGpt2();
    const auto r = runAblation(m, {kSuperWeight, {1, WeightChange::kAll, 2, 0.0f}}, inputs(m, 4));
    ASSERT_EQ(r.originalValues.size(), 2u);
    EXPECT_FLOAT_EQ(r.originalValues[0], kPlantedWeight);
    EXPECT_TRUE(std::isnan(r.originalValues[1]));
    ASSERT_EQ(r.prompts.size(), 4u);
    for (const auto& p : r.prompts) {
        EXPECT_EQ(p.topOriginal.size(), 5u);
        EXPECT_GE(p.topOverlap, 0);
        EXPECT_LE(p.topOverlap, 5);
        EXPECT_GE(p.stopWordMassOriginal, 0.0);
        EXPECT_LE(p.stopWordMassOriginal, 1.0 + 1e-9);
    }
    // The original's greedy continuation is what generate() gives, up to end of text.
    GenerateOptions g;
    g.maxNewTokens = 4;
    const auto ids = m.tokenizer.encodeIds("Hello there");
    EXPECT_EQ(r.prompts[1].generationOriginal, generatedText(m.tokenizer, generate(Transformer(m), ids, g)));
    const auto j = toJson(r);
    EXPECT_TRUE(j.contains("kl"));
    EXPECT_TRUE(j.contains("top_original"));
    EXPECT_TRUE(j.contains("top_ablated"));
}

TEST(Ablation, NoChangeGivesZeroKlAndIdenticalPerplexity) {
    Model m = plantedTinyGpt2();
    auto in = inputs(m);
    in.corpus = corpusChunks(m, "Some text to measure the perplexity of, long enough for two chunks of context.");
    const auto r = runAblation(m, {{0, 1, 1, 1.0f}}, in);
    EXPECT_NEAR(r.meanKl, 0.0, 1e-12);
    ASSERT_TRUE(r.corpus.has_value());
    EXPECT_DOUBLE_EQ(r.corpus->original.perplexity, r.corpus->variant.perplexity);
    EXPECT_DOUBLE_EQ(r.corpus->original.perplexity, corpusPerplexity(m, in.corpus).perplexity);
}

TEST(Ablation, ScaleSweepAtFactorOneIsTheOriginal) {
    Model m = plantedTinyGpt2();
    auto in = inputs(m);
    in.corpus = corpusChunks(m, "Some text to measure the perplexity of.");
    const auto s = runScaleSweep(m, {{kPlantedLayer, kPlantedRow, kPlantedCol}}, {0.0, 1.0, 3.0}, in);
    ASSERT_EQ(s.points.size(), 3u);
    EXPECT_NEAR(s.points[1].meanKl, 0.0, 1e-12);
    EXPECT_DOUBLE_EQ(*s.points[1].perplexity, *s.perplexityOriginal);
    EXPECT_DOUBLE_EQ(s.points[1].stopWordMass, s.stopWordMassOriginal);
    EXPECT_GT(s.points[0].meanKl, 0.1);
    EXPECT_EQ(defaultScaleFactors().front(), 0.0);
    EXPECT_EQ(defaultScaleFactors().back(), 3.0);
}

TEST(Ablation, PerplexityIsTheExponentOfTheMeanNegativeLogLikelihood) {
    const Model m = plantedTinyGpt2();
    const std::string text = "The cat sat on the mat and looked at the dog, which sat on the log.";
    const auto chunks = corpusChunks(m, text);
    ASSERT_EQ(chunks.size(), 2u);  // 57 tokens (" the" is one), nCtx 32
    EXPECT_EQ(chunks[0].size(), 32u);
    EXPECT_EQ(chunks[1].size(), 25u);
    double nll = 0;
    long count = 0;
    const Transformer t(m);
    for (const auto& c : chunks) {
        const RunState s = t.run(c, {}, LogitsMode::All);
        for (size_t i = 0; i + 1 < c.size(); ++i, ++count) nll -= logSoftmax(s.logits.row(i))[c[i + 1]];
    }
    const auto score = corpusPerplexity(m, chunks);
    EXPECT_EQ(score.tokens, count);
    EXPECT_NEAR(score.perplexity, std::exp(nll / count), 1e-6 * score.perplexity);
    EXPECT_EQ(corpusChunks(m, text, 10).size(), 1u);
    EXPECT_THROW(corpusChunks(m, "x"), InvalidInput);
}

TEST(Ablation, ParsesWeightNames) {
    const WeightChange a = parseWeightChange("2:3968:7003");
    EXPECT_EQ(a.layer, 2);
    EXPECT_EQ(a.row, 3968);
    EXPECT_EQ(a.col, 7003);
    EXPECT_EQ(a.factor, 0.0f);
    EXPECT_EQ(parseWeightChange("1:2:*").col, WeightChange::kAll);
    EXPECT_EQ(parseWeightChange("1:*:2").row, WeightChange::kAll);
    EXPECT_FLOAT_EQ(parseWeightChange("1:2:3=0.5").factor, 0.5f);
    EXPECT_FLOAT_EQ(parseWeightChange("1:2:3", 2.0f).factor, 2.0f);
    EXPECT_EQ(toString(parseWeightChange("1:2:3=1.5")), "1:2:3=1.5");
    for (const char* bad : {"1:2", "1:2:3:4", "a:b:c", "1:2:3=", "1:2:3=x", "1:*:*", "-1:2:3", "", "1::3", "1:2:"})
        EXPECT_THROW(parseWeightChange(bad), InvalidInput) << bad;
    const Model m = plantedTinyGpt2();
    EXPECT_THROW(validateChange(m.config, {2, 0, 0, 0.0f}), InvalidInput);
    EXPECT_THROW(validateChange(m.config, {0, 16, 0, 0.0f}), InvalidInput);
    EXPECT_THROW(validateChange(m.config, {0, 0, 32, 0.0f}), InvalidInput);
    EXPECT_NO_THROW(validateChange(m.config, {1, 15, 31, 0.0f}));
}

TEST(Ablation, BadInputIsRejected) {
    Model m = plantedTinyGpt2();
    auto in = inputs(m);
    EXPECT_THROW(runAblation(m, {}, in), InvalidInput);
    EXPECT_THROW(runAblation(m, {{0, 99, 0, 0.0f}}, in), InvalidInput);
    EXPECT_THROW(runAblation(m, {{0, WeightChange::kAll, 3, 0.0f}}, in, true), InvalidInput);
    AblationInputs none = in;
    none.prompts.clear();
    EXPECT_THROW(runAblation(m, {kSuperWeight}, none), InvalidInput);
    AblationInputs tooLong = in;
    tooLong.prompts = {std::vector<int>(40, 65)};
    EXPECT_THROW(runAblation(m, {kSuperWeight}, tooLong), InvalidInput);
}

TEST(Ablation, LargestOtherWeightsExcludeTheChangedOnes) {
    const Model m = plantedTinyGpt2();
    const auto others = largestOtherWeights(m, {kSuperWeight}, 5);
    ASSERT_EQ(others.size(), 5u);
    const Matrix& w = m.weights.blocks[kPlantedLayer].down.weight;
    float smallestTaken = INFINITY;
    for (const auto& c : others) {
        EXPECT_EQ(c.layer, kPlantedLayer);
        EXPECT_FALSE(c.row == kPlantedRow && c.col == kPlantedCol);
        smallestTaken = std::min(smallestTaken, std::abs(w(c.row, c.col)));
    }
    int larger = 0;  // weights above the smallest taken, other than the super weight
    for (int r = 0; r < w.rows(); ++r)
        for (int c = 0; c < w.cols(); ++c) larger += std::abs(w(r, c)) > smallestTaken ? 1 : 0;
    EXPECT_EQ(larger, 5);  // the super weight plus the 4 others above the fifth
}

TEST(Ablation, StopWordsAreMatchedOnStrippedLowerCaseTokenText) {
    const Model m = plantedTinyGpt2();
    const auto mask = stopWordMask(m.tokenizer, {"the", "a"});
    const int the = m.tokenizer.pieceId("\xC4\xA0the");  // " the"
    ASSERT_GE(the, 0);
    EXPECT_TRUE(mask[the]);
    EXPECT_TRUE(mask[m.tokenizer.pieceId("a")]);
    EXPECT_FALSE(mask[m.tokenizer.pieceId("b")]);
    EXPECT_FALSE(mask[m.tokenizer.pieceId("he")]);
    VectorD p = VectorD::Zero(mask.size());
    p[the] = 0.25;
    p[m.tokenizer.pieceId("b")] = 0.75;
    EXPECT_DOUBLE_EQ(maskedMass(p, mask), 0.25);
    EXPECT_GT(loadStopWords(defaultStopWordsFile()).size(), 100u);
}

// Overrides hold changed copies and never write the model; a transformer with them
// runs exactly the model changed in place. Of two changes of one weight, the later
// one holds, computed from the original value.
TEST(Ablation, OverridesChangeCopiesAndLeaveTheModelUnwritten) {
    const Model m = plantedTinyGpt2();
    const Matrix original = m.weights.blocks[1].down.weight;
    const WeightOverrides o = weightOverrides(m, {{1, 2, 3, 0.0f}, {1, 2, 3, 2.0f}});
    const Linear* down = o.find(1, BlockLinear::Down);
    ASSERT_NE(down, nullptr);
    EXPECT_EQ(o.find(0, BlockLinear::Down), nullptr);
    EXPECT_EQ(down->weight(2, 3), original(2, 3) * 2.0f);
    Matrix others = down->weight - original;
    others(2, 3) = 0.0f;
    EXPECT_TRUE(others.isZero(0.0f));
    EXPECT_TRUE(m.weights.blocks[1].down.weight == original);

    Model changed = m;
    changed.weights.blocks[1].down.weight(2, 3) *= 2.0f;
    const std::vector<int> ids = {1, 5, 9, 2, 7};
    const RunState viaOverrides = Transformer(m, &o).run(ids, {}, LogitsMode::All);
    const RunState inPlace = Transformer(changed).run(ids, {}, LogitsMode::All);
    const RunState plain = Transformer(m).run(ids, {}, LogitsMode::All);
    EXPECT_TRUE(viaOverrides.logits == inPlace.logits);
    EXPECT_FALSE(viaOverrides.logits == plain.logits);

    WeightOverrides bad;
    EXPECT_THROW(bad.edit(m, 99, BlockLinear::Down), InvalidInput);
    EXPECT_THROW(bad.edit(m, 0, BlockLinear::Gate), InvalidInput);  // GPT-2 has no gate
    EXPECT_THROW(bad.set(m, 0, BlockLinear::Q, Linear{}), InvalidInput);
    EXPECT_TRUE(bad.empty());
}

}  // namespace
}  // namespace mwb
