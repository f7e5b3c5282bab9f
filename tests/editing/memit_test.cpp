#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <limits>

#include "editing/memit.h"
#include "editing/second_moments.h"
#include "tokenizer/continuation.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "model/transformer.h"
#include "tests/editing/tiny_corpus.h"

namespace mwb {
namespace {

using test_data::kFixtures;
const std::string& kCorpus = test_data::kTinyCorpus;

std::map<int, MatrixD> moments(const Model& m, const std::vector<int>& layers) {
    SecondMomentOptions o;
    o.useCache = false;
    std::map<int, MatrixD> out;
    for (auto& [l, s] : secondMoments(m, layers, kCorpus, o)) out[l] = s.moment;
    return out;
}

// Layer 0, the key at the prompt's last token, no context templates: the setting of
// the tests that compare two updates on the same fixture.
MemitParams layerZeroAtLastToken() {
    MemitParams p;
    p.layers = {0};
    p.factToken = FactToken::Last;
    p.templates.lengths = {};
    return p;
}

Vector lastLayerResid(const Model& m, const std::string& text, int layer, int idx) {
    const Transformer t(m);
    return t.run(m.tokenizer.encodeIds(text)).resid[layer + 1].row(idx).transpose();
}

TEST(Memit, WithLittleRegularisationTheLastLayerReachesTheTargets) {
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const Model original = m;
    MemitParams p;
    p.layers = {0, 1};
    p.factToken = FactToken::Last;
    p.templates.lengths = {};  // bare prompts only: k* is the prompt's own key
    p.momentWeight = 1e-4;
    const std::vector<EditRequest> reqs = {{"{} is in ", "cat", "d", ""}, {"{} is on ", "dog", "x", ""}};
    const MemitResult r = applyMemit(m, reqs, p, moments(m, {0, 1}));
    ASSERT_EQ(r.updates.size(), 2u);
    EXPECT_EQ(r.updates[0].left.cols(), 2);
    for (int i = 0; i < 2; ++i) {
        const std::string text = fillTemplate(reqs[i].prompt, reqs[i].subject);
        const int last = static_cast<int>(m.tokenizer.encodeIds(text).size()) - 1;
        const Vector z = lastLayerResid(original, text, 1, last) + r.targets[i].delta;
        const Vector got = lastLayerResid(m, text, 1, last);
        EXPECT_LT((got - z).norm(), 1e-2 * z.norm()) << i;
    }
}

// Two facts about one subject that opens the prompt: the same key at the subject's last
// token, two targets. Separate changes are averaged by the least-squares update; the
// shared change (MEMIT-Merge), fitted to both targets, is delivered whole.
TEST(Memit, RequestsAboutOneSubjectShareOneChange) {
    const Model original = loadModel(kFixtures + "golden_llama_untied.h5");
    MemitParams p;
    p.layers = {0};
    p.templates.lengths = {};  // bare prompts: k* is the prompt's own key
    p.momentWeight = 1e-4;
    const std::vector<EditRequest> reqs = {{"{} is in ", "cat", "d", ""}, {"{} sits on ", "cat", "x", ""}};
    const int lookup = static_cast<int>(original.tokenizer.encodeIds("cat").size()) - 1;
    const Vector before = lastLayerResid(original, "cat", 0, lookup);
    const auto mom = moments(original, {0});

    Model separate = original;
    p.separateSubjectValues = true;
    const MemitResult s = applyMemit(separate, reqs, p, mom);
    ASSERT_GT((s.targets[0].delta - s.targets[1].delta).norm(), 0.1 * s.targets[0].delta.norm());
    const Vector mean = 0.5f * (s.targets[0].delta + s.targets[1].delta);
    EXPECT_LT((lastLayerResid(separate, "cat", 0, lookup) - before - mean).norm(), 1e-2 * mean.norm());

    Model merged = original;
    p.separateSubjectValues = false;
    const MemitResult r = applyMemit(merged, reqs, p, mom);
    EXPECT_EQ(r.targets[0].delta, r.targets[1].delta);
    const Vector shared = r.targets[0].delta;
    EXPECT_LT((lastLayerResid(merged, "cat", 0, lookup) - before - shared).norm(), 1e-2 * shared.norm());
    // The shared change was fitted to both targets: together they became likelier.
    EXPECT_GT(r.targets[0].probTargetFinal, 2 * r.targets[0].probTargetInit);
}

TEST(Memit, RaisesTheTargetsAndKeepsWeightsOfOtherLayers) {
    Model m = loadModel(kFixtures + "golden_llama_untied.h5");
    const Model original = m;
    MemitParams p;
    p.layers = {0};
    p.factToken = FactToken::Last;
    p.templates.lengths = {{2, 2}};
    p.momentWeight = 1.0;
    const std::vector<EditRequest> reqs = {{"{} is in ", "cat", "d", ""}, {"{} is on ", "dog", "x", ""}};
    auto prob = [](const Model& model, const EditRequest& r) {
        const Transformer t(model);
        const std::string text = fillTemplate(r.prompt, r.subject);
        return softmax(t.run(model.tokenizer.encodeIds(text)).lastLogits())[continuationIds(model.tokenizer, text, r.targetNew)[0]];
    };
    applyMemit(m, reqs, p, moments(m, {0}));
    for (const auto& r : reqs) EXPECT_GT(prob(m, r), 10 * prob(original, r) + 0.01) << r.subject;
    EXPECT_EQ(m.weights.blocks[1].down.weight, original.weights.blocks[1].down.weight);
    EXPECT_EQ(m.weights.blocks[0].up.weight, original.weights.blocks[0].up.weight);
}

// Iterative editing: with a strong λ one pass delivers part of each change; a second,
// with targets optimised afresh on the edited model, takes the facts further. The
// factors hold every pass's columns, and together they are the whole change.
TEST(Memit, ASecondPassDeliversWhatTheFirstLeftShort) {
    const Model original = loadModel(kFixtures + "golden_llama_untied.h5");
    MemitParams p;
    p.layers = {0, 1};
    p.factToken = FactToken::Last;
    p.templates.lengths = {};
    p.momentWeight = 30.0;
    const std::vector<EditRequest> reqs = {{"{} is in ", "cat", "d", ""}, {"{} is on ", "dog", "x", ""}};
    auto logOdds = [](const Model& model, const EditRequest& r) {
        const Transformer t(model);
        const std::string text = fillTemplate(r.prompt, r.subject);
        const Vector p = softmax(t.run(model.tokenizer.encodeIds(text)).lastLogits());
        const double q = p[continuationIds(model.tokenizer, text, r.targetNew)[0]];
        return std::log(q / (1 - q));
    };
    const auto mom = moments(original, {0, 1});
    Model once = original, twice = original;
    const MemitResult r1 = applyMemit(once, reqs, p, mom);
    p.passes = 2;
    const MemitResult r2 = applyMemit(twice, reqs, p, mom);
    EXPECT_EQ(r1.passes, 1);
    ASSERT_EQ(r2.passes, 2);
    for (const auto& r : reqs) {
        EXPECT_GT(logOdds(once, r), logOdds(original, r) + 1.0) << r.subject;
        EXPECT_GT(logOdds(twice, r), logOdds(once, r) + 1.0) << r.subject;
    }
    ASSERT_EQ(r2.updates.size(), 2u);
    for (const MemitLayerUpdate& u : r2.updates) {
        ASSERT_EQ(u.left.cols(), 4);
        ASSERT_EQ(u.right.cols(), 4);
        const Matrix& w0 = original.weights.blocks[u.layer].down.weight;
        const Matrix rebuilt = w0 + u.left * u.right.transpose();
        EXPECT_LT((rebuilt - twice.weights.blocks[u.layer].down.weight).norm(), 1e-5 * w0.norm()) << u.layer;
        EXPECT_NEAR(u.weightChange, (u.left * u.right.transpose()).norm() / w0.norm(), 1e-6);
    }
    // The first pass is the same computation in both runs.
    EXPECT_EQ(r2.targets[0].delta, r1.targets[0].delta);
}

TEST(Memit, NullSpaceProjectionLeavesPreservedKeysAlone) {
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const Model original = m;
    const auto mom = moments(m, {0});
    MemitParams p = layerZeroAtLastToken();
    p.nullSpace = true;
    p.nullSpaceThreshold = 0.5;
    applyMemit(m, {{"{} is in ", "cat", "d", ""}}, p, mom);
    // The update ΔW annihilates the top eigenvectors of C (the preserved keys' span).
    const Eigen::SelfAdjointEigenSolver<MatrixD> eig(mom.at(0));
    const VectorD top = eig.eigenvectors().col(eig.eigenvalues().size() - 1);
    const MatrixD delta = (m.weights.blocks[0].down.weight - original.weights.blocks[0].down.weight).cast<double>();
    EXPECT_GT(delta.norm(), 1e-3);
    EXPECT_LT((delta * top).norm(), 1e-4 * delta.norm());
}

// Sequential AlphaEdit: with the first edit's keys as K_p, the second update moves
// the first edit's keys far less than without them (eq. 9's K_p K_pᵀ P term).
TEST(Memit, EarlierEditKeysAreKeptBySequentialNullSpaceEdits) {
    const Model original = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const auto mom = moments(original, {0});
    MemitParams p = layerZeroAtLastToken();
    p.nullSpace = true;
    p.nullSpaceThreshold = 1e-3;
    Model first = original;
    const MemitResult r1 = applyMemit(first, {{"{} is in ", "cat", "d", ""}}, p, mom);
    const MatrixD kp = r1.updates[0].keys;
    ASSERT_EQ(kp.cols(), 1);
    auto secondDelta = [&](const std::map<KeySite, MatrixD>& previous) {
        Model m = first;
        MemitParams q = p;
        q.previousKeys = previous;
        applyMemit(m, {{"{} sat on ", "mat", "a", ""}}, q, mom);
        return MatrixD((m.weights.blocks[0].down.weight - first.weights.blocks[0].down.weight).cast<double>());
    };
    const MatrixD without = secondDelta({}), with = secondDelta({{{0, -1}, kp}});
    EXPECT_GT(with.norm(), 1e-3);
    const double moveWithout = (without * kp).norm(), moveWith = (with * kp).norm();
    EXPECT_LT(moveWith, 0.9 * moveWithout) << moveWith << " vs " << moveWithout;
    // The term weighs ||ΔW K_p||² against ||ΔW||²; these tiny keys are short, so the
    // pull is moderate. Repeating the key 900 times (as 30 k_p) makes it dominate.
    const MatrixD heavy = secondDelta({{{0, -1}, 30.0 * kp}});
    EXPECT_LT((heavy * kp).norm(), 0.05 * moveWithout);
    EXPECT_GT(heavy.norm(), 1e-3);
    EXPECT_THROW(secondDelta({{{0, -1}, MatrixD::Ones(3, 1)}}), InvalidInput);  // wrong key size
}

// The update is solved through the Woodbury identity; it must equal eq. 9 written out
// with dense d_ff x d_ff matrices: ΔW = R Kᵀ P (K Kᵀ P + K_p K_pᵀ P + I)⁻¹.
TEST(Memit, NullSpaceUpdateEqualsAlphaEditsDenseFormula) {
    const Model original = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const auto mom = moments(original, {0});
    MemitParams p = layerZeroAtLastToken();
    p.nullSpace = true;
    p.nullSpaceThreshold = 0.05;
    Model first = original;
    p.previousKeys = {{{0, -1}, applyMemit(first, {{"{} is in ", "cat", "d", ""}}, p, mom).updates[0].keys}};
    Model m = first;
    const MemitResult r = applyMemit(m, {{"{} sat on ", "mat", "a", ""}, {"{} is on ", "dog", "x", ""}}, p, mom);
    const MatrixD& k = r.updates[0].keys;
    const MatrixD& kp = p.previousKeys.at({0, -1});

    const Eigen::SelfAdjointEigenSolver<MatrixD> eig(mom.at(0));
    const double top = eig.eigenvalues().maxCoeff();
    MatrixD projection = MatrixD::Zero(k.rows(), k.rows());
    int nullDims = 0;
    for (Eigen::Index i = 0; i < k.rows(); ++i)
        if (eig.eigenvalues()[i] < p.nullSpaceThreshold * top) {
            projection += eig.eigenvectors().col(i) * eig.eigenvectors().col(i).transpose();
            ++nullDims;
        }
    ASSERT_GT(nullDims, 0);
    ASSERT_LT(nullDims, k.rows());
    // The result reports the null space: its dimension and the share of C's trace in it.
    EXPECT_EQ(r.updates[0].nullSpaceDimension, nullDims);
    EXPECT_NEAR(r.updates[0].nullSpaceEnergyShare, (projection * mom.at(0)).trace() / mom.at(0).trace(), 1e-9);
    EXPECT_EQ(toJson(r)["layers"][0]["null_space_dimension"], nullDims);
    MatrixD bracket = (k * k.transpose() + kp * kp.transpose()) * projection;
    bracket.diagonal().array() += 1.0;
    const MatrixD r_ = r.updates[0].left.cast<double>();
    const MatrixD expected = r_ * k.transpose() * projection * bracket.inverse();
    const MatrixD got = (m.weights.blocks[0].down.weight - first.weights.blocks[0].down.weight).cast<double>();
    ASSERT_GT(expected.norm(), 1e-3);
    EXPECT_LT((got - expected).norm(), 1e-4 * expected.norm());

    // The reference code's absolute rule: the same cut given as an eigenvalue is the
    // same update; a cut just above the next eigenvalue takes one dimension more.
    EXPECT_DOUBLE_EQ(toJson(r)["layers"][0]["null_space_cutoff"].get<double>(), p.nullSpaceThreshold * top);
    MemitParams absolute = p;
    absolute.nullSpaceThresholdIsAbsolute = true;
    absolute.nullSpaceThreshold = p.nullSpaceThreshold * top;
    Model sameCut = first;
    applyMemit(sameCut, {{"{} sat on ", "mat", "a", ""}, {"{} is on ", "dog", "x", ""}}, absolute, mom);
    EXPECT_TRUE(sameCut.weights.blocks[0].down.weight == m.weights.blocks[0].down.weight);
    absolute.nullSpaceThreshold = std::nextafter(eig.eigenvalues()[nullDims], 1e300);
    Model wider = first;
    const MemitResult w = applyMemit(wider, {{"{} sat on ", "mat", "a", ""}}, absolute, mom);
    EXPECT_EQ(w.updates[0].nullSpaceDimension, nullDims + 1);
    EXPECT_EQ(w.updates[0].nullSpaceCutoff, absolute.nullSpaceThreshold);

    // The reference code's L2 = 10 in place of eq. 9's identity: the same formula with
    // 10 I, a smaller update.
    MemitParams l2 = p;
    l2.nullSpaceL2 = 10.0;
    Model heavier = first;
    const MemitResult h = applyMemit(heavier, {{"{} sat on ", "mat", "a", ""}, {"{} is on ", "dog", "x", ""}}, l2, mom);
    const MatrixD& kh = h.updates[0].keys;
    MatrixD bracket10 = (kh * kh.transpose() + kp * kp.transpose()) * projection;
    bracket10.diagonal().array() += 10.0;
    const MatrixD expected10 = h.updates[0].left.cast<double>() * kh.transpose() * projection * bracket10.inverse();
    const MatrixD got10 = (heavier.weights.blocks[0].down.weight - first.weights.blocks[0].down.weight).cast<double>();
    ASSERT_GT(expected10.norm(), 1e-4);
    EXPECT_LT((got10 - expected10).norm(), 1e-4 * expected10.norm());
    EXPECT_LT(got10.norm(), got.norm());
}

TEST(Memit, DefaultLambdaIsProportionalToTheMlpWidth) {
    ModelConfig c;
    c.dFf = 16384;  // GPT-J's width
    EXPECT_DOUBLE_EQ(defaultMomentWeight(c), 6400.0);
    c.dFf = 512;  // the demo model's
    EXPECT_DOUBLE_EQ(defaultMomentWeight(c), 200.0);
    // momentWeight 0 means that default.
    const Model original = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const auto mom = moments(original, {0});
    MemitParams p = layerZeroAtLastToken();
    Model byDefault = original, explicitly = original;
    applyMemit(byDefault, {{"{} is in ", "cat", "d", ""}}, p, mom);
    p.momentWeight = defaultMomentWeight(original.config);
    applyMemit(explicitly, {{"{} is in ", "cat", "d", ""}}, p, mom);
    EXPECT_TRUE(byDefault.weights.blocks[0].down.weight == explicitly.weights.blocks[0].down.weight);
    EXPECT_FALSE(byDefault.weights.blocks[0].down.weight == original.weights.blocks[0].down.weight);
}

TEST(Memit, BadInputIsRefused) {
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const auto mom = moments(m, {0});
    MemitParams p;
    p.layers = {0};
    EXPECT_THROW(applyMemit(m, {}, p, mom), InvalidInput);
    p.layers = {1};
    EXPECT_THROW(applyMemit(m, {{"{} is", "cat", "d", ""}}, p, mom), InvalidInput);  // no statistics
    p.layers = {1, 0};
    EXPECT_THROW(applyMemit(m, {{"{} is", "cat", "d", ""}}, p, mom), InvalidInput);
    p.layers = {0};
    EXPECT_THROW(applyMemit(m, {{"{} is", "cat", "", ""}}, p, mom), InvalidInput);
    p.momentWeight = -5;
    EXPECT_THROW(applyMemit(m, {{"{} is", "cat", "d", ""}}, p, mom), InvalidInput);
    p.momentWeight = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THROW(applyMemit(m, {{"{} is", "cat", "d", ""}}, p, mom), InvalidInput);
    p.momentWeight = 0;
    p.passes = 0;
    EXPECT_THROW(applyMemit(m, {{"{} is", "cat", "d", ""}}, p, mom), InvalidInput);
    p.passes = 1;
    p.nullSpace = true;
    p.nullSpaceThreshold = 0;
    EXPECT_THROW(applyMemit(m, {{"{} is", "cat", "d", ""}}, p, mom), InvalidInput);
    p.nullSpaceThreshold = 1e-2;
    for (double l2 : {0.0, -1.0, std::numeric_limits<double>::infinity()}) {
        p.nullSpaceL2 = l2;
        EXPECT_THROW(applyMemit(m, {{"{} is", "cat", "d", ""}}, p, mom), InvalidInput);
    }
    p.nullSpaceL2 = 1.0;
    // No eigenvalue below 1e-12 of the largest: an empty null space would edit nothing.
    p.nullSpaceThreshold = 1e-12;
    const Model before = m;
    EXPECT_THROW(applyMemit(m, {{"{} is", "cat", "d", ""}}, p, mom), InvalidInput);
    EXPECT_TRUE(m.weights.blocks[0].down.weight == before.weights.blocks[0].down.weight);
}

}  // namespace
}  // namespace mwb
