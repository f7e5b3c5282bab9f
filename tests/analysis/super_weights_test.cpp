// Super-weight detection finds a planted super weight at exactly its coordinate and
// nothing on random models; massive activations sit in its row.
#include <gtest/gtest.h>

#include <Eigen/QR>

#include "analysis/superweights/massive_activations.h"
#include "analysis/superweights/published_super_weights.h"
#include "analysis/superweights/super_weights.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "model/ops.h"
#include "model/transformer.h"
#include "tests/analysis/planted_model.h"

namespace mwb {
namespace {

using namespace planted;

std::vector<int> prompt(const Model& m) { return m.tokenizer.encodeIds("The cat sat on the mat."); }

TEST(SuperWeights, PlantedSuperWeightIsFoundAtItsCoordinate) {
    const Model m = plantedTinyGpt2();
    const auto r = detectSuperWeights(m, prompt(m));
    ASSERT_EQ(r.superWeights.size(), 1u);
    const SuperWeight& s = r.superWeights[0];
    EXPECT_EQ(s.layer, kPlantedLayer);
    EXPECT_EQ(s.row, kPlantedRow);
    EXPECT_EQ(s.col, kPlantedCol);
    EXPECT_FLOAT_EQ(s.weight, kPlantedWeight);
    EXPECT_EQ(s.pos, 0);
    EXPECT_GT(std::abs(s.outputActivation), 100.0f);
    EXPECT_GT(std::abs(s.inputActivation), 10.0f);
    EXPECT_EQ(s.iteration, 0);
    EXPECT_TRUE(s.rowIsMassiveDim);
    // The per-layer maxima show the spike in the planted layer only, and zeroing it
    // makes the spike go away.
    ASSERT_EQ(r.layers.size(), 2u);
    EXPECT_TRUE(r.layers[0].outputSpike && r.layers[0].inputSpike);
    EXPECT_EQ(r.layers[0].outputChannel, kPlantedRow);
    EXPECT_EQ(r.layers[0].inputChannel, kPlantedCol);
    EXPECT_GT(r.layers[0].outputRatio, 1000.0);
    EXPECT_FALSE(r.layersAfter[0].outputSpike);
    EXPECT_FALSE(r.layers[1].outputSpike);
}

TEST(SuperWeights, PlantedSuperWeightIsFoundInLlamaToo) {
    // SwiGLU: the BOS token alone has residual dimension 0, so silu(gate) * up of
    // unit 7 is about 20 * 20 at position 0 and exactly 0 elsewhere. That input is so
    // large that every ordinary weight of column 7 gives an output spike too; only
    // the planted weight stands out in its column.
    Model m = makeTinyModel(Architecture::Llama, 5, {.nLayers = 2, .sentencePiece = true});
    auto& w = m.weights;
    w.tokenEmbedding.col(0).setZero();
    w.tokenEmbedding(m.tokenizer.spec().bosId, 0) = 10.0f;
    auto& b = w.blocks[0];
    b.o.weight.row(0).setZero();
    b.norm2.weight(0) = 1.0f;
    b.gate.weight.row(7).setZero();
    b.up.weight.row(7).setZero();
    b.gate.weight(7, 0) = 5.0f;
    b.up.weight(7, 0) = 5.0f;
    b.down.weight(2, 7) = -10.0f;
    const auto r = detectSuperWeights(m, m.tokenizer.encodeIds("The cat sat on the mat."));
    ASSERT_EQ(r.superWeights.size(), 1u);
    EXPECT_EQ(r.superWeights[0].coord(), (WeightCoord{0, 2, 7}));
    EXPECT_EQ(r.superWeights[0].pos, 0);
    EXPECT_LT(r.superWeights[0].outputActivation, -1000.0f);
    EXPECT_TRUE(r.superWeights[0].rowIsMassiveDim);
}

TEST(SuperWeights, MassiveActivationIsInTheSuperWeightsRow) {
    const Model m = plantedTinyGpt2();
    const auto r = findMassiveActivations(m, prompt(m));
    ASSERT_FALSE(r.massive.empty());
    EXPECT_EQ(r.dims, std::vector<int>{kPlantedRow});
    for (const auto& p : r.massive) {
        EXPECT_EQ(p.pos, 0);
        EXPECT_GT(std::abs(p.value), 100.0f);
        EXPECT_GT(p.ratio, 1000.0);
    }
    // It persists through the layers after the super weight's.
    for (const auto& layer : r.layers) EXPECT_EQ(layer.top.front().dim, kPlantedRow);
}

TEST(SuperWeights, NothingIsFoundInRandomModels) {
    for (uint64_t seed : {1, 2, 3}) {
        const Model g = randomTinyGpt2(seed, 3);
        EXPECT_TRUE(detectSuperWeights(g, prompt(g)).superWeights.empty()) << "gpt2 seed " << seed;
        EXPECT_TRUE(findMassiveActivations(g, prompt(g)).massive.empty()) << "gpt2 seed " << seed;
        const Model l = makeTinyModel(Architecture::Llama, seed, {.nLayers = 3, .sentencePiece = true});
        EXPECT_TRUE(detectSuperWeights(l, prompt(l)).superWeights.empty()) << "llama seed " << seed;
    }
    const Model golden = loadModel(std::string(MWB_SOURCE_DIR) + "/tests/fixtures/golden_gpt2_untied.h5");
    EXPECT_TRUE(detectSuperWeights(golden, golden.tokenizer.encodeIds("The cat sat on a mat")).superWeights.empty());
}

TEST(SuperWeights, OutputSpikeWithoutInputSpikeIsNotASuperWeight) {
    Model m = plantedTinyGpt2();
    // A late-layer output spike made by a bias, with no massive input in that layer.
    m.weights.blocks[1].down.bias(7) = 500.0f;
    const auto r = detectSuperWeights(m, prompt(m));
    EXPECT_TRUE(r.layers[1].outputSpike);
    EXPECT_FALSE(r.layers[1].inputSpike);
    ASSERT_EQ(r.superWeights.size(), 1u);
    EXPECT_EQ(r.superWeights[0].layer, kPlantedLayer);
}

TEST(SuperWeights, SeveralSuperWeightsSharingOneColumnAreAllFound) {
    Model m = plantedTinyGpt2();
    m.weights.blocks[kPlantedLayer].down.weight(9, kPlantedCol) = -8.0f;
    const auto r = detectSuperWeights(m, prompt(m));
    ASSERT_EQ(r.superWeights.size(), 2u);
    EXPECT_EQ(r.superWeights[0].coord(), (WeightCoord{kPlantedLayer, kPlantedRow, kPlantedCol}));
    EXPECT_EQ(r.superWeights[1].coord(), (WeightCoord{kPlantedLayer, 9, kPlantedCol}));
    EXPECT_LT(r.superWeights[1].outputActivation, -100.0f);
}

TEST(SuperWeights, LayerSpikesReportMaximaAndRatios) {
    Matrix x = Matrix::Constant(4, 6, 0.5f), y = Matrix::Constant(4, 3, -1.0f);
    x(2, 4) = 200.0f;
    y(2, 1) = -300.0f;
    const LayerSpikes s = layerSpikes(5, x, y, SuperWeightParams{});
    EXPECT_EQ(s.layer, 5);
    EXPECT_EQ(s.inputPos, 2);
    EXPECT_EQ(s.inputChannel, 4);
    EXPECT_FLOAT_EQ(s.inputMax, 200.0f);
    EXPECT_DOUBLE_EQ(s.inputRatio, 400.0);
    EXPECT_EQ(s.outputChannel, 1);
    EXPECT_FLOAT_EQ(s.outputMax, -300.0f);
    EXPECT_DOUBLE_EQ(s.outputRatio, 300.0);
    EXPECT_TRUE(s.inputSpike && s.outputSpike);
}

TEST(SuperWeights, JsonHasTheDocumentedKeys) {
    const Model m = plantedTinyGpt2();
    const auto j = toJson(detectSuperWeights(m, prompt(m)));
    ASSERT_EQ(j["super_weights"].size(), 1u);
    for (const char* key : {"layer", "row", "col", "weight", "input_activation", "output_activation"})
        EXPECT_TRUE(j["super_weights"][0].contains(key)) << key;
    EXPECT_EQ(j["layers"].size(), 2u);
    EXPECT_TRUE(j.contains("massive_activations"));
}

// A super weight planted in the trained demo model, weaker than the 100 x rule: the
// MLP unit `col` of `layer` fires only at position 0 of `ids` (its up row solves
// h_t · u = target_t exactly for the prompt's MLP inputs h_t), with an input spike
// `inputRatio` x the layer's median, and the weight (row, col), the only one left in
// its column, turns it into an output spike `outputRatio` x the median.
Model plantInDemo(const std::vector<int>& ids, int layer, int row, int col, double inputRatio, double outputRatio) {
    Model m = loadModel(std::string(MWB_SOURCE_DIR) + "/resources/models/demo.h5");
    Hooks hooks;
    hooks.captures = {{HookSite::ResidPre, layer}, {HookSite::AttnOut, layer}, {HookSite::MlpIn, layer},
                      {HookSite::MlpOut, layer}};
    const RunState before = Transformer(m).run(ids, hooks, LogitsMode::None);
    const Matrix mid = before.captured.at({HookSite::ResidPre, layer}) + before.captured.at({HookSite::AttnOut, layer});
    Matrix h(mid.rows(), mid.cols());
    auto& b = m.weights.blocks[layer];
    ops::norm<float>(mid, b.norm2, m.config, h);
    const double xMedian = medianAbs(before.captured.at({HookSite::MlpIn, layer}));
    const double yMedian = medianAbs(before.captured.at({HookSite::MlpOut, layer}));
    Eigen::VectorXd target = Eigen::VectorXd::Zero(h.rows());
    target(0) = inputRatio * xMedian;  // gelu(a) = a for large a, gelu(0) = 0
    const Eigen::VectorXd u = h.cast<double>().completeOrthogonalDecomposition().solve(target);
    b.up.weight.row(col) = u.cast<float>().transpose();
    b.up.bias(col) = 0.0f;
    b.down.weight.col(col).setZero();
    b.down.weight(row, col) = float(outputRatio * yMedian / target(0));
    return m;
}

TEST(SuperWeights, APlantedSpikeBelowTheHundredfoldRuleIsConfirmedAndOrdinaryWeightsAreNot) {
    const std::string path = std::string(MWB_SOURCE_DIR) + "/resources/models/demo.h5";
    const Model demo = loadModel(path);
    const std::vector<int> ids = demo.tokenizer.encodeIds("Apple Inc. is a worldwide tech company.");
    // The trained model itself: candidates, if any, are near misses (their removal
    // hurts less than removing the matrix's largest other weights).
    const auto clean = detectSuperWeights(demo, ids);
    EXPECT_TRUE(clean.superWeights.empty());
    for (const auto& s : clean.nearMisses) EXPECT_LE(s.damage, s.controlDamage);

    const Model m = plantInDemo(ids, 1, 50, 100, 6300.0, 60.0);
    const auto r = detectSuperWeights(m, ids);
    ASSERT_GE(r.layers.size(), 2u);
    EXPECT_FALSE(r.layers[1].outputSpike);  // 60 x: below the 100 x spike rule
    EXPECT_NEAR(r.layers[1].outputRatio, 60.0, 6.0);
    ASSERT_EQ(r.superWeights.size(), 1u);
    const SuperWeight& s = r.superWeights[0];
    EXPECT_EQ(s.coord(), (WeightCoord{1, 50, 100}));
    EXPECT_EQ(s.pos, 0);
    EXPECT_GT(s.share, 0.9);
    EXPECT_TRUE(s.confirmed);
    EXPECT_GT(s.damage, s.controlDamage);
    EXPECT_GT(s.layerStandout, std::log(2.0));
    for (const auto& n : r.nearMisses) EXPECT_FALSE(n.confirmed);
}

// The published table matches a model by architecture and shape; Llama and Llama 2
// (same shape) differ in their context.
TEST(SuperWeights, PublishedCoordinatesMatchByArchitectureAndShape) {
    ModelConfig c;
    c.architecture = Architecture::Llama;
    c.nLayers = 32;
    c.dModel = 4096;
    c.dFf = 14336;
    c.vocabSize = 32000;
    c.nCtx = 32768;
    auto p = publishedFor(c);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->model, "mistralai/Mistral-7B-v0.1");
    EXPECT_EQ(p->coords, (std::vector<WeightCoord>{{1, 2070, 7310}}));
    c.dFf = 11008;
    c.nCtx = 2048;
    EXPECT_EQ(publishedFor(c)->coords, (std::vector<WeightCoord>{{2, 3968, 7003}}));
    c.nCtx = 4096;
    EXPECT_EQ(publishedFor(c)->model, "meta-llama/Llama-2-7b-hf");
    c.architecture = Architecture::Gpt2;
    EXPECT_FALSE(publishedFor(c));
    const Model demo = loadModel(std::string(MWB_SOURCE_DIR) + "/resources/models/demo.h5");
    EXPECT_FALSE(publishedFor(demo.config));
    EXPECT_EQ(publishedSuperWeights().size(), 10u);
}

TEST(SuperWeights, EmptyPromptIsRejected) {
    const Model m = plantedTinyGpt2();
    EXPECT_THROW(detectSuperWeights(m, {}), InvalidInput);
}

}  // namespace
}  // namespace mwb
