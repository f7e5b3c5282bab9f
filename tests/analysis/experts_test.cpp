// Removing experts from the routing (WeightOverrides::removeExpert), the super-expert
// search (Su et al. 2025) and the per-expert causal trace on tiny random
// mixture-of-experts models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "analysis/experts/expert_ablation.h"
#include "analysis/experts/expert_routing.h"
#include "analysis/experts/expert_trace.h"
#include "analysis/experts/super_experts.h"
#include "metrics/next_token_metrics.h"
#include "model/transformer.h"
#include "tensor/errors.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

Model moeModel(bool normTopK, uint64_t seed = 5) {
    return makeTinyModel(Architecture::Llama, seed, tinyMoeOptions(normTopK));
}

std::vector<int> promptIds(const Model& m) { return m.tokenizer.encodeIds("The cat sat on a mat by the door"); }

// By hand from the original router logits: the top 2 of the experts left, softmax over
// the experts left, renormalised over the chosen ones when normTopK.
TEST(ExpertRemoval, RoutesAmongTheOtherExpertsWithTheirSoftmax) {
    for (bool normTopK : {true, false}) {
        const Model m = moeModel(normTopK);
        const std::vector<int> ids = promptIds(m);
        const std::vector<ExpertId> removed = {{0, 1}, {0, 3}, {2, 0}};
        const WeightOverrides overrides = expertRemoval(m, removed);
        // Layer 0's logits are the same in both runs; later layers see a changed input,
        // so take the variant's own logits there (a capture sees them before removal).
        Hooks capture;
        for (int l = 0; l < 3; ++l) capture.captures.push_back({HookSite::RouterLogits, l});
        const RunState s = Transformer(m, &overrides).run(ids, capture, LogitsMode::Last);
        const RunState original = Transformer(m).run(ids, capture, LogitsMode::Last);
        EXPECT_EQ(s.captured.at({HookSite::RouterLogits, 0}), original.captured.at({HookSite::RouterLogits, 0}));
        for (int l = 0; l < 3; ++l) {
            const Matrix& logits = s.captured.at({HookSite::RouterLogits, l});
            for (int pos = 0; pos < s.nTokens; ++pos) {
                std::vector<int> left;
                for (int e = 0; e < 5; ++e)
                    if (std::find(removed.begin(), removed.end(), ExpertId{l, e}) == removed.end()) left.push_back(e);
                std::stable_sort(left.begin(), left.end(), [&](int a, int b) { return logits(pos, a) > logits(pos, b); });
                double sum = 0;
                for (int e : left) sum += std::exp(double(logits(pos, e)));
                const double p0 = std::exp(double(logits(pos, left[0]))) / sum;
                const double p1 = std::exp(double(logits(pos, left[1]))) / sum;
                EXPECT_EQ(s.routing[size_t(l)].experts(pos, 0), left[0]) << "layer " << l << " pos " << pos;
                EXPECT_EQ(s.routing[size_t(l)].experts(pos, 1), left[1]);
                EXPECT_NEAR(s.routing[size_t(l)].weights(pos, 0), normTopK ? p0 / (p0 + p1) : p0, 1e-6);
                EXPECT_NEAR(s.routing[size_t(l)].weights(pos, 1), normTopK ? p1 / (p0 + p1) : p1, 1e-6);
            }
        }
        // An expert nobody was routed to changes nothing; removing a used one does.
        EXPECT_GT((s.logits - original.logits).cwiseAbs().maxCoeff(), 1e-6);
    }
}

TEST(ExpertRemoval, RefusesWhatCannotBeRemoved) {
    const Model m = moeModel(true);
    auto message = [&](const std::vector<ExpertId>& experts) {
        try {
            expertRemoval(m, experts);
        } catch (const InvalidInput& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_NE(message({}).find("at least one"), std::string::npos);
    EXPECT_NE(message({{3, 0}}).find("outside"), std::string::npos);
    EXPECT_NE(message({{0, 5}}).find("outside"), std::string::npos);
    EXPECT_NE(message({{0, 0}, {0, 1}, {0, 2}, {0, 3}}).find("fewer than the 2"), std::string::npos);
    EXPECT_EQ(message({{0, 0}, {0, 1}, {0, 2}}), "accepted");
    TinyModelOptions dense;
    const Model d = makeTinyModel(Architecture::Llama, 1, dense);
    EXPECT_THROW(expertRemoval(d, {{0, 0}}), InvalidInput);

    EXPECT_EQ(parseExpertList("0:3, 2:5,1:0"), (std::vector<ExpertId>{{0, 3}, {2, 5}, {1, 0}}));
    EXPECT_THROW(parseExpertList("0:3,x"), InvalidInput);
    EXPECT_THROW(parseExpertList("0:-1"), InvalidInput);
    EXPECT_THROW(parseExpertList("0:"), InvalidInput);
}

TEST(ExpertRemoval, RandomExpertsAreSeededDistinctAndLeaveEnoughPerLayer) {
    const Model m = moeModel(true);
    const std::vector<ExpertId> exclude = {{1, 2}, {1, 3}, {1, 4}};
    const auto a = randomExperts(m.config, 6, 7, exclude), b = randomExperts(m.config, 6, 7, exclude);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, randomExperts(m.config, 6, 8, exclude));
    std::vector<int> perLayer(3, 0);
    for (const ExpertId& e : a) {
        EXPECT_EQ(std::find(exclude.begin(), exclude.end(), e), exclude.end());
        ++perLayer[size_t(e.layer)];
    }
    EXPECT_EQ(perLayer[1], 0);  // three of five removed already: two must stay
    EXPECT_EQ(std::adjacent_find(a.begin(), a.end()), a.end());
    EXPECT_NO_THROW(expertRemoval(m, a));
    EXPECT_THROW(randomExperts(m.config, 7, 7, exclude), InvalidInput);
}

// A planted super expert: expert 2 of layer 0 gets a down projection that writes a
// huge value into channel 3 from its strongest key unit, as the super experts Su et al.
// find do. The search names it (and only it), the layer where the massive activation
// forms is 0, and removing it changes the model far more than removing a random one.
TEST(SuperExperts, FindsAPlantedSuperExpertAndItsRemovalMatters) {
    Model m = moeModel(true);
    const std::vector<int> ids = promptIds(m);
    const std::vector<std::vector<int>> sequences = {ids, m.tokenizer.encodeIds("A dog ran to the old house")};
    const SuperExpertResult clean = findSuperExperts(m, sequences);
    EXPECT_TRUE(clean.superExperts.empty());
    EXPECT_TRUE(clean.formingLayers.empty());
    long routed = 0;
    for (const ExpertPeak& p : clean.experts) routed += p.tokensRouted;
    EXPECT_EQ(routed, long(ids.size() + sequences[1].size()) * 2 * 3);

    Linear& down = m.weights.blocks[0].moe.experts[2].down;
    down.weight.row(3).setConstant(4000.0f);
    const SuperExpertResult r = findSuperExperts(m, sequences);
    ASSERT_EQ(r.superExperts.size(), 1u);
    EXPECT_EQ(r.superExperts[0].layer, 0);
    EXPECT_EQ(r.superExperts[0].expert, 2);
    EXPECT_EQ(r.superExperts[0].channel, 3);
    EXPECT_EQ(r.formingLayers, std::vector<int>{0});
    EXPECT_GT(r.superExperts[0].tokensRouted, 0);
    EXPECT_EQ(r.largestPeak, r.superExperts[0].peak);
    EXPECT_EQ(r.largestPeaks(1), r.superIds());
    const std::vector<ExpertPeak> sorted = r.byPeak();
    ASSERT_EQ(sorted.size(), r.experts.size());
    for (size_t i = 1; i < sorted.size(); ++i) EXPECT_GE(sorted[i - 1].peak, sorted[i].peak);

    AblationInputs in;
    in.prompts = {ids};
    const SuperExpertRemoval removal = compareSuperExpertRemoval(m, r.superIds(), in, 3);
    EXPECT_EQ(removal.removed.removedExperts, (std::vector<std::pair<int, int>>{{0, 2}}));
    ASSERT_EQ(removal.random.removedExperts.size(), 1u);
    EXPECT_NE(removal.random.removedExperts[0], (std::pair<int, int>{0, 2}));
    EXPECT_GT(removal.removed.meanKl, 10 * removal.random.meanKl);

    const nlohmann::json j = toJson(r);
    EXPECT_EQ(j["super_experts"][0]["expert"], 2);
    EXPECT_EQ(j["experts"].size(), 15u);
}

// The grid against full runs through the public API: per noise sample (drawn as the
// trace draws them: seeded normal values, row-major over the subject's tokens) a
// corrupted run, then a full run with the expert's clean contribution swapped in at
// mlp_out of the subject's last token. An expert routed in neither run restores nothing.
TEST(ExpertTrace, EqualsFullRunsWithTheContributionSwappedIn) {
    const Model m = moeModel(true, 9);
    const std::string prompt = "The cat sat on a mat by the", subject = "cat sat";
    CausalTraceParams params;
    params.samples = 3;
    params.noise = 0.8;
    params.seed = 11;
    const ExpertTraceResult r = traceExperts(m, prompt, subject, "", params);
    ASSERT_EQ(r.layers, (std::vector<int>{0, 1, 2}));
    ASSERT_EQ(r.probRestored.rows(), 3);
    ASSERT_EQ(r.probRestored.cols(), 5);
    const int pos = r.subjectEnd - 1;
    const Transformer t(m);
    Hooks experts;
    for (int l = 0; l < 3; ++l)
        for (int e = 0; e < 5; ++e) experts.captures.push_back({HookSite::ExpertOut, l, e});
    const RunState clean = t.run(r.ids, experts, LogitsMode::Last);
    std::mt19937_64 rng(params.seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<Hooks> noise(size_t(params.samples));
    for (Hooks& h : noise)
        for (int tok = r.subjectBegin; tok < r.subjectEnd; ++tok) {
            Vector v(m.config.dModel);
            for (Eigen::Index i = 0; i < v.size(); ++i) v[i] = float(*params.noise * normal(rng));
            h.patches.push_back({HookSite::Embed, 0, tok, v, PatchMode::Add});
        }
    auto contribution = [&](const RunState& s, int l, int e) -> RowVector {
        for (int j = 0; j < 2; ++j)
            if (s.routing[size_t(l)].experts(pos, j) == e)
                return s.routing[size_t(l)].weights(pos, j) * s.capturedExperts.at({HookSite::ExpertOut, l, e}).row(pos);
        return RowVector::Zero(m.config.dModel);
    };
    int unrouted = 0;
    for (int l = 0; l < 3; ++l)
        for (int e = 0; e < 5; ++e) {
            double p = 0;
            bool routedSomewhere = std::find(r.cleanExperts[size_t(l)].begin(), r.cleanExperts[size_t(l)].end(), e) !=
                                   r.cleanExperts[size_t(l)].end();
            for (int s = 0; s < params.samples; ++s) {
                Hooks corruptedHooks = noise[size_t(s)];
                corruptedHooks.captures = experts.captures;
                const RunState corrupted = t.run(r.ids, corruptedHooks, LogitsMode::Last);
                routedSomewhere |= contribution(corrupted, l, e).squaredNorm() > 0;
                Hooks restore = noise[size_t(s)];
                restore.patches.push_back({HookSite::MlpOut, l, pos,
                                           (contribution(clean, l, e) - contribution(corrupted, l, e)).transpose(),
                                           PatchMode::Add});
                const RunState run = t.run(r.ids, restore, LogitsMode::Last);
                const VectorD probs = logSoftmax(run.lastLogits()).array().exp();
                p += probs[r.answerId] / params.samples;
            }
            EXPECT_NEAR(r.probRestored(l, e), p, 1e-5) << "layer " << l << " expert " << e;
            if (!routedSomewhere) {
                EXPECT_NEAR(r.probRestored(l, e), r.probCorrupted, 1e-6);
                ++unrouted;
            }
        }
    EXPECT_GT(unrouted, 0);
    EXPECT_GT(r.probRestored.maxCoeff(), r.probCorrupted + 1e-4);  // some expert carries something back

    TinyModelOptions dense;
    EXPECT_THROW(traceExperts(makeTinyModel(Architecture::Llama, 1, dense), prompt, subject, "", params), InvalidInput);
}

// The load counts the routing: over one prompt it is that prompt's routing counted by
// hand; shares sum to one per layer; over two prompts it is their token-weighted mean.
TEST(ExpertLoad, CountsTheRoutingChoices) {
    const Model m = moeModel(false);
    const std::vector<int> a = promptIds(m), b = m.tokenizer.encodeIds("A dog ran");
    const ExpertRoutingResult ra = expertRouting(m, a), rb = expertRouting(m, b);
    const ExpertLoad one = expertLoad(m, {a}), both = expertLoad(m, {a, b});
    EXPECT_EQ(one.layers, (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(both.tokens, long(a.size() + b.size()));
    for (size_t i = 0; i < 3; ++i) {
        std::vector<double> count(5, 0.0), weight(5, 0.0), countB(5, 0.0);
        for (const TokenRouting& t : ra.layers[i].tokens)
            for (size_t j = 0; j < 2; ++j) {
                count[size_t(t.experts[j])] += 1;
                weight[size_t(t.experts[j])] += t.weights[j];
            }
        for (const TokenRouting& t : rb.layers[i].tokens)
            for (size_t j = 0; j < 2; ++j) countB[size_t(t.experts[j])] += 1;
        double sum = 0;
        for (size_t e = 0; e < 5; ++e) {
            EXPECT_NEAR(one.share[i][e], count[e] / (2.0 * double(a.size())), 1e-12);
            EXPECT_NEAR(one.meanWeight[i][e], count[e] > 0 ? weight[e] / count[e] : 0.0, 1e-6);
            EXPECT_NEAR(both.share[i][e], (count[e] + countB[e]) / (2.0 * double(a.size() + b.size())), 1e-12);
            sum += one.share[i][e];
        }
        EXPECT_NEAR(sum, 1.0, 1e-12);
    }
    const ExpertLoad fromRouting = loadOf(m.config, ra.layers);
    EXPECT_EQ(fromRouting.share, one.share);
    EXPECT_THROW(expertLoad(m, {}), InvalidInput);
}

}  // namespace
}  // namespace mwb
