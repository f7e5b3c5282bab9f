// Every analysis on a tiny random model of every architecture: the fast causal trace
// equals the naive one bit for bit, a planted super weight is found, attention maps are
// causal distributions (zero outside a sliding window), and the logit lens's last layer
// is the model's prediction.
#include <gtest/gtest.h>

#include "analysis/attention_maps.h"
#include "analysis/causal_trace.h"
#include "analysis/logit_lens.h"
#include "analysis/superweights/super_weights.h"
#include "model/transformer.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

const std::string kPrompt = "The cat sat on a mat";  // 20 tokens: one per byte, "Ġt", "he"
const std::string kSubject = "cat sat";

class EveryArchitecture : public ::testing::TestWithParam<Architecture> {};

Model tinyModel(Architecture a, uint64_t seed = 5) {
    TinyModelOptions o;
    o.nLayers = 3;
    o.weightStd = 0.3f;
    return makeTinyModel(a, seed, o);
}

TEST_P(EveryArchitecture, FastCausalTraceEqualsTheNaiveOneBitForBit) {
    const Model m = tinyModel(GetParam());
    CausalTraceParams p;
    p.samples = 2;
    p.window = 2;
    p.noise = 1.0;
    p.seed = 3;
    const CausalTraceResult fast = traceFact(m, kPrompt, kSubject, "", p);
    p.naive = true;
    const CausalTraceResult naive = traceFact(m, kPrompt, kSubject, "", p);
    EXPECT_EQ(fast.probClean, naive.probClean);
    EXPECT_EQ(fast.probCorrupted, naive.probCorrupted);
    EXPECT_NE(fast.probClean, fast.probCorrupted);
    for (TraceKind k : p.kinds)
        EXPECT_TRUE(fast.probRestored.at(k) == naive.probRestored.at(k))
            << toString(k) << "\n" << fast.probRestored.at(k) << "\n\n" << naive.probRestored.at(k);
}

// One MLP unit of layer 0 fires only at the token that carries a trigger dimension of the
// embedding; a large mlp/down weight on it makes a super activation.
TEST_P(EveryArchitecture, APlantedSuperWeightIsFound) {
    Model m = tinyModel(GetParam(), 7);
    const ModelConfig& c = m.config;
    const int trigger = 1, unit = 9, channel = 6;
    const std::vector<int> ids = m.tokenizer.encodeIds(kPrompt);
    const int triggerToken = ids[3];
    auto& w = m.weights;
    w.tokenEmbedding.col(trigger).setZero();
    w.tokenEmbedding(triggerToken, trigger) = 8.0f;
    auto& b = w.blocks[0];
    b.up.weight.row(unit).setZero();
    b.up.weight(unit, trigger) = 6.0f;
    if (c.gatedMlp()) {
        b.gate.weight.row(unit).setZero();
        b.gate.weight(unit, trigger) = 6.0f;
    }
    if (b.up.bias.size()) b.up.bias(unit) = 0.0f;
    b.down.weight(channel, unit) = 25.0f;

    const SuperWeightResult r = detectSuperWeights(m, ids);
    bool found = false;
    for (const SuperWeight& s : r.superWeights) found |= s.layer == 0 && s.row == channel && s.col == unit;
    EXPECT_TRUE(found) << toString(c.architecture) << ": " << r.superWeights.size() << " found";
}

TEST_P(EveryArchitecture, AttentionMapsAndTheLogitLensRun) {
    const Model m = tinyModel(GetParam());
    const ModelConfig& c = m.config;
    const std::vector<int> ids = m.tokenizer.encodeIds(kPrompt);
    const int n = int(ids.size());
    const AttentionMaps maps = attentionMaps(m, ids);
    ASSERT_EQ(maps.nLayers, c.nLayers);
    ASSERT_EQ(maps.nHeads, c.nHeads);
    for (int l = 0; l < c.nLayers; ++l)
        for (int h = 0; h < c.nHeads; ++h) {
            const Matrix& a = maps.weights[l][h];
            ASSERT_EQ(a.rows(), n);
            for (int i = 0; i < n; ++i) {
                EXPECT_NEAR(a.row(i).sum(), 1.0f, 1e-5f);
                for (int j = 0; j < n; ++j) {
                    const bool visible = j <= i && !(c.slidingAt(l) && i - j >= c.slidingWindow);
                    if (!visible) EXPECT_EQ(a(i, j), 0.0f) << l << " " << h << " " << i << " " << j;
                    else EXPECT_GT(a(i, j), 0.0f);
                }
            }
        }

    const LogitLensResult lens = logitLens(m, ids, 3);
    ASSERT_EQ(int(lens.top.size()), c.nLayers);
    const RowVector last = Transformer(m).run(ids).lastLogits();
    Eigen::Index best;
    last.maxCoeff(&best);
    EXPECT_EQ(lens.top.back().back().front().id, int(best));
}

INSTANTIATE_TEST_SUITE_P(Architectures, EveryArchitecture,
                         ::testing::Values(Architecture::Gpt2, Architecture::Llama, Architecture::GptJ,
                                           Architecture::GptNeoX, Architecture::Qwen3, Architecture::Gemma2,
                                           Architecture::Phi3, Architecture::Olmo2),
                         [](const ::testing::TestParamInfo<Architecture>& info) { return toString(info.param); });

}  // namespace
}  // namespace mwb
