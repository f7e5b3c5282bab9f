// The analyses on tiny random mixture-of-experts models: causal tracing's fast path
// equals the naive one bit for bit (it reruns rows of a batch, which routing must not
// notice), attention maps and the logit lens run, `expertRouting` reports the run's
// routing, and the analyses that need one MLP per layer refuse in one sentence.
#include <gtest/gtest.h>

#include <string>

#include "analysis/attention_maps.h"
#include "analysis/causal_trace.h"
#include "analysis/experts/expert_routing.h"
#include "analysis/logit_lens.h"
#include "analysis/superweights/super_weights.h"
#include "model/transformer.h"
#include "tensor/errors.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

const std::string kPrompt = "The cat sat on a mat";
const std::string kSubject = "cat sat";

struct MoeCase {
    const char* name;
    Architecture architecture;
    int sharedExpert;
    bool normTopK;
    std::vector<int> denseLayers;
};

void PrintTo(const MoeCase& k, std::ostream* os) { *os << k.name; }

Model moeModel(const MoeCase& k, uint64_t seed = 5) {
    TinyModelOptions o = tinyMoeOptions(k.normTopK);
    o.nExperts = 4;
    o.dSharedExpert = k.sharedExpert;
    o.denseLayers = k.denseLayers;
    o.qkvBias = k.sharedExpert > 0;
    return makeTinyModel(k.architecture, seed, o);
}

class EveryMixture : public ::testing::TestWithParam<MoeCase> {};

TEST_P(EveryMixture, FastCausalTraceEqualsTheNaiveOneBitForBit) {
    const Model m = moeModel(GetParam());
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
        EXPECT_TRUE(fast.probRestored.at(k) == naive.probRestored.at(k)) << toString(k);
}

TEST_P(EveryMixture, AttentionMapsTheLogitLensAndRoutingRun) {
    const Model m = moeModel(GetParam());
    const ModelConfig& c = m.config;
    const std::vector<int> ids = m.tokenizer.encodeIds(kPrompt);
    const AttentionMaps maps = attentionMaps(m, ids);
    EXPECT_EQ(maps.nLayers, c.nLayers);
    const LogitLensResult lens = logitLens(m, ids, 3);
    const RunState state = Transformer(m).run(ids);
    Eigen::Index best;
    state.lastLogits().maxCoeff(&best);
    EXPECT_EQ(lens.top.back().back().front().id, int(best));

    const ExpertRoutingResult r = expertRouting(m, ids);
    ASSERT_EQ(int(r.layers.size()), c.moeLayerCount());
    for (const LayerRoutingResult& l : r.layers) {
        ASSERT_TRUE(c.moeLayer(l.layer));
        ASSERT_EQ(l.tokens.size(), ids.size());
        for (size_t pos = 0; pos < ids.size(); ++pos) {
            const TokenRouting& t = l.tokens[pos];
            ASSERT_EQ(int(t.experts.size()), c.nExpertsPerToken);
            EXPECT_NE(t.experts[0], t.experts[1]);
            EXPECT_GE(t.weights[0], t.weights[1]);
            EXPECT_EQ(t.experts[0], state.routing[l.layer].experts(long(pos), 0));
            if (c.normTopK) EXPECT_NEAR(t.weights[0] + t.weights[1], 1.0f, 1e-6f);
            else EXPECT_LT(t.weights[0] + t.weights[1], 1.0f);
        }
    }
    const nlohmann::json j = toJson(r);
    EXPECT_EQ(j.at("layers").size(), r.layers.size());
    EXPECT_EQ(j.at("layers")[0].at("tokens")[0].at("experts").size(), 2u);
    EXPECT_EQ(j.at("layers")[0].at("tokens")[0].at("weights").size(), 2u);
}

TEST_P(EveryMixture, AnalysesOfOneMlpPerLayerRefuse) {
    const Model m = moeModel(GetParam());
    const std::vector<int> ids = m.tokenizer.encodeIds(kPrompt);
    try {
        detectSuperWeights(m, ids);
        FAIL() << "no error";
    } catch (const InvalidInput& e) {
        EXPECT_NE(std::string(e.what()).find("mixture-of-experts"), std::string::npos) << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(
    Mixtures, EveryMixture,
    ::testing::Values(MoeCase{"mixtral", Architecture::Llama, 0, true, {}},
                      MoeCase{"olmoe", Architecture::Olmoe, 0, false, {}},
                      MoeCase{"qwen2_moe_shared_dense", Architecture::Llama, 6, false, {1}},
                      MoeCase{"qwen3_moe", Architecture::Qwen3, 0, true, {0}}),
    [](const ::testing::TestParamInfo<MoeCase>& info) { return std::string(info.param.name); });

TEST(ExpertRouting, ADenseModelIsRefused) {
    const Model m = makeTinyModel(Architecture::Llama, 1);
    EXPECT_THROW(expertRouting(m, {1, 2, 3}), InvalidInput);
}

}  // namespace
}  // namespace mwb
