#include "analysis/subject_corruption.h"

#include <gtest/gtest.h>

#include "tensor/errors.h"
#include "io/hdf5_model_file.h"

namespace mwb {
namespace {

const std::string kFixtures = std::string(MWB_SOURCE_DIR) + "/tests/fixtures/";

std::vector<KnownFact> facts() {
    // The fixtures' tokenizer has one token per byte.
    return {{0, "cat sat", " on", "The {} on a mat", "The cat sat on a mat", "P0"},
            {1, "a mat", ".", "The cat sat on {}", "The cat sat on a mat", "P0"}};
}

SubjectCorruptionParams params(double noise) {
    SubjectCorruptionParams p;
    p.layers = {0, 1};
    p.samples = 4;
    p.noise = noise;
    p.skipWrong = false;
    return p;
}

TEST(SubjectCorruption, ZeroNoiseKeepsEveryProbabilityExactly) {
    const Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const auto r = corruptSubjects(m, facts(), params(0.0));
    ASSERT_EQ(r.facts.size(), 2u);
    for (const auto& f : r.facts)
        for (double p : f.pCorrupted) EXPECT_EQ(p, f.pClean);  // the rerun is bit-exact
    EXPECT_EQ(r.meanKept, (std::vector<double>{1.0, 1.0}));
    EXPECT_EQ(r.fractionRemoved, (std::vector<double>{0.0, 0.0}));
    for (const auto& f : r.facts) EXPECT_EQ(f.pSubjectUnknown, f.pClean);
    EXPECT_EQ(r.dependentFacts, 0);  // nothing depends on a subject that is never hidden
    EXPECT_EQ(r.fractionRemovedDependent, (std::vector<double>{0.0, 0.0}));
}

TEST(SubjectCorruption, LargeNoiseAtTheSubjectMovesTheAnswerAndIsCounted) {
    const Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const auto r = corruptSubjects(m, facts(), params(50.0));
    ASSERT_EQ(r.facts.size(), 2u);
    bool moved = false;
    for (const auto& f : r.facts)
        for (double p : f.pCorrupted) moved |= std::abs(p - f.pClean) > 1e-3 * f.pClean;
    EXPECT_TRUE(moved);
    // The summary is the count of facts below half their clean probability.
    for (size_t l = 0; l < 2; ++l) {
        double expected = 0, kept = 0;
        for (const auto& f : r.facts) {
            expected += f.pCorrupted[l] < 0.5 * f.pClean ? 0.5 : 0.0;
            kept += f.pCorrupted[l] / f.pClean / 2;
        }
        EXPECT_DOUBLE_EQ(r.fractionRemoved[l], expected);
        EXPECT_NEAR(r.meanKept[l], kept, 1e-12);
    }
    // Hiding the whole subject moves the answer too; the "dependent" summary counts
    // only facts it moves below half, and the share among them.
    int dependent = 0;
    std::vector<int> removed(2, 0);
    for (const auto& f : r.facts) {
        EXPECT_NE(f.pSubjectUnknown, f.pClean);
        if (f.pSubjectUnknown >= 0.5 * f.pClean) continue;
        ++dependent;
        for (size_t l = 0; l < 2; ++l) removed[l] += f.pCorrupted[l] < 0.5 * f.pClean;
    }
    ASSERT_EQ(r.dependentFacts, dependent);
    for (size_t l = 0; l < 2; ++l)
        EXPECT_DOUBLE_EQ(r.fractionRemovedDependent[l], dependent ? double(removed[l]) / dependent : 0.0);
}

TEST(SubjectCorruption, WholeSubjectNoiseCoversEverySubjectToken) {
    const Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const std::vector<KnownFact> one = {facts()[0]};  // "cat sat": seven tokens
    // Entering layer 0, noise on every subject token is the "subject unknown" run,
    // which draws from the stream seeded seed + 1: the same draws, the same p.
    auto whole = params(2.0);
    whole.layers = {0};
    whole.wholeSubject = true;
    whole.seed = 5;
    auto lastOnly = whole;
    lastOnly.wholeSubject = false;
    lastOnly.seed = 4;
    const double pWhole = corruptSubjects(m, one, whole).facts[0].pCorrupted[0];
    EXPECT_EQ(pWhole, corruptSubjects(m, one, lastOnly).facts[0].pSubjectUnknown);
    lastOnly.seed = 5;
    EXPECT_NE(pWhole, corruptSubjects(m, one, lastOnly).facts[0].pCorrupted[0]);
    // A one-token subject: both are the same noise on the same token.
    const std::vector<KnownFact> single = {{0, "c", "at", "The {}at sat", "The cat sat", "P0"}};
    whole.layers = lastOnly.layers = {1};
    EXPECT_EQ(corruptSubjects(m, single, whole).facts[0].pCorrupted[0],
              corruptSubjects(m, single, lastOnly).facts[0].pCorrupted[0]);
}

TEST(SubjectCorruption, BadInputIsRefused) {
    const Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    auto p = params(1.0);
    EXPECT_THROW(corruptSubjects(m, {}, p), InvalidInput);
    p.layers = {2};
    EXPECT_THROW(corruptSubjects(m, facts(), p), InvalidInput);
    auto bad = facts();
    bad[0].subject = "dog";
    EXPECT_THROW(corruptSubjects(m, bad, params(1.0)), InvalidInput);
}

}  // namespace
}  // namespace mwb
