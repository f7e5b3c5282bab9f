// The blind audit's statistics on hand-made matrices (a planted ROME-shaped or
// MEMIT-shaped change is found and located, a uniform perturbation is not), and on
// the demo model: a ROME edit is flagged at its layer, the clean model is not, and
// reversing the finding brings the original answer back.
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/QR>

#include <random>

#include "data/datasets.h"
#include "editing/audit/edit_audit.h"
#include "editing/edit_run.h"
#include "io/hdf5_model_file.h"
#include "model/transformer.h"
#include "tokenizer/continuation.h"

namespace mwb {
namespace {

constexpr int kD = 24, kF = 64, kLayers = 8;

MatrixD gaussian(int rows, int cols, std::mt19937_64& rng) {
    std::normal_distribution<double> n;
    MatrixD m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = n(rng);
    return m;
}

// Keys with a decaying spectrum in random directions, and layers written along the
// keys they see, as gradient descent writes them: W = G C^½.
struct HandMade {
    std::vector<MatrixD> moments, sqrtMoments;
    std::vector<Matrix> down;
};

HandMade handMade(uint64_t seed) {
    std::mt19937_64 rng(seed);
    HandMade h;
    for (int l = 0; l < kLayers; ++l) {
        const MatrixD q = Eigen::HouseholderQR<MatrixD>(gaussian(kF, kF, rng)).householderQ();
        Eigen::VectorXd lambda(kF);
        // Layers differ in how concentrated their keys are, as a trained model's do.
        const double decay = 4.0 + 4.0 * std::uniform_real_distribution<double>()(rng);
        for (int i = 0; i < kF; ++i) lambda[i] = std::exp(-i / decay);
        h.moments.push_back(q * lambda.asDiagonal() * q.transpose());
        h.sqrtMoments.push_back(q * lambda.cwiseSqrt().asDiagonal() * q.transpose());
        h.down.push_back((gaussian(kD, kF, rng) * h.sqrtMoments.back()).cast<float>());
    }
    return h;
}

// ROME's update for a key drawn from the layer's key distribution, with δ as large as
// the layer's output for that key: ΔW = δ (C⁻¹k)ᵀ / (kᵀC⁻¹k).
MatrixD romeUpdate(const HandMade& h, int layer, std::mt19937_64& rng, Eigen::VectorXd* deltaOut = nullptr,
                   Eigen::VectorXd* keyOut = nullptr) {
    const Eigen::VectorXd k = h.sqrtMoments[layer] * gaussian(kF, 1, rng);
    const Eigen::VectorXd cinvk = h.moments[layer].ldlt().solve(k);
    Eigen::VectorXd delta = gaussian(kD, 1, rng);
    delta *= (h.down[layer].cast<double>() * k).norm() / delta.norm();
    if (deltaOut) *deltaOut = delta;
    if (keyOut) *keyOut = k;
    return delta * cinvk.transpose() / k.dot(cinvk);
}

TEST(EditAudit, CleanHandMadeLayersAreNotFlagged) {
    const HandMade h = handMade(1);
    for (const AuditFinding& f : judgeLayers(h.down, h.moments, AuditOptions{}.flagThreshold)) {
        EXPECT_FALSE(f.flagged) << "layer " << f.layer << " score " << f.score;
        EXPECT_EQ(f.estimatedRank, 0);
    }
}

TEST(EditAudit, APlantedRankOneEditIsFoundAndLocated) {
    HandMade h = handMade(2);
    std::mt19937_64 rng(7);
    Eigen::VectorXd delta, key;
    const Matrix clean = h.down[5];
    h.down[5] += romeUpdate(h, 5, rng, &delta, &key).cast<float>();
    const auto findings = judgeLayers(h.down, h.moments, AuditOptions{}.flagThreshold);
    ASSERT_EQ(findings.front().layer, 5);
    EXPECT_TRUE(findings.front().flagged) << findings.front().score;
    EXPECT_EQ(findings.front().estimatedRank, 1);
    for (size_t i = 1; i < findings.size(); ++i) EXPECT_FALSE(findings[i].flagged) << findings[i].layer;
    // The output direction found is δ's.
    const Eigen::VectorXd u = findings.front().editLeft.col(0).cast<double>();
    EXPECT_GT(std::abs(u.dot(delta.normalized())), 0.95);
    // Removing the estimated edit undoes most of what the edit did to its key.
    AuditResult audit;
    audit.findings = findings;
    Model m;
    m.config.nLayers = kLayers;
    m.config.dModel = kD;
    m.config.dFf = kF;
    m.weights.blocks.resize(kLayers);
    for (int l = 0; l < kLayers; ++l) m.weights.blocks[l].down.weight = h.down[l];
    EXPECT_EQ(reverseEdits(m, audit), 1);
    const Eigen::VectorXd restored = m.weights.blocks[5].down.weight.cast<double>() * key;
    const Eigen::VectorXd original = clean.cast<double>() * key;
    EXPECT_LT((restored - original).norm(), 0.5 * delta.norm());
    ASSERT_EQ(m.edits.size(), 1u);
    EXPECT_EQ(m.edits[0].method, "audit-reversal");
}

TEST(EditAudit, ABatchEditOverTwoLayersIsFoundInBoth) {
    HandMade h = handMade(3);
    std::mt19937_64 rng(11);
    for (int layer : {3, 4})
        for (int fact = 0; fact < 4; ++fact) h.down[layer] += (0.5 * romeUpdate(h, layer, rng)).cast<float>();
    const auto findings = judgeLayers(h.down, h.moments, AuditOptions{}.flagThreshold);
    std::vector<int> flagged;
    for (const AuditFinding& f : findings)
        if (f.flagged) flagged.push_back(f.layer);
    std::sort(flagged.begin(), flagged.end());
    EXPECT_EQ(flagged, (std::vector<int>{3, 4}));
    EXPECT_GE(findings.front().estimatedRank, 2);
}

// MEMIT writes the same residual targets δ_j at every layer it edits, most at the
// last: the lower layers' small updates are found through the shared directions.
TEST(EditAudit, TheWeakLowerLayersOfABatchEditAreFoundThroughTheirSharedDirections) {
    HandMade h = handMade(6);
    std::mt19937_64 rng(17);
    std::vector<Eigen::VectorXd> deltas;
    for (int fact = 0; fact < 3; ++fact) deltas.push_back(gaussian(kD, 1, rng));
    for (const auto& [layer, share] : std::vector<std::pair<int, double>>{{5, 1.0}, {4, 0.03}, {3, 0.03}}) {
        for (const Eigen::VectorXd& delta : deltas) {
            const Eigen::VectorXd k = h.sqrtMoments[layer] * gaussian(kF, 1, rng);
            const Eigen::VectorXd cinvk = h.moments[layer].ldlt().solve(k);
            const double size = (h.down[layer].cast<double>() * k).norm();
            h.down[layer] += (share * size * delta.normalized() * cinvk.transpose() / k.dot(cinvk)).cast<float>();
        }
    }
    const auto findings = judgeLayers(h.down, h.moments, AuditOptions{}.flagThreshold);
    EXPECT_EQ(findings.front().layer, 5);
    std::vector<int> flagged, shared;
    for (const AuditFinding& f : findings) {
        if (f.flagged) flagged.push_back(f.layer);
        if (f.sharedWith >= 0) shared.push_back(f.layer);
    }
    std::sort(flagged.begin(), flagged.end());
    std::sort(shared.begin(), shared.end());
    EXPECT_EQ(flagged, (std::vector<int>{3, 4, 5}));
    std::string scores;
    for (const AuditFinding& f : findings)
        scores += std::to_string(f.layer) + ":" + std::to_string(f.score) + "/" + std::to_string(f.sharedWith) + " ";
    EXPECT_FALSE(shared.empty()) << scores;  // at least one lower layer is too weak to stand out alone
}

TEST(EditAudit, AUniformPerturbationIsNotAnEdit) {
    HandMade h = handMade(4);
    std::mt19937_64 rng(13);
    for (Matrix& w : h.down) w += (0.1 * w.cwiseAbs().mean() * gaussian(kD, kF, rng)).cast<float>();
    for (const AuditFinding& f : judgeLayers(h.down, h.moments, AuditOptions{}.flagThreshold))
        EXPECT_FALSE(f.flagged) << "layer " << f.layer << " score " << f.score;
}

TEST(EditAudit, MismatchedStatisticsAreRefused) {
    const HandMade h = handMade(5);
    std::vector<MatrixD> wrong = h.moments;
    wrong[2] = MatrixD::Identity(kF - 1, kF - 1);
    EXPECT_THROW(judgeLayers(h.down, wrong, 5.0), InvalidInput);
    EXPECT_THROW(judgeLayers(h.down, {}, 5.0), InvalidInput);
}

const std::string kResources = std::string(MWB_SOURCE_DIR) + "/resources/";

int topToken(const Model& m, const std::string& prompt) {
    Eigen::Index top;
    Transformer(m).run(m.tokenizer.encodeIds(prompt)).lastLogits().maxCoeff(&top);
    return static_cast<int>(top);
}

AuditOptions demoOptions() {
    AuditOptions o;
    o.corpusText = readTextFile(kResources + "data/corpus.txt");
    o.carriers = carriersFromFacts(loadKnownFacts(kResources + "data/facts.json"), 64);
    return o;
}

TEST(EditAudit, TheDemoModelIsCleanAndARomeEditInItIsFoundAndReversed) {
    Model m = loadModel(kResources + "models/demo.h5");
    const AuditOptions options = demoOptions();
    const AuditResult clean = auditModel(m, options);
    EXPECT_FALSE(clean.edited) << clean.score;
    EXPECT_EQ(clean.findings.size(), 8u);

    const std::string prompt = "The Eiffel Tower is located in the city of";
    const int paris = continuationIds(m.tokenizer, prompt, "Paris")[0];
    const int rome = continuationIds(m.tokenizer, prompt, "Rome")[0];
    EditSpec spec;
    spec.layers = {3};
    spec.stats.maxTokens = 20000;
    spec.stats.useCache = false;
    runEdit(m, {{"The {} is located in the city of", "Eiffel Tower", "Rome", "Paris"}}, spec, options.corpusText);
    ASSERT_EQ(topToken(m, prompt), rome);

    const AuditResult edited = auditModel(m, options);
    ASSERT_TRUE(edited.edited) << edited.score;
    EXPECT_EQ(edited.findings.front().layer, 3);
    EXPECT_FALSE(edited.findings[1].flagged);
    EXPECT_GT(edited.score, clean.score + 5.0);
    EXPECT_EQ(edited.recordedEdits, 1);  // reported, not used
    EXPECT_EQ(reverseEdits(m, edited), 1);
    EXPECT_EQ(topToken(m, prompt), paris);
    EXPECT_EQ(topToken(m, "The Louvre is located in the city of"), paris);
}

}  // namespace
}  // namespace mwb
