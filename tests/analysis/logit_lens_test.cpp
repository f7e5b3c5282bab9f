// The logit lens: at the last layer it is exactly the model's own output.
#include <gtest/gtest.h>

#include "analysis/logit_lens.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "tests/support/test_models.h"
#include "model/transformer.h"

namespace mwb {
namespace {

void expectLastLayerIsTheModelsOutput(const Model& m, const std::vector<int>& ids, int target) {
    const LogitLensResult lens = logitLens(m, ids, 5, target);
    ASSERT_EQ(static_cast<int>(lens.top.size()), m.config.nLayers);
    const RunState s = Transformer(m).run(ids, {}, LogitsMode::All);
    const auto& last = lens.top.back();
    ASSERT_EQ(last.size(), ids.size());
    for (size_t p = 0; p < ids.size(); ++p) {
        const VectorD probs = logSoftmax(s.logits.row(p)).array().exp();
        const auto expected = topTokens(probs, 5, m.tokenizer);
        ASSERT_EQ(last[p].size(), 5u);
        for (int k = 0; k < 5; ++k) {
            EXPECT_EQ(last[p][k].id, expected[k].id) << "position " << p << " rank " << k;
            EXPECT_NEAR(last[p][k].prob, expected[k].prob, 1e-9);
        }
        EXPECT_NEAR(lens.targetProb.back()[p], probs[target], 1e-9);
    }
}

TEST(LogitLens, LastLayerEqualsTheModelsOutput) {
    for (auto arch : {Architecture::Gpt2, Architecture::Llama}) {
        const Model m = makeTinyModel(arch, 4, {.nLayers = 3, .weightStd = 0.4f, .sentencePiece = arch == Architecture::Llama});
        expectLastLayerIsTheModelsOutput(m, m.tokenizer.encodeIds("The cat sat on"), 70);
    }
    const Model golden = loadModel(std::string(MWB_SOURCE_DIR) + "/tests/fixtures/golden_llama_tied.h5");
    expectLastLayerIsTheModelsOutput(golden, golden.tokenizer.encodeIds("Paris is in"), 3);
}

TEST(LogitLens, ShapesProbabilitiesAndJson) {
    const Model m = makeTinyModel(Architecture::Gpt2, 4, {.nLayers = 3});
    const auto ids = m.tokenizer.encodeIds("abc");
    const LogitLensResult r = logitLens(m, ids, 3, 66);
    ASSERT_EQ(r.targetProb.size(), 3u);
    for (int l = 0; l < 3; ++l) {
        ASSERT_EQ(r.top[l].size(), 3u);
        for (const auto& list : r.top[l]) {
            EXPECT_GE(list[0].prob, list[1].prob);
            EXPECT_GE(list[1].prob, list[2].prob);
        }
        for (double p : r.targetProb[l]) EXPECT_TRUE(p > 0.0 && p < 1.0);
    }
    const auto j = toJson(r);
    EXPECT_EQ(j["top"].size(), 3u);
    EXPECT_EQ(j["top"][0].size(), 3u);
    EXPECT_EQ(j["top"][0][0].size(), 3u);
    EXPECT_EQ(j["target"]["prob"].size(), 3u);
    EXPECT_FALSE(toJson(logitLens(m, ids, 2)).contains("target"));
}

TEST(LogitLens, BadInputIsRejected) {
    const Model m = makeTinyModel(Architecture::Gpt2, 4);
    const auto ids = m.tokenizer.encodeIds("abc");
    EXPECT_THROW(logitLens(m, ids, 0), InvalidInput);
    EXPECT_THROW(logitLens(m, ids, 3, m.config.vocabSize), InvalidInput);
    EXPECT_THROW(logitLens(m, {}, 3), InvalidInput);
}

}  // namespace
}  // namespace mwb
