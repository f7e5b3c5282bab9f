// Linear weights kept in float16 (half_matrix.h): every computation on them must give
// exactly what the same computation gives on the float32 matrices they decode to.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <random>

#include "model/backprop.h"
#include "tensor/errors.h"
#include "tensor/matmul.h"
#include "model/random_init.h"
#include "model/transformer.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

// The model with q, k, v, o, up and gate rounded to 16 bits and kept so.
Model keptInHalf(const Model& m, HalfFormat format = HalfFormat::Float16) {
    Model h = m;
    for (auto& b : h.weights.blocks)
        for (Linear* l : {&b.q, &b.k, &b.v, &b.o, &b.up, &b.gate}) {
            if (l->weight.size() == 0) continue;
            l->weightHalf = HalfMatrix::fromFloat(l->weight, format);
            l->weight.resize(0, 0);
        }
    return h;
}

// The same model with every weight in float32 (castWeights decodes float16).
Model decoded(const Model& h) {
    Model m = h;
    m.weights = castWeights<float>(h.weights);
    return m;
}

bool bitwiseEqual(const Matrix& a, const Matrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.size())) == 0;
}

TEST(HalfMatrix, RoundTripIsExactForHalfValues) {
    Matrix m(2, 3);
    m << 1.0f, -0.5f, 65504.0f, 0x1p-24f, 0.0f, 3.140625f;  // all representable in float16
    const HalfMatrix h = HalfMatrix::fromFloat(m);
    EXPECT_EQ(h.bits[0], 0x3c00);
    EXPECT_EQ(h.bits[1], 0xb800);
    EXPECT_EQ(h.bits[2], 0x7bff);
    EXPECT_EQ(h.bits[3], 0x0001);
    EXPECT_TRUE(bitwiseEqual(h.toFloat(), m));
}

TEST(HalfMatrix, ProductEqualsTheProductOfTheDecodedMatrix) {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    for (auto [n, out, k] : {std::tuple{1, 5, 7}, {4, 200, 33}, {13, 97, 64}, {7, 300, 130}}) {
        Matrix x(n, k), w(out, k);
        for (long i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
        for (long i = 0; i < w.size(); ++i) w.data()[i] = normal(rng);
        const HalfMatrix h = HalfMatrix::fromFloat(w);
        const Matrix wd = h.toFloat();
        for (int threads : {1, 2}) {
            omp_set_num_threads(threads);
            Matrix want(n, out), got(n, out);
            matmulTransposed(x.data(), k, wd.data(), k, want.data(), out, n, out, k);
            matmulTransposed(x.data(), k, h.bits.data(), h.format, k, got.data(), out, n, out, k);
            EXPECT_TRUE(bitwiseEqual(got, want)) << n << "x" << out << "x" << k << ", " << threads << " threads";
        }
    }
    omp_set_num_threads(2);
}

struct HalfCase {
    Architecture architecture;
    HalfFormat format;
};

class HalfModel : public ::testing::TestWithParam<HalfCase> {};

TEST_P(HalfModel, ForwardPassEqualsTheDecodedModelBitForBit) {
    const Model half = keptInHalf(makeTinyModel(GetParam().architecture, 11), GetParam().format);
    const Model full = decoded(half);
    ASSERT_TRUE(half.weights.blocks[1].up.isHalf());
    ASSERT_FALSE(half.weights.blocks[1].down.isHalf());
    const std::vector<int> tokens{3, 40, 41, 100, 7, 9, 250};
    const RunState a = Transformer(half).run(tokens, {}, LogitsMode::All);
    const RunState b = Transformer(full).run(tokens, {}, LogitsMode::All);
    EXPECT_TRUE(bitwiseEqual(a.logits, b.logits));
    for (size_t l = 0; l < a.resid.size(); ++l) EXPECT_TRUE(bitwiseEqual(a.resid[l], b.resid[l])) << l;
}

TEST_P(HalfModel, BackwardPassEqualsTheDecodedModel) {
    const Model half = keptInHalf(makeTinyModel(GetParam().architecture, 12), GetParam().format);
    const Model full = decoded(half);
    const std::vector<int> tokens{5, 6, 70, 80, 90, 100};
    Backprop a(half.config, half.weights), b(full.config, full.weights);
    const Matrix la = a.forward(tokens, 1, int(tokens.size()));
    const Matrix lb = b.forward(tokens, 1, int(tokens.size()));
    EXPECT_TRUE(bitwiseEqual(la, lb));
    Matrix dLogits = Matrix::Zero(la.rows(), la.cols());
    dLogits(5, 17) = 1.0f;
    dLogits(2, 3) = -0.5f;
    Hooks atMlpOut;  // zero added at layer 0's mlp_out: the gradient there
    for (int row : {1, 4}) atMlpOut.patches.push_back({HookSite::MlpOut, 0, row, Vector::Zero(half.config.dModel), PatchMode::Add});
    a.rerun(atMlpOut);
    b.rerun(atMlpOut);
    const Matrix ga = a.backwardToPatches(dLogits);
    const Matrix gb = b.backwardToPatches(dLogits);
    EXPECT_GT(gb.norm(), 0.0f);
    EXPECT_TRUE(bitwiseEqual(ga, gb));
}

TEST_P(HalfModel, TensorsCanBeReadButNotChangedThroughForEachTensor) {
    const Model half = keptInHalf(makeTinyModel(GetParam().architecture, 13), GetParam().format);
    const Model full = decoded(half);
    std::vector<Matrix> seenHalf, seenFull;
    auto collect = [](std::vector<Matrix>& out) {
        return [&out](const std::string&, const auto& t) { out.push_back(Matrix(Eigen::Map<const Matrix>(t.data(), t.rows(), t.cols()))); };
    };
    forEachTensor(half.config, half.weights, collect(seenHalf));
    forEachTensor(full.config, full.weights, collect(seenFull));
    ASSERT_EQ(seenHalf.size(), seenFull.size());
    for (size_t i = 0; i < seenHalf.size(); ++i) EXPECT_TRUE(bitwiseEqual(seenHalf[i], seenFull[i])) << i;

    Model changeable = half;
    EXPECT_THROW(forEachTensor(changeable.config, changeable.weights, [](const std::string&, auto&) {}), Error);
    EXPECT_TRUE(hasHalfWeights(half.weights));
    EXPECT_FALSE(hasHalfWeights(full.weights));
}

INSTANTIATE_TEST_SUITE_P(Architectures, HalfModel,
                         ::testing::Values(HalfCase{Architecture::Gpt2, HalfFormat::Float16},
                                           HalfCase{Architecture::Llama, HalfFormat::Float16},
                                           HalfCase{Architecture::Llama, HalfFormat::BFloat16},
                                           HalfCase{Architecture::Gemma2, HalfFormat::BFloat16}),
                         [](const auto& info) {
                             return toString(info.param.architecture) +
                                    (info.param.format == HalfFormat::Float16 ? "_float16" : "_bfloat16");
                         });

TEST(HalfInit, RandomInitialisationRoundsTheFloat32Draws) {
    ModelConfig c = namedShape("llama-tiny");
    c.nLayers = 2;
    c.vocabSize = 300;
    const Weights full = randomWeights(c, 9);
    const Weights half = randomWeights(c, 9, WeightPrecision::Float16);
    for (int l = 0; l < c.nLayers; ++l) {
        const auto& f = full.blocks[l];
        const auto& h = half.blocks[l];
        EXPECT_EQ(h.q.weightHalf.bits, HalfMatrix::fromFloat(f.q.weight).bits);
        EXPECT_EQ(h.gate.weightHalf.bits, HalfMatrix::fromFloat(f.gate.weight).bits);
        EXPECT_EQ(h.q.weight.size(), 0);
        EXPECT_TRUE(bitwiseEqual(h.down.weight, f.down.weight));  // mlp/down stays float32
    }
    EXPECT_TRUE(bitwiseEqual(half.tokenEmbedding, full.tokenEmbedding));
}

}  // namespace
}  // namespace mwb
