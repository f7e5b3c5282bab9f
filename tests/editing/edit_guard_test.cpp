#include "editing/edit_guard.h"

#include <gtest/gtest.h>

#include <cmath>

#include "io/hdf5_model_file.h"

namespace mwb {
namespace {

TEST(EditGuard, FlagsPerplexityJumpsAndUpdatesThatMoveTheOutputOnOrdinaryText) {
    EXPECT_FALSE(judgeEdit(0.4, 0.07, 3.375, 3.382).destructive);  // an ordinary ROME edit of the demo model
    EXPECT_FALSE(judgeEdit(3.7, 0.17, 3.375, 3.374).destructive);  // MEMIT's large update in unused directions
    EXPECT_FALSE(judgeEdit(0.2, 0.1, 10.0, 10.9).destructive);     // +9 %
    const EditGuard jump = judgeEdit(0.2, 0.1, 10.0, 11.5);        // +15 %
    EXPECT_TRUE(jump.destructive);
    EXPECT_EQ(jump.perplexityBefore, 10.0);
    EXPECT_EQ(jump.perplexityAfter, 11.5);
    EXPECT_NE(jump.warning.find("10 -> 11.5"), std::string::npos) << jump.warning;
    EXPECT_TRUE(judgeEdit(0.5, 0.6, 10.0, 10.0).destructive);  // the output moves by more than half its size
    EXPECT_TRUE(judgeEdit(0.5, 0.6, 0.0, 0.0).destructive);    // no sample text: the size rule alone
    EXPECT_FALSE(judgeEdit(5.0, 0.4, 0.0, 0.0).destructive);
    EXPECT_TRUE(judgeEdit(5.0, 0.4, 0.0, 0.0).warning.empty());
    const EditGuard unmeasured = judgeEdit(0.5, 0.6, 0.0, 0.0);
    EXPECT_EQ(unmeasured.warning.find("perplexity"), std::string::npos) << unmeasured.warning;
}

TEST(EditGuard, ABatchMayMoveTheOutputBySqrtFactsTimesWhatOneFactMay) {
    // MEMIT, cases 480-579 of the demo model at once: perplexity +2.3 %.
    EXPECT_FALSE(judgeEdit(18.1, 1.16, 3.375, 3.452, 100).destructive);
    EXPECT_TRUE(judgeEdit(18.1, 1.16, 3.375, 3.452, 1).destructive);
    EXPECT_DOUBLE_EQ(judgeEdit(0.0, 0.0, 0.0, 0.0, 25).outputChangeLimit, 2.5);
    EXPECT_TRUE(judgeEdit(18.1, 5.1, 3.375, 3.452, 100).destructive);
    EXPECT_TRUE(judgeEdit(1.0, 0.1, 3.0, 3.5, 100).destructive);  // the perplexity rule does not scale
}

TEST(EditGuard, SamplePerplexityIsZeroWithoutTextAndMeasuresTheModel) {
    const Model m = loadModel(std::string(MWB_SOURCE_DIR) + "/tests/fixtures/golden_gpt2_untied.h5");
    EXPECT_EQ(samplePerplexity(m, ""), 0.0);
    const std::string text = "The cat sat on a mat. The dog sat on a log.";
    const double p = samplePerplexity(m, text);
    EXPECT_GT(p, 1.0);
    EXPECT_TRUE(std::isfinite(p));
    EXPECT_NE(samplePerplexity(m, text, 8), p);  // only the first 8 tokens
    EXPECT_EQ(samplePerplexity(m, text, 8), samplePerplexity(m, text.substr(0, 8), 8));  // one byte per token
}

}  // namespace
}  // namespace mwb
