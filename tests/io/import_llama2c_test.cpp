// llama2.c import: a tiny random model written as a llama2.c checkpoint, and the real
// stories260K, give the logits of a reference forward pass written here after llama2.c's
// run.c (interleaved rotary pairs on the unpermuted weights, in double precision); the
// tokenizer.bin reader reproduces Llama 2's token ids; bad files give one sentence.
#include "io/import_llama2c.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "tensor/errors.h"
#include "model/generate.h"
#include "model/transformer.h"
#include "tests/support/hf_folder.h"
#include "tests/support/test_models.h"
#include "tests/support/tokenizer_test_util.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// ---------------------------------------------------------------------------------------
// llama2.c's run.c, transcribed: weights in the file's layout, one token at a time.
class Llama2cReference {
public:
    Llama2cReference(const ModelConfig& c, const Weights& w) : m_c(c), m_w(w) {}

    // Logits after each of `tokens`: [nTokens x vocab].
    MatrixD run(const std::vector<int>& tokens) {
        const int d = m_c.dModel, hs = m_c.dHead(), kvDim = m_c.nKvHeads * hs,
                  kvMul = m_c.nHeads / m_c.nKvHeads;
        std::vector<std::vector<VectorD>> keys(m_c.nLayers), values(m_c.nLayers);
        MatrixD logits(tokens.size(), m_c.vocabSize);
        for (size_t pos = 0; pos < tokens.size(); ++pos) {
            VectorD x = m_w.tokenEmbedding.row(tokens[pos]).transpose().cast<double>();
            for (int l = 0; l < m_c.nLayers; ++l) {
                const BlockWeights& b = m_w.blocks[l];
                VectorD xb = rmsnorm(x, b.norm1.weight);
                VectorD q = b.q.weight.cast<double>() * xb, k = b.k.weight.cast<double>() * xb;
                const VectorD v = b.v.weight.cast<double>() * xb;
                for (int i = 0; i < d; i += 2) {  // RoPE on pairs (i, i+1)
                    const int headDim = i % hs;
                    const double freq = 1.0 / std::pow(10000.0, double(headDim) / hs);
                    const double c = std::cos(pos * freq), s = std::sin(pos * freq);
                    for (VectorD* vec : {&q, &k}) {
                        if (vec == &k && i >= kvDim) continue;
                        const double v0 = (*vec)(i), v1 = (*vec)(i + 1);
                        (*vec)(i) = v0 * c - v1 * s;
                        (*vec)(i + 1) = v0 * s + v1 * c;
                    }
                }
                keys[l].push_back(k);
                values[l].push_back(v);
                xb.setZero();
                for (int h = 0; h < m_c.nHeads; ++h) {
                    const int kvh = h / kvMul;
                    std::vector<double> att(pos + 1);
                    double maxScore = -1e300;
                    for (size_t t = 0; t <= pos; ++t) {
                        att[t] = q.segment(h * hs, hs).dot(keys[l][t].segment(kvh * hs, hs)) /
                                 std::sqrt(double(hs));
                        maxScore = std::max(maxScore, att[t]);
                    }
                    double sum = 0;
                    for (double& a : att) sum += (a = std::exp(a - maxScore));
                    for (size_t t = 0; t <= pos; ++t)
                        xb.segment(h * hs, hs) += att[t] / sum * values[l][t].segment(kvh * hs, hs);
                }
                x += b.o.weight.cast<double>() * xb;
                xb = rmsnorm(x, b.norm2.weight);
                VectorD hb = b.gate.weight.cast<double>() * xb;
                const VectorD hb2 = b.up.weight.cast<double>() * xb;
                for (Eigen::Index i = 0; i < hb.size(); ++i)
                    hb(i) = hb(i) / (1.0 + std::exp(-hb(i))) * hb2(i);
                x += b.down.weight.cast<double>() * hb;
            }
            x = rmsnorm(x, m_w.finalNorm.weight);
            logits.row(pos) = (m_w.unembedding().cast<double>() * x).transpose();
        }
        return logits;
    }

private:
    static VectorD rmsnorm(const VectorD& x, const Vector& w) {
        const double ss = x.squaredNorm() / double(x.size()) + 1e-5;
        return x.cwiseProduct(w.cast<double>()) / std::sqrt(ss);
    }
    const ModelConfig& m_c;
    const Weights& m_w;
};

// The weights of a legacy llama2.c checkpoint, read here with no permutation.
struct RawCheckpoint {
    ModelConfig config;
    Weights weights;
};

RawCheckpoint readRaw(const fs::path& file) {
    const std::string data = test::readFile(file);
    int32_t h[7];
    std::memcpy(h, data.data(), 28);
    RawCheckpoint r;
    ModelConfig& c = r.config;
    c.architecture = Architecture::Llama;
    c.dModel = h[0], c.dFf = h[1], c.nLayers = h[2], c.nHeads = h[3], c.nKvHeads = h[4];
    c.vocabSize = std::abs(h[5]), c.nCtx = h[6], c.tieEmbeddings = h[5] > 0;
    c.normEps = 1e-5f, c.activation = Activation::Silu;
    r.weights = zeroWeights<float>(c);
    size_t pos = 28;
    const auto take = [&](auto& t) {
        std::memcpy(t.data(), data.data() + pos, size_t(t.size()) * 4);
        pos += size_t(t.size()) * 4;
    };
    Weights& w = r.weights;
    take(w.tokenEmbedding);
    for (auto& b : w.blocks) take(b.norm1.weight);
    for (auto& b : w.blocks) take(b.q.weight);
    for (auto& b : w.blocks) take(b.k.weight);
    for (auto& b : w.blocks) take(b.v.weight);
    for (auto& b : w.blocks) take(b.o.weight);
    for (auto& b : w.blocks) take(b.norm2.weight);
    for (auto& b : w.blocks) take(b.gate.weight);
    for (auto& b : w.blocks) take(b.down.weight);
    for (auto& b : w.blocks) take(b.up.weight);
    take(w.finalNorm.weight);
    pos += size_t(c.nCtx) * c.dHead() * 4;
    if (!c.tieEmbeddings) take(w.lmHead);
    EXPECT_EQ(pos, data.size());
    return r;
}

// Writes `m`'s weights as a legacy llama2.c checkpoint, taking q and k as already in the
// interleaved layout.
void writeLlama2c(const Model& m, const fs::path& file) {
    const ModelConfig& c = m.config;
    const Weights& w = m.weights;
    std::string out;
    const int32_t h[7] = {c.dModel, c.dFf,      c.nLayers,
                          c.nHeads, c.nKvHeads, c.tieEmbeddings ? c.vocabSize : -c.vocabSize,
                          c.nCtx};
    out.append(reinterpret_cast<const char*>(h), 28);
    const auto put = [&](const auto& t) {
        out.append(reinterpret_cast<const char*>(t.data()), size_t(t.size()) * 4);
    };
    put(w.tokenEmbedding);
    for (const auto& b : w.blocks) put(b.norm1.weight);
    for (const auto& b : w.blocks) put(b.q.weight);
    for (const auto& b : w.blocks) put(b.k.weight);
    for (const auto& b : w.blocks) put(b.v.weight);
    for (const auto& b : w.blocks) put(b.o.weight);
    for (const auto& b : w.blocks) put(b.norm2.weight);
    for (const auto& b : w.blocks) put(b.gate.weight);
    for (const auto& b : w.blocks) put(b.down.weight);
    for (const auto& b : w.blocks) put(b.up.weight);
    put(w.finalNorm.weight);
    out.append(size_t(c.nCtx) * c.dHead() * 4, '\0');  // freq_cis_real, freq_cis_imag
    if (!c.tieEmbeddings) put(w.lmHead);
    test::writeText(file, out);
}

double maxAbsDiff(const Matrix& a, const MatrixD& b) {
    return (a.cast<double>() - b).cwiseAbs().maxCoeff();
}

class Llama2cTiny : public testing::TestWithParam<bool> {};

TEST_P(Llama2cTiny, LogitsEqualRunC) {
    const bool tied = GetParam();
    const Model raw = makeTinyModel(Architecture::Llama, 11,
                                    {.nKvHeads = 2, .tieEmbeddings = tied, .sentencePiece = true});
    TempDir dir;
    writeLlama2c(raw, dir / "model.bin");
    const ImportedModel imported = importLlama2c(dir / "model.bin");
    const Model& m = imported.model;
    EXPECT_EQ(m.config.tieEmbeddings, tied);
    EXPECT_EQ(m.config.nKvHeads, 2);
    EXPECT_EQ(m.config.normEps, 1e-5f);
    ASSERT_EQ(imported.warnings.size(), 1u);  // no tokenizer: placeholders
    // v, o and the MLP are taken as they are; q and k are permuted (row 2i+p of a head goes
    // to p*dHead/2 + i): head 1 (rows 4..7, dHead 4) row 4+1 (i=0, p=1) lands on 4+2.
    EXPECT_EQ(m.weights.blocks[0].v.weight, raw.weights.blocks[0].v.weight);
    EXPECT_EQ(m.weights.blocks[1].q.weight.row(6), raw.weights.blocks[1].q.weight.row(5));
    EXPECT_EQ(m.weights.blocks[1].k.weight.row(1), raw.weights.blocks[1].k.weight.row(2));

    const std::vector<int> tokens = {1, 265, 5, 263, 100, 264, 7, 3, 42, 262, 9, 1};
    const MatrixD want = Llama2cReference(raw.config, raw.weights).run(tokens);
    const Matrix got = Transformer(m).run(tokens, {}, LogitsMode::All).logits;
    EXPECT_LT(maxAbsDiff(got, want), 1e-4);
    // Without the permutation the logits would be wrong: the test can tell.
    Model unpermuted = m;
    unpermuted.weights = raw.weights;
    EXPECT_GT(maxAbsDiff(Transformer(unpermuted).run(tokens, {}, LogitsMode::All).logits, want),
              1e-3);
}

INSTANTIATE_TEST_SUITE_P(TiedAndUntied, Llama2cTiny, testing::Bool());

TEST(Llama2c, BadFilesGiveOneSentence) {
    const Model raw =
        makeTinyModel(Architecture::Llama, 2, {.tieEmbeddings = true, .sentencePiece = true});
    TempDir dir;
    writeLlama2c(raw, dir / "model.bin");
    const auto errorOf = [](const fs::path& file) -> std::string {
        try {
            importLlama2c(file);
        } catch (const ModelFormatError& e) {
            EXPECT_EQ(e.file(), file);
            return e.what();
        }
        return "accepted";
    };
    const std::string bytes = test::readFile(dir / "model.bin");
    test::writeText(dir / "short.bin", bytes.substr(0, bytes.size() - 4));
    EXPECT_NE(errorOf(dir / "short.bin").find("but its header (dim 16"), std::string::npos)
        << errorOf(dir / "short.bin");
    // A negative vocab_size says an untied classifier follows; the file lacks it.
    std::string untied = bytes;
    const int32_t negative = -raw.config.vocabSize;
    std::memcpy(untied.data() + 20, &negative, 4);
    test::writeText(dir / "untied.bin", untied);
    EXPECT_NE(errorOf(dir / "untied.bin").find("needs"), std::string::npos);
    test::writeText(dir / "tiny.bin", "abc");
    EXPECT_NE(errorOf(dir / "tiny.bin").find("too short"), std::string::npos);
    std::string garbage = bytes;
    const int32_t zero = 0;
    std::memcpy(garbage.data() + 12, &zero, 4);  // n_heads 0
    test::writeText(dir / "garbage.bin", garbage);
    EXPECT_NE(errorOf(dir / "garbage.bin").find("not a llama2.c model"), std::string::npos);
    std::string versioned = bytes;
    const uint32_t magic = 0x616b3432, version = 2;
    std::memcpy(versioned.data(), &magic, 4);
    std::memcpy(versioned.data() + 4, &version, 4);
    test::writeText(dir / "v2.bin", versioned);
    EXPECT_NE(errorOf(dir / "v2.bin").find("version 2"), std::string::npos);
    std::string withNan = bytes;
    const float nan = std::nanf("");
    std::memcpy(withNan.data() + 28 + 4 * 5, &nan, 4);  // token_embedding_table[0][5]
    test::writeText(dir / "nan.bin", withNan);
    EXPECT_NE(errorOf(dir / "nan.bin").find("token_embedding_table holds NaN at [5]"),
              std::string::npos)
        << errorOf(dir / "nan.bin");
}

// ---------------------------------------------------------------------------------------
// Reference data from llama2.c (skipped when ../shared/data is absent).

#define SKIP_WITHOUT(file)                                               \
    do {                                                                 \
        if (!fs::exists(test::sharedData(file)))                         \
            GTEST_SKIP() << test::sharedData(file) << " is not present"; \
    } while (0)

TEST(Llama2c, Stories260KMatchesRunC) {
    SKIP_WITHOUT("stories260K.bin");
    const fs::path file = test::sharedData("stories260K.bin");
    const ImportedModel imported = importLlama2c(file);
    const ModelConfig& c = imported.model.config;
    EXPECT_EQ(c.dModel, 64);
    EXPECT_EQ(c.nLayers, 5);
    EXPECT_EQ(c.nHeads, 8);
    EXPECT_EQ(c.nKvHeads, 4);
    EXPECT_EQ(c.vocabSize, 512);
    EXPECT_EQ(imported.model.tokenizer.vocabSize(), 512);

    // Greedy decoding from BOS, once with run.c's arithmetic and once with the imported
    // model: the same tokens, and logits equal up to float rounding.
    const RawCheckpoint raw = readRaw(file);
    const Transformer transformer(imported.model);
    GenerateOptions options;
    options.maxNewTokens = 40;
    options.stopAtEos = false;
    const Generation g = generate(transformer, {1}, options);
    std::vector<int> tokens = {1};
    tokens.insert(tokens.end(), g.newIds.begin(), g.newIds.end());
    const MatrixD want = Llama2cReference(raw.config, raw.weights).run(tokens);
    for (size_t i = 1; i < tokens.size(); ++i) {
        Eigen::Index best;
        want.row(i - 1).maxCoeff(&best);
        EXPECT_EQ(tokens[i], int(best)) << "step " << i;
    }
    const Matrix got = transformer.run(tokens, {}, LogitsMode::All).logits;
    EXPECT_LT(maxAbsDiff(got, want), 1e-3);
    // A trained model: its greedy choices are confident (mean top-1 probability well above
    // that of a random model, which is about 1/512), and it does not get stuck repeating one id.
    double meanTop = 0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) meanTop += softmax(got.row(i)).maxCoeff();
    meanTop /= double(tokens.size() - 1);
    EXPECT_GT(meanTop, 0.3) << meanTop;
    std::set<int> distinct(g.newIds.begin(), g.newIds.end());
    EXPECT_GT(distinct.size(), 10u);
}

TEST(Llama2c, TokenizerBinGivesLlama2Ids) {
    SKIP_WITHOUT("llama2c-tokenizer.bin");
    SKIP_WITHOUT("llama2-spm-vectors.json");
    const Tokenizer tok(readLlama2cTokenizer(test::sharedData("llama2c-tokenizer.bin"), 32000));
    EXPECT_EQ(tok.spec().vocab[1], "<s>");
    EXPECT_EQ(tok.spec().vocab[2], "</s>");
    EXPECT_EQ(tok.pieceId("\xE2\x96\x81the"), 278);  // Llama 2's "▁the"
    const auto vectors =
        nlohmann::json::parse(test::readFile(test::sharedData("llama2-spm-vectors.json")));
    ASSERT_EQ(vectors.size(), 5u);
    for (const auto& v : vectors)
        EXPECT_EQ(tok.encodeIds(v.at("text").get<std::string>()),
                  v.at("ids").get<std::vector<int>>());
}

TEST(Llama2c, TokenizerOfAnotherSizeIsRefused) {
    SKIP_WITHOUT("stories260K.bin");
    SKIP_WITHOUT("llama2c-tokenizer.bin");
    try {
        importLlama2c(test::sharedData("stories260K.bin"),
                      test::sharedData("llama2c-tokenizer.bin"));
        FAIL() << "a 32000-piece tokenizer was accepted for a 512-token model";
    } catch (const ModelFormatError& e) {
        EXPECT_EQ(e.file(), test::sharedData("llama2c-tokenizer.bin"));
        EXPECT_NE(
            std::string(e.what()).find("holds 32000 pieces, but the model has a vocabulary of 512"),
            std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace mwb
