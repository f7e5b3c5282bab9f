// Super-weight detection finds a planted super weight at exactly its coordinate and
// nothing on random models; massive activations sit in its row.
#include <gtest/gtest.h>

#include "analysis/superweights/massive_activations.h"
#include "analysis/superweights/super_weights.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
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

TEST(SuperWeights, EmptyPromptIsRejected) {
    const Model m = plantedTinyGpt2();
    EXPECT_THROW(detectSuperWeights(m, {}), InvalidInput);
}

}  // namespace
}  // namespace mwb
