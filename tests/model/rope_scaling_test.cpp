// Rotary scaling (Hugging Face rope_scaling): the frequencies of linear position
// interpolation and of Llama 3.1's llama3 scheme, and both passes applying them.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "model/backprop.h"
#include "model/config.h"
#include "model/ops.h"
#include "model/transformer.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

ModelConfig llama31Rope() {
    ModelConfig c;
    c.architecture = Architecture::Llama;
    c.ropeTheta = 500000.0f;
    c.ropeScaling = {RopeScalingType::Llama3, 8.0, 1.0, 4.0, 8192};
    return c;
}

// Llama 3.1's parameters (theta 500000, head 128, factor 8, low 1, high 4, context
// 8192): wavelengths below 8192/4 = 2048 are kept, above 8192/1 divided by 8, and in
// between the scale moves linearly in context/wavelength from 1/8 to 1.
TEST(RopeScaling, Llama3FrequenciesKeepShortAndStretchLongWavelengths) {
    const ModelConfig c = llama31Rope();
    ModelConfig plain = c;
    plain.ropeScaling = {};
    int kept = 0, divided = 0, smoothed = 0;
    for (int i = 0; i < 64; ++i) {
        const double base = std::pow(500000.0, -i / 64.0);
        EXPECT_EQ(ropeInverseFrequency(plain, i, 128), std::pow(500000.0, -2.0 * i / 128));
        const double wavelength = 2 * std::numbers::pi / base;
        const double got = ropeInverseFrequency(c, i, 128);
        if (wavelength < 2048) {
            EXPECT_EQ(got, ropeInverseFrequency(plain, i, 128)) << i;
            ++kept;
        } else if (wavelength > 8192) {
            EXPECT_NEAR(got, base / 8, 1e-15 * base) << i;
            ++divided;
        } else {
            const double s = (8192 / wavelength - 1.0) / 3.0;  // 0 at 8192, 1 at 2048
            EXPECT_NEAR(got / base, (1 - s) / 8 + s, 1e-12) << i;
            ++smoothed;
        }
    }
    // i = 0..28 kept, 29..34 interpolated, 35..63 divided (wavelength 2π · 500000^(i/64)).
    EXPECT_EQ(kept, 29);
    EXPECT_EQ(smoothed, 6);
    EXPECT_EQ(divided, 29);
    // The scale never increases from high to low frequencies.
    for (int i = 1; i < 64; ++i)
        EXPECT_LE(ropeInverseFrequency(c, i, 128) / std::pow(500000.0, -i / 64.0),
                  ropeInverseFrequency(c, i - 1, 128) / std::pow(500000.0, -(i - 1) / 64.0) + 1e-12);
}

// Linear interpolation by 2 at position 2p rotates exactly as no scaling at p
// (halving a frequency and doubling a position are exact in binary).
TEST(RopeScaling, LinearFactorTwoAtTwiceThePositionIsThePlainRotation) {
    ModelConfig plain;
    plain.architecture = Architecture::Llama;
    ModelConfig linear = plain;
    linear.ropeScaling = {RopeScalingType::Linear, 2.0};
    const Matrix x = Matrix::Random(1, 2 * 16);
    for (int p : {1, 3, 7}) {
        Matrix a = x, b = x;
        ops::rope<float>(a, 2, 16, p, plain);
        ops::rope<float>(b, 2, 16, 2 * p, linear);
        EXPECT_TRUE(a == b) << p;
        Matrix c = x;
        ops::rope<float>(c, 2, 16, p, linear);
        EXPECT_FALSE(a == c) << p;
    }
}

// The inference pass and the differentiable pass apply the same scaled rotation.
TEST(RopeScaling, BothPassesAgreeOnAScaledModel) {
    Model m = makeTinyModel(Architecture::Llama, 9);
    // With a context of 4 tokens, the model's longest wavelengths are stretched.
    m.config.ropeScaling = {RopeScalingType::Llama3, 4.0, 1.0, 4.0, 4};
    ASSERT_EQ(configProblem(m.config), "");
    const std::vector<int> ids = {5, 6, 70, 80, 90, 100, 7, 8};
    const RunState scaled = Transformer(m).run(ids, {}, LogitsMode::All);
    Backprop bp(m.config, m.weights);
    const Matrix logits = bp.forward(ids, 1, int(ids.size()));
    EXPECT_LT((logits - scaled.logits).cwiseAbs().maxCoeff(), 1e-4);
    Model plain = m;
    plain.config.ropeScaling = {};
    EXPECT_GT((Transformer(plain).run(ids, {}, LogitsMode::All).logits - scaled.logits).cwiseAbs().maxCoeff(), 1e-4);
}

TEST(RopeScaling, BadParametersAreRefused) {
    ModelConfig c = makeTinyModel(Architecture::Llama, 1).config;
    c.ropeScaling = {RopeScalingType::Linear, 0.0};
    EXPECT_NE(configProblem(c).find("factor"), std::string::npos);
    c.ropeScaling = {RopeScalingType::Llama3, 8.0, 4.0, 1.0, 8192};
    EXPECT_NE(configProblem(c).find("low_freq_factor"), std::string::npos);
    c.ropeScaling = {RopeScalingType::Llama3, 8.0, 1.0, 4.0, 0};
    EXPECT_NE(configProblem(c).find("original_max_position_embeddings"), std::string::npos);
    EXPECT_EQ(parseRopeScalingType("llama3"), RopeScalingType::Llama3);
    EXPECT_THROW(parseRopeScalingType("yarn"), InvalidInput);
}

}  // namespace
}  // namespace mwb
