// Mixture-of-experts layers in the inference pass: the routing rule (order, ties,
// renormalisation), the hook sites of the router and the experts, rows that do not
// depend on the batch, and the settings and analyses that are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "model/backprop.h"
#include "model/moe_routing.h"
#include "model/random_init.h"
#include "model/transformer.h"
#include "tensor/errors.h"

namespace mwb {
namespace {

// A small Qwen2-MoE-like model: layers 0 and 2 sparse (every layer but the dense 1),
// 6 experts, top 2, a shared expert.
ModelConfig moeConfig() {
    ModelConfig c;
    c.architecture = Architecture::Llama;
    c.qkvBias = true;
    c.nLayers = 3; c.nHeads = 4; c.nKvHeads = 2; c.dModel = 32; c.dFf = 40; c.vocabSize = 50; c.nCtx = 32;
    c.activation = Activation::Silu;
    c.nExperts = 6; c.nExpertsPerToken = 2; c.dExpert = 16; c.dSharedExpert = 24;
    c.denseLayers = {1};
    return c;
}

Model moeModel() {
    Model m;
    m.config = moeConfig();
    m.weights = randomWeights(m.config, 7);
    // Larger router weights than the initialiser's so that the routing varies.
    for (int l : {0, 2}) m.weights.blocks[l].moe.router.weight *= 40.0f;
    return m;
}

TEST(MoeRouting, ChoosesTheLargestLogitsLowerIndexFirstOnTies) {
    ModelConfig c = moeConfig();
    c.nExperts = 5;
    c.nExpertsPerToken = 3;
    const float logits[] = {0.5f, 2.0f, 0.5f, 2.0f, -1.0f};
    int experts[3];
    float weights[3];
    routeToken(c, logits, experts, weights);
    EXPECT_EQ(std::vector<int>(experts, experts + 3), (std::vector<int>{1, 3, 0}));
    double z = 0;
    for (float x : logits) z += std::exp(double(x));
    EXPECT_NEAR(weights[0], std::exp(2.0) / z, 1e-7);
    EXPECT_EQ(weights[0], weights[1]);
    EXPECT_NEAR(weights[2], std::exp(0.5) / z, 1e-7);
    c.normTopK = true;
    routeToken(c, logits, experts, weights);
    EXPECT_NEAR(weights[0] + weights[1] + weights[2], 1.0f, 1e-6);
    EXPECT_NEAR(weights[2] / weights[0], std::exp(-1.5), 1e-6);
}

TEST(MoeForward, RowsDoNotDependOnTheBatch) {
    const Model m = moeModel();
    const Transformer t(m);
    const std::vector<int> a = {3, 17, 4, 9, 22, 1, 30, 8}, b = {5, 5, 41, 2, 19, 33, 7, 12};
    const RunState alone = t.run(a, {}, LogitsMode::All);
    // The same prompt stacked with another one in one rerun gives the same bits.
    RunState sa = t.run(a), sb = t.run(b);
    std::vector<RunState*> states = {&sb, &sa};
    t.rerunMany(states, 0, 2, {}, LogitsMode::All);
    EXPECT_TRUE(sa.logits == alone.logits.bottomRows(6));
    // A prefix gives the same rows, and decoding token by token the same last row.
    const RunState prefix = t.run({a.begin(), a.begin() + 5}, {}, LogitsMode::All);
    EXPECT_TRUE(prefix.logits == alone.logits.topRows(5));
    RunState decoded = t.run({a[0]});
    for (size_t i = 1; i < a.size(); ++i) t.extend(decoded, {a[i]});
    EXPECT_TRUE(decoded.lastLogits() == alone.lastLogits());
    EXPECT_TRUE(decoded.routing[2].experts.topRows(8) == alone.routing[2].experts.topRows(8));
    // The routing varies across tokens.
    std::set<int> firstChoices;
    for (int pos = 0; pos < 8; ++pos) firstChoices.insert(alone.routing[0].experts(pos, 0));
    EXPECT_GE(firstChoices.size(), 3u);
}

TEST(MoeHooks, ExpertOutputsMixIntoTheLayerOutput) {
    const Model m = moeModel();
    const ModelConfig& c = m.config;
    const Transformer t(m);
    Hooks hooks;
    hooks.captures.push_back({HookSite::MlpOut, 0});
    hooks.captures.push_back({HookSite::RouterLogits, 0});
    for (int e = 0; e <= c.nExperts; ++e) hooks.captures.push_back({HookSite::ExpertOut, 0, e});
    hooks.captures.push_back({HookSite::ExpertIn, 0, 2});
    const std::vector<int> ids = {3, 17, 4, 9, 22, 1};
    const RunState s = t.run(ids, hooks);
    const Matrix& out = s.captured.at({HookSite::MlpOut, 0});
    ASSERT_EQ(s.captured.at({HookSite::RouterLogits, 0}).cols(), c.nExperts);
    EXPECT_EQ(s.capturedExperts.at({HookSite::ExpertIn, 0, 2}).cols(), c.dExpert);
    // The shared expert's gate is not captured, so compare without it: the routed part
    // is out minus the shared part, which is sigmoid(g) times the shared expert's output
    // for some per-token scalar in (0, 1).
    const Matrix& shared = s.capturedExperts.at({HookSite::ExpertOut, 0, c.nExperts});
    for (int pos = 0; pos < int(ids.size()); ++pos) {
        RowVector routed = RowVector::Zero(c.dModel);
        for (int j = 0; j < c.nExpertsPerToken; ++j) {
            const int e = s.routing[0].experts(pos, j);
            routed += s.routing[0].weights(pos, j) * s.capturedExperts.at({HookSite::ExpertOut, 0, e}).row(pos);
        }
        const RowVector rest = out.row(pos) - routed;
        const float scale = rest.dot(shared.row(pos)) / shared.row(pos).squaredNorm();
        EXPECT_GT(scale, 0.0f);
        EXPECT_LT(scale, 1.0f);
        EXPECT_LT((rest - scale * shared.row(pos)).cwiseAbs().maxCoeff(), 1e-4f) << pos;
        // Rows of tokens an expert does not serve are zero.
        for (int e = 0; e < c.nExperts; ++e) {
            const bool served = s.routing[0].experts(pos, 0) == e || s.routing[0].experts(pos, 1) == e;
            if (!served) {
                EXPECT_EQ(s.capturedExperts.at({HookSite::ExpertOut, 0, e}).row(pos).norm(), 0.0f);
            }
        }
    }
}

TEST(MoeHooks, PatchingTheRouterLogitsChangesTheRouting) {
    const Model m = moeModel();
    const Transformer t(m);
    const std::vector<int> ids = {3, 17, 4, 9};
    const RunState clean = t.run(ids);
    Hooks hooks;
    Vector forced = Vector::Constant(m.config.nExperts, -10.0f);
    forced[4] = 10.0f;
    forced[1] = 9.0f;
    hooks.patches.push_back({HookSite::RouterLogits, 2, 3, forced});
    const RunState patched = t.run(ids, hooks);
    EXPECT_EQ(patched.routing[2].experts(3, 0), 4);
    EXPECT_EQ(patched.routing[2].experts(3, 1), 1);
    EXPECT_TRUE(patched.routing[2].experts.row(2) == clean.routing[2].experts.row(2));
    EXPECT_FALSE(patched.lastLogits() == clean.lastLogits());
}

TEST(MoeHooks, SitesALayerDoesNotHaveAreRefused) {
    const Model m = moeModel();
    const Transformer t(m);
    const std::vector<int> ids = {3, 17, 4};
    auto refused = [&](Hooks h) {
        try {
            t.run(ids, h);
        } catch (const InvalidInput& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    Hooks mlpIn;
    mlpIn.captures.push_back({HookSite::MlpIn, 0});
    EXPECT_NE(refused(mlpIn).find("no single mlp_in"), std::string::npos);
    Hooks dense;
    dense.captures.push_back({HookSite::RouterLogits, 1});
    EXPECT_NE(refused(dense).find("not a mixture of experts"), std::string::npos);
    Hooks expert;
    expert.captures.push_back({HookSite::ExpertIn, 0, 7});
    EXPECT_NE(refused(expert).find("names expert 7"), std::string::npos);
    Hooks ok;
    ok.captures.push_back({HookSite::MlpIn, 1});
    EXPECT_TRUE(refused(ok).empty());
}

TEST(MoeConfig, ImpossibleSettingsAreOneSentence) {
    auto problem = [](auto change) {
        ModelConfig c = moeConfig();
        change(c);
        return configProblem(c);
    };
    EXPECT_TRUE(problem([](ModelConfig&) {}).empty());
    EXPECT_NE(problem([](ModelConfig& c) { c.nExpertsPerToken = 7; }).find("n_experts_per_token"), std::string::npos);
    EXPECT_NE(problem([](ModelConfig& c) { c.dExpert = 0; }).find("d_expert"), std::string::npos);
    EXPECT_NE(problem([](ModelConfig& c) { c.denseLayers = {3}; }).find("dense layer 3"), std::string::npos);
    EXPECT_NE(problem([](ModelConfig& c) { c.moeEvery = 0; }).find("moe_every"), std::string::npos);
    EXPECT_NE(problem([](ModelConfig& c) { c.architecture = Architecture::Gpt2; }).find("gated MLPs"),
              std::string::npos);
    EXPECT_NE(problem([](ModelConfig& c) { c.nExperts = 0; }).find("no experts"), std::string::npos);
    const ModelConfig c = moeConfig();
    EXPECT_TRUE(c.moeLayer(0) && !c.moeLayer(1) && c.moeLayer(2));
    // Parameters: 3 blocks' attention and norms, one dense MLP, two sparse ones.
    const int64_t d = 32;
    const int64_t sparse = 6 * d + 6 * 3 * 16 * d + 3 * 24 * d + d;
    ModelConfig dense = c;
    dense.nExperts = dense.nExpertsPerToken = dense.dExpert = dense.dSharedExpert = 0;
    dense.denseLayers.clear();
    EXPECT_EQ(c.parameterCount(), dense.parameterCount() - 2 * 3 * 40 * d + 2 * sparse);
}

TEST(MoeConfig, TheDifferentiablePassRefusesTheRouterAndExpertSites) {
    const Model m = moeModel();
    Backprop pass(m.config, m.weights);
    const std::vector<int> tokens = {3, 17, 4, 9};
    Hooks router;
    router.captures.push_back({HookSite::RouterLogits, 0});
    EXPECT_THROW(pass.forward(tokens, 1, 4, router), InvalidInput);
    Hooks mlpIn;
    mlpIn.captures.push_back({HookSite::MlpIn, 0});
    EXPECT_THROW(pass.forward(tokens, 1, 4, mlpIn), InvalidInput);
    Hooks dense;
    dense.captures.push_back({HookSite::MlpIn, 1});
    const Matrix logits = pass.forward(tokens, 1, 4, dense);
    EXPECT_LT((logits - Transformer(m).run(tokens, {}, LogitsMode::All).logits).cwiseAbs().maxCoeff(), 1e-4f);
}

}  // namespace
}  // namespace mwb
