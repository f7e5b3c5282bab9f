// Model diff: planted changes are found with the right size and rank, and matched to
// the edit records that explain them; changes without a record are flagged.
#include <gtest/gtest.h>

#include <random>

#include <Eigen/QR>

#include "editing/model_diff.h"
#include "editing/spectrum.h"
#include "tensor/errors.h"
#include "tensor/float16.h"
#include "io/hdf5_model_file.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

const std::string kFixtures = std::string(MWB_SOURCE_DIR) + "/tests/fixtures/";

Matrix randomMatrix(long rows, long cols, uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, scale);
    Matrix m(rows, cols);
    for (long i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
    return m;
}

EditRecord rankOneRecord(const ModelConfig& c, int layer, uint64_t seed) {
    EditRecord e;
    e.method = "rome";
    e.layers = {layer};
    e.subject = "Eiffel Tower";
    e.prompt = "{} is located in the city of";
    e.targetNew = "Rome";
    e.targetTrue = "Paris";
    e.created = "2026-01-01T00:00:00Z";
    e.left = {randomMatrix(c.dModel, 1, seed, 0.5f)};
    e.right = {randomMatrix(c.dFf, 1, seed + 1, 0.5f)};
    return e;
}

void apply(Model& m, const EditRecord& e) {
    for (size_t j = 0; j < e.layers.size(); ++j)
        m.weights.blocks[e.layers[j]].down.weight.noalias() += e.left[j] * e.right[j].transpose();
}

TEST(ModelDiff, IdenticalModels) {
    const Model a = makeTinyModel(Architecture::Gpt2, 3);
    const Model b = a;
    const ModelDiff d = diffModels(a, b);
    EXPECT_TRUE(d.identical);
    EXPECT_TRUE(d.tensors.empty());
    EXPECT_TRUE(d.unexplained.empty());
    const auto j = toJson(d);
    EXPECT_TRUE(j["identical"].get<bool>());
    EXPECT_TRUE(j["tensors"].empty());
}

TEST(ModelDiff, FindsRecordedRankOneEdit) {
    const Model a = makeTinyModel(Architecture::Gpt2, 3);
    Model b = a;
    const EditRecord e = rankOneRecord(a.config, 1, 11);
    apply(b, e);
    b.edits.push_back(e);
    const ModelDiff d = diffModels(a, b);
    EXPECT_FALSE(d.identical);
    ASSERT_EQ(d.tensors.size(), 1u);
    const TensorDiff& t = d.tensors[0];
    EXPECT_EQ(t.path, "/blocks/1/mlp/down/weight");
    EXPECT_EQ(t.rank, 1);
    const double expected = double(e.left[0].norm()) * double(e.right[0].norm());
    EXPECT_NEAR(t.singularValues[0], expected, 1e-5 * expected);
    EXPECT_NEAR(t.norm, expected, 1e-5 * expected);
    EXPECT_TRUE(t.explained);
    EXPECT_EQ(t.edits, std::vector<int>{0});
    EXPECT_LT(t.residual, 1e-5);
    EXPECT_TRUE(d.unexplained.empty());
    EXPECT_EQ(d.newEdits, std::vector<int>{0});
    const auto j = toJson(d);
    EXPECT_EQ(j["tensors"][0]["edit"], 0);
    EXPECT_EQ(j["tensors"][0]["rank"], 1);
    EXPECT_EQ(j["tensors"][0]["path"], "/blocks/1/mlp/down/weight");
}

TEST(ModelDiff, FlagsChangeWithoutRecord) {
    const Model a = makeTinyModel(Architecture::Llama, 4);
    Model b = a;
    apply(b, rankOneRecord(a.config, 0, 5));  // no record
    b.weights.blocks[1].q.weight(2, 3) += 0.25f;
    const ModelDiff d = diffModels(a, b);
    ASSERT_EQ(d.tensors.size(), 2u);
    ASSERT_EQ(d.unexplained.size(), 2u);
    EXPECT_EQ(d.unexplained[0], "/blocks/0/mlp/down/weight");
    EXPECT_EQ(d.unexplained[1], "/blocks/1/attn/q/weight");
    EXPECT_EQ(d.tensors[1].rank, 1);
    EXPECT_EQ(d.tensors[1].changedElements, 1);
    EXPECT_NEAR(d.tensors[1].norm, 0.25, 1e-6);
    const auto j = toJson(d);
    EXPECT_TRUE(j["tensors"][0]["edit"].is_null());
    EXPECT_EQ(j["tensors"][0]["problem"], kUnrecordedChange);
}

TEST(ModelDiff, RecordThatDoesNotExplainTheChangeIsFlagged) {
    const Model a = makeTinyModel(Architecture::Gpt2, 3);
    Model b = a;
    const EditRecord e = rankOneRecord(a.config, 1, 11);
    apply(b, e);
    b.edits.push_back(e);
    b.weights.blocks[1].down.weight(0, 0) += 0.5f;  // hidden on top of the recorded edit
    const ModelDiff d = diffModels(a, b);
    ASSERT_EQ(d.tensors.size(), 1u);
    EXPECT_FALSE(d.tensors[0].explained);
    EXPECT_EQ(d.tensors[0].rank, 2);
    EXPECT_EQ(d.unexplained, std::vector<std::string>{"/blocks/1/mlp/down/weight"});
}

TEST(ModelDiff, RecordWithoutWeightChange) {
    const Model a = makeTinyModel(Architecture::Gpt2, 3);
    Model b = a;
    b.edits.push_back(rankOneRecord(a.config, 1, 11));
    const ModelDiff d = diffModels(a, b);
    EXPECT_FALSE(d.identical);
    EXPECT_TRUE(d.tensors.empty());
    ASSERT_EQ(d.editsWithoutChange.size(), 1u);
    EXPECT_NE(d.editsWithoutChange[0].find("/blocks/1/mlp/down/weight"), std::string::npos);
}

TEST(ModelDiff, UndoneEditIsExplainedByTheRemovedRecord) {
    const Model original = makeTinyModel(Architecture::Gpt2, 3);
    Model edited = original;
    const EditRecord first = rankOneRecord(original.config, 0, 21), second = rankOneRecord(original.config, 1, 31);
    apply(edited, first);
    edited.edits.push_back(first);
    Model both = edited;
    apply(both, second);
    both.edits.push_back(second);
    // both -> edited: the second edit was undone.
    const ModelDiff d = diffModels(both, edited);
    ASSERT_EQ(d.tensors.size(), 1u);
    EXPECT_EQ(d.tensors[0].path, "/blocks/1/mlp/down/weight");
    EXPECT_TRUE(d.tensors[0].explained);
    EXPECT_EQ(d.removedEdits, std::vector<int>{1});
    EXPECT_EQ(d.tensors[0].removedEdits, std::vector<int>{1});
    EXPECT_TRUE(toJson(d)["tensors"][0]["edit"].is_null());
}

TEST(ModelDiff, SequentialEditsAtOneLayerAndMemitRecord) {
    const Model a = makeTinyModel(Architecture::Llama, 8);
    Model b = a;
    for (int k = 0; k < 3; ++k) {
        const EditRecord e = rankOneRecord(a.config, 1, 40 + k);
        apply(b, e);
        b.edits.push_back(e);
    }
    EditRecord memit = rankOneRecord(a.config, 0, 60);
    memit.method = "memit";
    memit.layers = {0, 1};
    memit.left = {randomMatrix(a.config.dModel, 2, 61), randomMatrix(a.config.dModel, 2, 62)};
    memit.right = {randomMatrix(a.config.dFf, 2, 63), randomMatrix(a.config.dFf, 2, 64)};
    apply(b, memit);
    b.edits.push_back(memit);
    const ModelDiff d = diffModels(a, b);
    ASSERT_EQ(d.tensors.size(), 2u);
    EXPECT_TRUE(d.unexplained.empty());
    EXPECT_EQ(d.tensors[0].rank, 2);
    EXPECT_EQ(d.tensors[0].edits, std::vector<int>{3});
    EXPECT_EQ(d.tensors[1].rank, 5);
    EXPECT_EQ(d.tensors[1].edits, (std::vector<int>{0, 1, 2, 3}));
}

TEST(ModelDiff, Float16ModelsUseTheFloat16RoundingFloor) {
    Model a = makeTinyModel(Architecture::Gpt2, 3);
    auto toHalf = [](Matrix& m) {
        for (long i = 0; i < m.size(); ++i) m.data()[i] = halfToFloat(floatToHalf(m.data()[i]));
    };
    toHalf(a.weights.blocks[1].down.weight);
    Model b = a;
    const EditRecord e = rankOneRecord(a.config, 1, 11);
    apply(b, e);
    toHalf(b.weights.blocks[1].down.weight);
    b.edits.push_back(e);
    const ModelDiff d = diffModels(a, b);
    ASSERT_EQ(d.tensors.size(), 1u);
    EXPECT_TRUE(d.tensors[0].explained);
    EXPECT_EQ(d.tensors[0].rank, 1);
}

TEST(ModelDiff, Float32ModelSavedAsFloat16IsRoundingNotAnEdit) {
    const Model a = makeTinyModel(Architecture::Gpt2, 3);
    Model b = a;
    forEachTensor(b.config, b.weights, [](const std::string&, auto& t) {
        for (long i = 0; i < t.size(); ++i) t.data()[i] = halfToFloat(floatToHalf(t.data()[i]));
    });
    b.weights.blocks[0].up.weight(1, 2) += 0.5f;  // a real change on top
    const ModelDiff d = diffModels(a, b);
    EXPECT_FALSE(d.identical);
    EXPECT_EQ(d.unexplained, std::vector<std::string>{"/blocks/0/mlp/up/weight"});
    int rounded = 0;
    for (const TensorDiff& t : d.tensors) {
        rounded += t.float16Rounding;
        if (t.float16Rounding) { EXPECT_EQ(t.rank, 0) << t.path; }
    }
    EXPECT_EQ(rounded, int(d.tensors.size()) - 1);
}

TEST(ModelDiff, ConfigAndTokenizerDifferences) {
    const Model a = makeTinyModel(Architecture::Gpt2, 3);
    Model b = a;
    b.config.normEps = 1e-6f;
    TokenizerSpec spec = a.tokenizer.spec();
    spec.eosId = 0;
    b.tokenizer = Tokenizer(spec);
    const ModelDiff d = diffModels(a, b);
    EXPECT_FALSE(d.identical);
    EXPECT_TRUE(d.tensors.empty());
    ASSERT_EQ(d.config.size(), 1u);
    EXPECT_EQ(d.config[0].field, "norm_eps");
    ASSERT_EQ(d.tokenizer.size(), 1u);
    EXPECT_EQ(d.tokenizer[0].field, "eos_id");
}

TEST(ModelDiff, DifferentShapesAreRefused) {
    const Model a = makeTinyModel(Architecture::Gpt2, 3);
    TinyModelOptions wide;
    wide.dFf = 48;
    const Model b = makeTinyModel(Architecture::Gpt2, 3, wide);
    try {
        diffModels(a, b);
        FAIL() << "expected InvalidInput";
    } catch (const InvalidInput& e) {
        EXPECT_NE(std::string(e.what()).find("different shapes"), std::string::npos) << e.what();
    }
    EXPECT_THROW(diffModels(a, makeTinyModel(Architecture::Llama, 3)), InvalidInput);
}

TEST(ModelDiff, MissingFileIsAnError) {
    EXPECT_THROW(loadModel(kFixtures + "does_not_exist.h5"), Error);
}

TEST(ModelDiff, FixtureAgainstItself) {
    const Model a = loadModel(kFixtures + "golden_gpt2_untied.h5");
    Model b = loadModel(kFixtures + "golden_gpt2_untied.h5");
    EXPECT_TRUE(diffModels(a, b).identical);
    b.weights.lmHead(5, 7) -= 1.0f;
    const ModelDiff d = diffModels(a, b);
    ASSERT_EQ(d.tensors.size(), 1u);
    EXPECT_EQ(d.tensors[0].path, "/lm_head/weight");
}

TEST(Spectrum, LowRankSketchMatchesKnownSingularValues) {
    // d = U diag(3, 2, 0.5) Vᵀ with orthonormal U [300 x 3], V [1200 x 3].
    const Eigen::MatrixXd u = Eigen::HouseholderQR<Eigen::MatrixXd>(randomMatrix(300, 3, 1).cast<double>())
                                  .householderQ() * Eigen::MatrixXd::Identity(300, 3);
    const Eigen::MatrixXd v = Eigen::HouseholderQR<Eigen::MatrixXd>(randomMatrix(1200, 3, 2).cast<double>())
                                  .householderQ() * Eigen::MatrixXd::Identity(1200, 3);
    const MatrixD d = u * Eigen::Vector3d(3.0, 2.0, 0.5).asDiagonal() * v.transpose();
    const Spectrum s = spectrum(d);
    EXPECT_FALSE(s.exactMethod);
    EXPECT_EQ(s.rank, 3);
    ASSERT_GE(s.singularValues.size(), 3u);
    EXPECT_NEAR(s.singularValues[0], 3.0, 1e-9);
    EXPECT_NEAR(s.singularValues[1], 2.0, 1e-9);
    EXPECT_NEAR(s.singularValues[2], 0.5, 1e-9);
}

TEST(Spectrum, ExactGramPathAgreesWithKnownValues) {
    // Big enough for the Gram-matrix route (more than 512 x 512 elements).
    const MatrixD l = randomMatrix(600, 2, 5).cast<double>(), r = randomMatrix(700, 2, 6).cast<double>();
    const MatrixD d = l * r.transpose();
    SpectrumOptions o;
    o.exact = true;
    const Spectrum exact = spectrum(d, o);
    const Spectrum sketch = spectrum(d);
    EXPECT_TRUE(exact.exactMethod);
    EXPECT_FALSE(sketch.exactMethod);
    EXPECT_EQ(exact.rank, 2);
    EXPECT_EQ(sketch.rank, 2);
    EXPECT_NEAR(exact.singularValues[0], sketch.singularValues[0], 1e-9 * sketch.singularValues[0]);
    EXPECT_NEAR(exact.singularValues[1], sketch.singularValues[1], 1e-9 * sketch.singularValues[0]);
}

TEST(Spectrum, FullRankFallsBackToExactOrLowerBound) {
    const MatrixD d = randomMatrix(80, 200, 3).cast<double>();
    const Spectrum exact = spectrum(d);
    EXPECT_EQ(exact.rank, 80);
    EXPECT_TRUE(exact.exactMethod);
    SpectrumOptions o;
    o.exactLimit = 10;
    const Spectrum bound = spectrum(d, o);
    EXPECT_TRUE(bound.rankIsLowerBound);
    EXPECT_EQ(bound.rank, 40);  // the sketch is capped at half the smaller side
}

}  // namespace
}  // namespace mwb
