// Attention maps: every layer and head, rows sum to 1, causal, labelled by tokens.
#include <gtest/gtest.h>

#include "analysis/attention_maps.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

void expectStochasticAndCausal(const AttentionMaps& a) {
    const int n = static_cast<int>(a.ids.size());
    ASSERT_EQ(static_cast<int>(a.weights.size()), a.nLayers);
    for (int l = 0; l < a.nLayers; ++l) {
        ASSERT_EQ(static_cast<int>(a.weights[l].size()), a.nHeads);
        for (int h = 0; h < a.nHeads; ++h) {
            const Matrix& w = a.weights[l][h];
            ASSERT_EQ(w.rows(), n);
            ASSERT_EQ(w.cols(), n);
            for (int q = 0; q < n; ++q) {
                EXPECT_NEAR(w.row(q).cast<double>().sum(), 1.0, 1e-5) << l << " " << h << " " << q;
                for (int k = 0; k < n; ++k) {
                    EXPECT_GE(w(q, k), 0.0f);
                    if (k > q) { EXPECT_EQ(w(q, k), 0.0f) << "query " << q << " sees key " << k; }
                }
            }
        }
    }
}

TEST(AttentionMaps, RowsSumToOneAndAreCausal) {
    for (auto arch : {Architecture::Gpt2, Architecture::Llama}) {
        const Model m = makeTinyModel(arch, 3, {.nLayers = 3, .weightStd = 0.5f, .sentencePiece = arch == Architecture::Llama});
        const auto ids = m.tokenizer.encodeIds("The cat sat on the mat");
        const AttentionMaps a = attentionMaps(m, ids);
        EXPECT_EQ(a.nLayers, 3);
        EXPECT_EQ(a.nHeads, 4);
        EXPECT_EQ(a.tokens.size(), ids.size());
        expectStochasticAndCausal(a);
        EXPECT_FLOAT_EQ(a.weights[1][2](0, 0), 1.0f);  // the first token can only see itself
    }
}

TEST(AttentionMaps, GoldenFixtureAndJsonSelection) {
    const Model m = loadModel(std::string(MWB_SOURCE_DIR) + "/tests/fixtures/golden_gpt2_untied.h5");
    const AttentionMaps a = attentionMaps(m, m.tokenizer.encodeIds("Hello world"));
    expectStochasticAndCausal(a);
    const auto all = toJson(a);
    EXPECT_EQ(all["maps"].size(), static_cast<size_t>(a.nLayers * a.nHeads));
    EXPECT_EQ(all["tokens"].size(), 11u);
    const auto one = toJson(a, 1, 0);
    ASSERT_EQ(one["maps"].size(), 1u);
    EXPECT_EQ(one["maps"][0]["layer"], 1);
    EXPECT_EQ(one["maps"][0]["weights"].size(), 11u);
    EXPECT_FLOAT_EQ(one["maps"][0]["weights"][3][2].get<float>(), a.weights[1][0](3, 2));
    EXPECT_EQ(toJson(a, 0)["maps"].size(), static_cast<size_t>(a.nHeads));
    EXPECT_THROW(toJson(a, a.nLayers), InvalidInput);
    EXPECT_THROW(toJson(a, 0, -1), InvalidInput);
}

TEST(AttentionMaps, BadPromptsAreRejected) {
    const Model m = makeTinyModel(Architecture::Gpt2, 3);
    EXPECT_THROW(attentionMaps(m, {}), InvalidInput);
    EXPECT_THROW(attentionMaps(m, std::vector<int>(m.config.nCtx + 1, 65)), InvalidInput);
}

}  // namespace
}  // namespace mwb
