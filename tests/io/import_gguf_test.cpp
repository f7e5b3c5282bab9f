// GGUF import: the fixtures of tests/fixtures/gguf (written by make_gguf_fixtures.py,
// which dequantises in numpy independently of this program and writes each architecture
// the way llama.cpp's converter does) against their Hugging Face twins, tensor by tensor
// and by their logits, the vocabularies against the script's reference encodings, hand-built files for
// qwen2 and the llama row order, and damaged files, each refused with one sentence.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "io/gguf.h"
#include "io/gguf_quants.h"
#include "io/import_gguf.h"
#include "io/import_hf.h"
#include "model/transformer.h"
#include "tensor/errors.h"
#include "tensor/float16.h"
#include "tests/support/temp_dir.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const fs::path kFixtures = fs::path(MWB_SOURCE_DIR) / "tests/fixtures/gguf";

std::string readBytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const fs::path& file, const std::string& bytes) {
    std::ofstream out(file, std::ios::binary);
    out << bytes;
}

// Every tensor of a model by path, as floats.
std::map<std::string, Matrix> tensorsOf(const Model& m) {
    std::map<std::string, Matrix> out;
    forEachTensor(m.config, m.weights, [&](const std::string& path, const auto& t) {
        out[path] = Eigen::Map<const Matrix>(t.data(), t.rows(), t.size() / std::max<long>(1, t.rows()));
    });
    return out;
}

// Equal configs and tensors; tensors whose path contains "norm" may differ by
// `normTolerance` (Gemma's norms are stored as w + 1, and (w + 1) - 1 rounds).
void expectSameModel(const Model& gguf, const Model& hf, float normTolerance = 0.0f) {
    const ModelConfig &a = gguf.config, &b = hf.config;
    EXPECT_EQ(a.architecture, b.architecture);
    EXPECT_EQ(a.nLayers, b.nLayers);
    EXPECT_EQ(a.nHeads, b.nHeads);
    EXPECT_EQ(a.nKvHeads, b.nKvHeads);
    EXPECT_EQ(a.dModel, b.dModel);
    EXPECT_EQ(a.dFf, b.dFf);
    EXPECT_EQ(a.vocabSize, b.vocabSize);
    EXPECT_EQ(a.nCtx, b.nCtx);
    EXPECT_FLOAT_EQ(a.normEps, b.normEps);
    EXPECT_EQ(a.ropeTheta, b.ropeTheta);
    EXPECT_EQ(a.activation, b.activation);
    EXPECT_EQ(a.tieEmbeddings, b.tieEmbeddings);
    EXPECT_EQ(a.dHead(), b.dHead());
    EXPECT_EQ(a.rotaryDims(), b.rotaryDims());
    EXPECT_EQ(a.parallelResidual, b.parallelResidual);
    EXPECT_EQ(a.slidingWindow, b.slidingWindow);
    EXPECT_EQ(a.slidingLayers, b.slidingLayers);
    EXPECT_EQ(a.attnSoftcap, b.attnSoftcap);
    EXPECT_EQ(a.finalSoftcap, b.finalSoftcap);
    EXPECT_EQ(a.attentionScale(), b.attentionScale());
    const auto x = tensorsOf(gguf), y = tensorsOf(hf);
    ASSERT_EQ(x.size(), y.size());
    for (const auto& [path, t] : x) {
        ASSERT_TRUE(y.count(path)) << path;
        ASSERT_EQ(t.rows(), y.at(path).rows()) << path;
        ASSERT_EQ(t.cols(), y.at(path).cols()) << path;
        const float largest = (t - y.at(path)).cwiseAbs().maxCoeff();
        if (normTolerance > 0 && path.find("norm") != std::string::npos)
            EXPECT_LE(largest, normTolerance) << path;
        else
            EXPECT_EQ(t, y.at(path)) << path << ": largest difference " << largest;
    }
}

// The fixture `stem`.gguf against its twin `stem`_hf: same config and tensors, and the same
// last-position logits for a sequence longer than the fixtures' sliding windows.
ImportedModel expectTwins(const std::string& stem, float normTolerance = 0.0f) {
    ImportedModel gguf = importGguf(kFixtures / (stem + ".gguf"));
    const ImportedModel hf = importHf(kFixtures / (stem + "_hf"));
    expectSameModel(gguf.model, hf.model, normTolerance);
    const std::vector<int> ids{1, 5, 9, 20, 3, 7, 12, 30, 41, 18};
    const RowVector a = Transformer(gguf.model).run(ids).lastLogits();
    const RowVector b = Transformer(hf.model).run(ids).lastLogits();
    EXPECT_EQ(a.size(), b.size());
    if (normTolerance > 0)
        EXPECT_LE((a - b).cwiseAbs().maxCoeff(), 1e-5f);
    else
        EXPECT_EQ(a, b);
    EXPECT_GT(a.cwiseAbs().maxCoeff(), 0.0f);
    return gguf;
}

void expectReferenceEncodings(const std::string& file, const Tokenizer& tok) {
    const nlohmann::json expected = nlohmann::json::parse(readBytes(kFixtures / "expected_tokens.json"));
    ASSERT_TRUE(expected.contains(file));
    for (const auto& c : expected[file]) {
        const std::string text = c["text"];
        EXPECT_EQ(tok.encodeIds(text), c["ids"].get<std::vector<int>>()) << "text: " << text;
    }
}

TEST(ImportGguf, LlamaMatchesItsHuggingFaceTwin) {
    const ImportedModel gguf = importGguf(kFixtures / "tiny_llama.gguf");
    const ImportedModel hf = importHf(kFixtures / "tiny_llama_hf");
    EXPECT_TRUE(gguf.warnings.empty()) << gguf.warnings.front();
    EXPECT_EQ(gguf.model.config.name, "tiny-llama-gguf");
    EXPECT_EQ(gguf.model.config.nKvHeads, 2);
    EXPECT_EQ(gguf.model.config.ropeTheta, 500000.0f);
    EXPECT_TRUE(gguf.model.config.tieEmbeddings);
    expectSameModel(gguf.model, hf.model);
    const TokenizerSpec& spec = gguf.model.tokenizer.spec();
    EXPECT_EQ(spec.kind, TokenizerKind::SentencePieceBpe);
    EXPECT_EQ(spec.bosId, 1);
    EXPECT_EQ(spec.eosId, 2);
    EXPECT_TRUE(spec.addBos);
    expectReferenceEncodings("tiny_llama.gguf", gguf.model.tokenizer);
}

TEST(ImportGguf, Gpt2MatchesItsHuggingFaceTwin) {
    const ImportedModel gguf = importGguf(kFixtures / "tiny_gpt2.gguf");
    const ImportedModel hf = importHf(kFixtures / "tiny_gpt2_hf");
    EXPECT_TRUE(gguf.warnings.empty()) << gguf.warnings.front();
    // output.weight repeats token_embd, so the unembedding is tied again.
    EXPECT_TRUE(gguf.model.config.tieEmbeddings);
    expectSameModel(gguf.model, hf.model);
    EXPECT_EQ(gguf.model.tokenizer.spec().kind, TokenizerKind::ByteBpe);
    EXPECT_FALSE(gguf.model.tokenizer.spec().addBos);
    expectReferenceEncodings("tiny_gpt2.gguf", gguf.model.tokenizer);
}

TEST(ImportGguf, Qwen3MatchesItsHuggingFaceTwin) {
    const ImportedModel m = expectTwins("tiny_qwen3");
    const ModelConfig& c = m.model.config;
    EXPECT_EQ(c.architecture, Architecture::Qwen3);
    EXPECT_EQ(c.dHead(), 8);  // attention.key_length, not embedding_length / head_count
    EXPECT_EQ(c.qkNorm(), QkNorm::PerHead);
    EXPECT_FALSE(c.tieEmbeddings);
}

TEST(ImportGguf, Gemma2MatchesItsHuggingFaceTwin) {
    const ImportedModel m = expectTwins("tiny_gemma2", 1e-6f);
    const ModelConfig& c = m.model.config;
    EXPECT_EQ(c.architecture, Architecture::Gemma2);
    EXPECT_EQ(c.dHead(), 8);
    EXPECT_EQ(c.queryPreAttnScalar, 8.0f);
    EXPECT_EQ(c.slidingWindow, 3);
    EXPECT_TRUE(c.slidingAt(0));
    EXPECT_FALSE(c.slidingAt(1));
    EXPECT_EQ(c.attnSoftcap, 2.0f);
    EXPECT_EQ(c.finalSoftcap, 1.5f);
    EXPECT_TRUE(c.tieEmbeddings);
    // The file holds w + 1 (near 1); the model holds w (near 0).
    const GgufFile g(kFixtures / "tiny_gemma2.gguf");
    std::vector<float> stored(16);
    g.read(*g.findTensor("blk.1.post_ffw_norm.weight"), stored);
    const Vector& w = m.model.weights.blocks[1].postMlpNorm.weight;
    for (int i = 0; i < 16; ++i) EXPECT_NEAR(w(i), stored[size_t(i)] - 1.0f, 1e-7f) << i;
}

TEST(ImportGguf, Phi3MatchesItsHuggingFaceTwin) {
    const ImportedModel m = expectTwins("tiny_phi3");
    const ModelConfig& c = m.model.config;
    EXPECT_EQ(c.architecture, Architecture::Phi3);
    EXPECT_EQ(c.rotaryDims(), 2);
    EXPECT_EQ(c.slidingWindow, 4);
    EXPECT_EQ(c.slidingLayers, SlidingLayers::All);
    // The float16 path splits the fused tensors the same way.
    const ImportedModel half = importGguf(kFixtures / "tiny_phi3.gguf", {}, WeightPrecision::Float16);
    const BlockWeights &f = m.model.weights.blocks[1], &h = half.model.weights.blocks[1];
    EXPECT_EQ(h.gate.weightHalf.bits, HalfMatrix::fromFloat(f.gate.weight).bits);
    EXPECT_EQ(h.up.weightHalf.bits, HalfMatrix::fromFloat(f.up.weight).bits);
    EXPECT_EQ(h.v.weightHalf.bits, HalfMatrix::fromFloat(f.v.weight).bits);
}

TEST(ImportGguf, Olmo2MatchesItsHuggingFaceTwin) {
    const ImportedModel m = expectTwins("tiny_olmo2");
    EXPECT_EQ(m.model.config.architecture, Architecture::Olmo2);
    EXPECT_EQ(m.model.config.qkNorm(), QkNorm::Whole);
    EXPECT_FALSE(m.model.config.preNorms());
}

TEST(ImportGguf, GptNeoXMatchesItsHuggingFaceTwin) {
    const ImportedModel m = expectTwins("tiny_gptneox");
    const ModelConfig& c = m.model.config;
    EXPECT_EQ(c.architecture, Architecture::GptNeoX);
    EXPECT_TRUE(c.parallelResidual);
    EXPECT_EQ(c.rotaryDims(), 2);
    EXPECT_EQ(c.activation, Activation::Gelu);
    EXPECT_EQ(c.ropeTheta, 10000.0f);
}

TEST(ImportGguf, Float16KeepsHalfWeights) {
    const ImportedModel full = importGguf(kFixtures / "tiny_llama.gguf");
    const ImportedModel half = importGguf(kFixtures / "tiny_llama.gguf", {}, WeightPrecision::Float16);
    const BlockWeights &f = full.model.weights.blocks[1], &h = half.model.weights.blocks[1];
    ASSERT_TRUE(h.q.isHalf());
    ASSERT_TRUE(h.down.isHalf());  // the model is written to a float16 file next (import_gguf.h)
    EXPECT_EQ(h.q.weightHalf.bits, HalfMatrix::fromFloat(f.q.weight).bits);
    EXPECT_EQ(h.down.weightHalf.bits, HalfMatrix::fromFloat(f.down.weight).bits);
}

TEST(ImportGguf, ReaderSeesMetadataAndTensorInfos) {
    const GgufFile g(kFixtures / "tiny_gpt2.gguf");
    EXPECT_EQ(g.version(), 3u);
    EXPECT_EQ(g.alignment(), 64u);
    EXPECT_EQ(g.dataOffset() % 64, 0u);
    EXPECT_EQ(g.string("general.architecture"), "gpt2");
    const GgufTensorInfo* qkv = g.findTensor("blk.0.attn_qkv.weight");
    ASSERT_NE(qkv, nullptr);
    EXPECT_EQ(qkv->dims, (std::vector<int64_t>{32, 96}));
    EXPECT_EQ(qkv->type, uint32_t(GgmlType::Q4_0));
    EXPECT_EQ(qkv->bytes, 96u * 18);

    const GgufFile l(kFixtures / "tiny_llama.gguf");
    const GgufValue* nested = l.find("mwb.fixture.nested");
    ASSERT_NE(nested, nullptr);
    ASSERT_EQ(nested->arrays.size(), 2u);
    EXPECT_EQ(nested->arrays[0].numberAt(2), 3.0);
    EXPECT_EQ(nested->arrays[1].numberAt(0), -4.0);
    EXPECT_EQ(l.strings("general.tags"), (std::vector<std::string>{"test", "fixture"}));
}

// Import fails with one InvalidInput sentence naming the file and `mention`.
void expectRefused(const fs::path& file, const std::string& mention) {
    try {
        importGguf(file);
        FAIL() << file << " was accepted";
    } catch (const InvalidInput& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
        EXPECT_NE(msg.find(mention), std::string::npos) << "expected '" << mention << "' in: " << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
}

// ------------------------------------------------------------------ hand-built GGUF files

// Writes GGUF files field by field, so that tests can build models and damage them.
class GgufBuilder {
public:
    template <typename T>
    static std::string pod(T v) {
        std::string s(sizeof v, '\0');
        std::memcpy(s.data(), &v, sizeof v);
        return s;
    }
    static std::string str(const std::string& s) { return pod<uint64_t>(s.size()) + s; }

    void raw(const std::string& key, GgufType type, const std::string& value) {
        m_kv += str(key) + pod(uint32_t(type)) + value;
        ++m_nKv;
    }
    void u32(const std::string& key, uint32_t v) { raw(key, GgufType::U32, pod(v)); }
    void f32(const std::string& key, float v) { raw(key, GgufType::F32, pod(v)); }
    void string(const std::string& key, const std::string& v) { raw(key, GgufType::String, str(v)); }
    void strings(const std::string& key, const std::vector<std::string>& v) {
        std::string s = pod(uint32_t(GgufType::String)) + pod<uint64_t>(v.size());
        for (const auto& x : v) s += str(x);
        raw(key, GgufType::Array, s);
    }
    void floats(const std::string& key, const std::vector<float>& v) {
        std::string s = pod(uint32_t(GgufType::F32)) + pod<uint64_t>(v.size());
        for (float x : v) s += pod(x);
        raw(key, GgufType::Array, s);
    }
    // A float32 tensor [rows, cols] (dims {cols, rows}; a vector when rows == 0) whose
    // values come from `value(row, col)`.
    template <typename Fn>
    void tensor(const std::string& name, int64_t rows, int64_t cols, Fn value) {
        std::string data;
        for (int64_t r = 0; r < std::max<int64_t>(rows, 1); ++r)
            for (int64_t c = 0; c < cols; ++c) data += pod(float(value(r, c)));
        std::vector<uint64_t> dims{uint64_t(cols)};
        if (rows > 0) dims.push_back(uint64_t(rows));
        rawTensor(name, dims, uint32_t(GgmlType::F32), data);
    }
    void rawTensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                   const std::string& data) {
        m_infos.push_back({name, dims, type, data});
    }
    uint64_t* lastOffset() { return &m_infos.back().offsetOverride; }

    std::string build(uint64_t alignment = 32) const {
        std::string head = "GGUF" + pod<uint32_t>(3) + pod<uint64_t>(m_infos.size()) + pod<uint64_t>(m_nKv) + m_kv;
        std::string data;
        for (const Info& t : m_infos) {
            head += str(t.name) + pod(uint32_t(t.dims.size()));
            for (uint64_t d : t.dims) head += pod(d);
            head += pod(t.type) + pod<uint64_t>(t.offsetOverride ? t.offsetOverride : data.size());
            data += t.data;
            data.append((alignment - data.size() % alignment) % alignment, '\0');
        }
        head.append((alignment - head.size() % alignment) % alignment, '\0');
        return head + data;
    }

private:
    struct Info {
        std::string name;
        std::vector<uint64_t> dims;
        uint32_t type;
        std::string data;
        uint64_t offsetOverride = 0;
    };
    std::string m_kv;
    uint64_t m_nKv = 0;
    std::vector<Info> m_infos;
};

// A one-layer model of `arch` (llama or qwen2): d_model 8, 2 heads of 4, 1 KV head, FFN
// 16, a five-piece SentencePiece vocabulary; tensor values encode their indices.
GgufBuilder tinyModel(const std::string& arch, float theta = 1000000.0f, bool biases = true) {
    GgufBuilder b;
    b.string("general.architecture", arch);
    b.u32(arch + ".context_length", 32);
    b.u32(arch + ".embedding_length", 8);
    b.u32(arch + ".block_count", 1);
    b.u32(arch + ".feed_forward_length", 16);
    b.u32(arch + ".attention.head_count", 2);
    b.u32(arch + ".attention.head_count_kv", 1);
    b.f32(arch + ".attention.layer_norm_rms_epsilon", 1e-6f);
    b.f32(arch + ".rope.freq_base", theta);
    b.string("tokenizer.ggml.model", "llama");
    b.strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a"});
    b.floats("tokenizer.ggml.scores", {0, 0, 0, -1, -2});
    b.u32("tokenizer.ggml.bos_token_id", 1);
    b.u32("tokenizer.ggml.eos_token_id", 2);
    const auto ramp = [](int64_t r, int64_t c) { return 0.01 * double(r) + 0.001 * double(c); };
    const auto ones = [](int64_t, int64_t) { return 1.0; };
    b.tensor("token_embd.weight", 5, 8, ramp);
    b.tensor("blk.0.attn_norm.weight", 0, 8, ones);
    b.tensor("blk.0.attn_q.weight", 8, 8, ramp);
    b.tensor("blk.0.attn_k.weight", 4, 8, ramp);
    b.tensor("blk.0.attn_v.weight", 4, 8, ramp);
    if (arch == "qwen2" && biases) {
        b.tensor("blk.0.attn_q.bias", 0, 8, [](int64_t, int64_t c) { return double(c); });
        b.tensor("blk.0.attn_k.bias", 0, 4, [](int64_t, int64_t c) { return 10.0 + double(c); });
        b.tensor("blk.0.attn_v.bias", 0, 4, [](int64_t, int64_t c) { return 20.0 + double(c); });
    }
    b.tensor("blk.0.attn_output.weight", 8, 8, ramp);
    b.tensor("blk.0.ffn_norm.weight", 0, 8, ones);
    b.tensor("blk.0.ffn_gate.weight", 16, 8, ramp);
    b.tensor("blk.0.ffn_up.weight", 16, 8, ramp);
    b.tensor("blk.0.ffn_down.weight", 8, 16, ramp);
    b.tensor("output_norm.weight", 0, 8, ones);
    return b;
}

TEST(ImportGguf, LlamaRowsGoBackToRotateHalfOrder) {
    TempDir dir;
    writeBytes(dir / "m.gguf", tinyModel("llama").build());
    const ImportedModel m = importGguf(dir / "m.gguf");
    const BlockWeights& b = m.model.weights.blocks[0];
    // GGUF row 2i + p of a head of 4 is Hugging Face row 2p + i: rows 0, 2, 1, 3.
    const int fromGguf[] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int r = 0; r < 8; ++r) EXPECT_FLOAT_EQ(b.q.weight(r, 0), 0.01f * float(fromGguf[r])) << r;
    for (int r = 0; r < 4; ++r) EXPECT_FLOAT_EQ(b.k.weight(r, 0), 0.01f * float(fromGguf[r])) << r;
    EXPECT_FLOAT_EQ(b.v.weight(1, 0), 0.01f);  // v is not permuted
    EXPECT_TRUE(m.model.config.tieEmbeddings);
    EXPECT_FLOAT_EQ(m.model.config.normEps, 1e-6f);
    EXPECT_EQ(m.model.config.ropeTheta, 1000000.0f);
    EXPECT_FALSE(m.model.config.qkvBias);
}

TEST(ImportGguf, Qwen2KeepsRowOrderAndReadsBiases) {
    TempDir dir;
    writeBytes(dir / "m.gguf", tinyModel("qwen2").build());
    const ImportedModel m = importGguf(dir / "m.gguf");
    const BlockWeights& b = m.model.weights.blocks[0];
    EXPECT_TRUE(m.model.config.qkvBias);
    for (int r = 0; r < 8; ++r) EXPECT_FLOAT_EQ(b.q.weight(r, 0), 0.01f * float(r)) << r;
    ASSERT_EQ(b.q.bias.size(), 8);
    EXPECT_EQ(b.q.bias(3), 3.0f);
    EXPECT_EQ(b.k.bias(2), 12.0f);
    EXPECT_EQ(b.v.bias(1), 21.0f);
}

TEST(ImportGguf, LinearRopeScalingIsRead) {
    TempDir dir;
    GgufBuilder b = tinyModel("llama");
    b.string("llama.rope.scaling.type", "linear");
    b.f32("llama.rope.scaling.factor", 4.0f);
    writeBytes(dir / "m.gguf", b.build());
    const ModelConfig c = importGguf(dir / "m.gguf").model.config;
    EXPECT_EQ(c.ropeScaling.type, RopeScalingType::Linear);
    EXPECT_EQ(c.ropeScaling.factor, 4.0);
}

TEST(ImportGguf, Llama3RopeFreqsBecomeLlama3Scaling) {
    // The divisors convert_hf_to_gguf.py writes for Llama 3 scaling (factor 8, low 1,
    // high 4, original context 8192) with head_dim 4 and theta 1e8: pair 0 has wavelength
    // 2 pi < 8192 / 4 (kept, divisor 1), pair 1 wavelength 2 pi * 1e4 > 8192 (divisor 8).
    TempDir dir;
    GgufBuilder b = tinyModel("llama", 1e8f);
    b.tensor("rope_freqs.weight", 0, 2, [&](int64_t, int64_t i) { return i == 0 ? 1.0 : 8.0; });
    writeBytes(dir / "m.gguf", b.build());
    const RopeScaling s = importGguf(dir / "m.gguf").model.config.ropeScaling;
    EXPECT_EQ(s.type, RopeScalingType::Llama3);
    EXPECT_EQ(s.factor, 8.0);
    EXPECT_EQ(s.originalContext, 8192);
    // Divisors that fit no scaling are refused by name.
    GgufBuilder bad = tinyModel("llama", 1e8f);
    bad.tensor("rope_freqs.weight", 0, 2, [&](int64_t, int64_t i) { return i == 0 ? 3.0 : 1.0; });
    writeBytes(dir / "bad.gguf", bad.build());
    expectRefused(dir / "bad.gguf", "rope_freqs.weight");
}

TEST(ImportGguf, KQuantTensorsDecodeThroughTheReader) {
    // A [2, 256] tensor of each k-quant type, two blocks with d = 1 and every other byte
    // zero, read back through the file's second row. All-zero quants and scales give 0,
    // except Q3_K, whose zero scales mean 0 - 32 and whose clear hmask bits subtract 4:
    // -32 * -4 = 128.
    struct Case {
        GgmlType type;
        size_t dAt;    // byte offset of d in the block
        float value0;  // decoded value 0
    };
    const Case cases[] = {{GgmlType::Q2_K, 80, 0.0f}, {GgmlType::Q3_K, 108, 128.0f},
                          {GgmlType::Q4_K, 0, 0.0f}, {GgmlType::Q5_K, 0, 0.0f},
                          {GgmlType::Q6_K, 208, 0.0f}};
    TempDir dir;
    for (const Case& c : cases) {
        const GgmlTypeInfo info = *ggmlTypeInfo(uint32_t(c.type));
        std::string block(size_t(info.blockBytes), '\0');
        block[c.dAt + 1] = 0x3C;  // d = 1 (half 0x3C00)
        GgufBuilder b;
        b.rawTensor("t", {256, 2}, uint32_t(c.type), block + block);
        writeBytes(dir / "k.gguf", b.build());
        const GgufFile g(dir / "k.gguf");
        std::vector<float> row(256);
        g.readRows(*g.findTensor("t"), 1, 1, row);
        std::vector<float> direct(256);
        dequantizeBlocks(c.type, reinterpret_cast<const uint8_t*>(block.data()), 1, direct.data());
        EXPECT_EQ(row, direct) << info.name;
        EXPECT_EQ(row[0], c.value0) << info.name;
    }
}

// ------------------------------------------------------------------------- damaged files

TEST(ImportGguf, TruncatedFilesAreRefused) {
    TempDir dir;
    const std::string bytes = readBytes(kFixtures / "tiny_llama.gguf");
    ASSERT_GT(bytes.size(), 20000u);
    for (const size_t cut : {size_t(0), size_t(3), size_t(10), size_t(30), size_t(200), size_t(3000),
                             size_t(12000), bytes.size() / 2, bytes.size() - 100, bytes.size() - 1}) {
        const fs::path file = dir / ("cut_" + std::to_string(cut) + ".gguf");
        writeBytes(file, bytes.substr(0, cut));
        expectRefused(file, "");
    }
}

TEST(ImportGguf, LyingTensorOffsetIsRefused) {
    TempDir dir;
    GgufBuilder b = tinyModel("llama");
    *b.lastOffset() = uint64_t(1) << 40;
    writeBytes(dir / "m.gguf", b.build());
    expectRefused(dir / "m.gguf", "output_norm.weight");
    GgufBuilder m = tinyModel("llama");
    *m.lastOffset() = 8;  // not a multiple of the alignment
    writeBytes(dir / "misaligned.gguf", m.build());
    expectRefused(dir / "misaligned.gguf", "alignment");
}

TEST(ImportGguf, HugeLengthsAndCountsAreRefusedBeforeAllocating) {
    TempDir dir;
    using B = GgufBuilder;
    const std::string head = "GGUF" + B::pod<uint32_t>(3) + B::pod<uint64_t>(0) + B::pod<uint64_t>(1);
    // A key whose length is 2^62 bytes.
    writeBytes(dir / "key.gguf", head + B::pod<uint64_t>(uint64_t(1) << 62) + "general.architecture");
    expectRefused(dir / "key.gguf", "string of 4611686018427387904 bytes");
    // A string value of 2^40 bytes.
    writeBytes(dir / "value.gguf", head + B::str("general.name") + B::pod(uint32_t(GgufType::String)) +
                                       B::pod<uint64_t>(uint64_t(1) << 40) + "x");
    expectRefused(dir / "value.gguf", "general.name");
    // An array of 2^60 uint32.
    writeBytes(dir / "array.gguf", head + B::str("a") + B::pod(uint32_t(GgufType::Array)) +
                                       B::pod(uint32_t(GgufType::U32)) + B::pod<uint64_t>(uint64_t(1) << 60));
    expectRefused(dir / "array.gguf", "cannot fit");
    // 2^50 keys and 2^50 tensors.
    writeBytes(dir / "keys.gguf", "GGUF" + B::pod<uint32_t>(3) + B::pod<uint64_t>(0) + B::pod<uint64_t>(uint64_t(1) << 50));
    expectRefused(dir / "keys.gguf", "metadata keys");
    writeBytes(dir / "tensors.gguf", "GGUF" + B::pod<uint32_t>(3) + B::pod<uint64_t>(uint64_t(1) << 50) + B::pod<uint64_t>(0));
    expectRefused(dir / "tensors.gguf", "tensors");
    // Arrays nested 100 deep.
    std::string nested = head + B::str("deep") + B::pod(uint32_t(GgufType::Array));
    for (int i = 0; i < 100; ++i) nested += B::pod(uint32_t(GgufType::Array)) + B::pod<uint64_t>(1);
    writeBytes(dir / "nested.gguf", nested);
    expectRefused(dir / "nested.gguf", "deep");
}

TEST(ImportGguf, BadTypesShapesAndDuplicatesAreRefused) {
    TempDir dir;
    GgufBuilder unknownValue;
    unknownValue.raw("x", GgufType(13), "");
    writeBytes(dir / "value_type.gguf", unknownValue.build());
    expectRefused(dir / "value_type.gguf", "value type 13");

    // A tensor of a type ggml does not define.
    writeBytes(dir / "unknown_type.gguf", [&] {
        GgufBuilder b = tinyModel("llama");
        b.rawTensor("rope_freqs.weight", {2}, 99, std::string(32, '\0'));
        return b.build();
    }());
    expectRefused(dir / "unknown_type.gguf", "type 99");

    GgufBuilder overflow = tinyModel("llama");
    overflow.rawTensor("huge", {uint64_t(1) << 40, uint64_t(1) << 40}, uint32_t(GgmlType::F32), "");
    writeBytes(dir / "overflow.gguf", overflow.build());
    expectRefused(dir / "overflow.gguf", "huge");

    GgufBuilder dupKey = tinyModel("llama");
    dupKey.u32("llama.block_count", 1);
    writeBytes(dir / "dup_key.gguf", dupKey.build());
    expectRefused(dir / "dup_key.gguf", "llama.block_count' appears twice");

    GgufBuilder dupTensor = tinyModel("llama");
    dupTensor.tensor("output_norm.weight", 0, 8, [](int64_t, int64_t) { return 1.0; });
    writeBytes(dir / "dup_tensor.gguf", dupTensor.build());
    expectRefused(dir / "dup_tensor.gguf", "output_norm.weight' appears twice");

    GgufBuilder align = tinyModel("llama");
    align.u32("general.alignment", 24);
    writeBytes(dir / "align.gguf", align.build());
    expectRefused(dir / "align.gguf", "general.alignment");

    GgufBuilder shape = tinyModel("llama");
    shape.tensor("output.weight", 4, 8, [](int64_t, int64_t) { return 0.0; });  // 5 rows expected
    writeBytes(dir / "shape.gguf", shape.build());
    expectRefused(dir / "shape.gguf", "output.weight' has shape [8, 4], expected [8, 5]");

    GgufBuilder nan = tinyModel("llama");
    nan.tensor("output.weight", 5, 8, [](int64_t r, int64_t) { return r == 3 ? std::nan("") : 0.0; });
    writeBytes(dir / "nan.gguf", nan.build());
    expectRefused(dir / "nan.gguf", "NaN");

    // A block count of a billion or a feed-forward width of sixteen million in a file that
    // holds a one-layer model: refused before the model is sized.
    for (const auto& [key, value] : {std::pair<std::string, uint32_t>{"llama.block_count", 1000000000u},
                                     {"llama.feed_forward_length", 16000000u}}) {
        std::string bytes = tinyModel("llama").build();
        const size_t at = bytes.find(key) + key.size() + 4;  // past the key and its type
        std::memcpy(bytes.data() + at, &value, 4);
        const fs::path file = dir / (key + ".gguf");
        writeBytes(file, bytes);
        expectRefused(file, key == "llama.block_count" ? "block_count" : "ffn_up.weight' has shape");
    }

    writeBytes(dir / "not_gguf.gguf", "GGML but not quite a GGUF file");
    expectRefused(dir / "not_gguf.gguf", "not a GGUF file");
    writeBytes(dir / "v1.gguf", "GGUF" + GgufBuilder::pod<uint32_t>(1) + std::string(16, '\0'));
    expectRefused(dir / "v1.gguf", "version 1");
}

TEST(ImportGguf, CorruptedBytesGiveASentenceOrAModel) {
    // Random byte changes anywhere in the header, metadata and tensor infos (and some in
    // the data): the import either succeeds or throws InvalidInput naming the file; any
    // other exception, a crash or a huge allocation fails the test.
    TempDir dir;
    const std::string bytes = readBytes(kFixtures / "tiny_llama.gguf");
    const GgufFile original(kFixtures / "tiny_llama.gguf");
    std::mt19937 rng(1234);
    int refused = 0;
    for (int i = 0; i < 300; ++i) {
        std::string damaged = bytes;
        const size_t limit = i % 5 == 0 ? damaged.size() : size_t(original.dataOffset());
        for (int k = 0; k < 1 + i % 3; ++k)
            damaged[rng() % limit] = char(rng() % 256);
        const fs::path file = dir / "damaged.gguf";
        writeBytes(file, damaged);
        try {
            importGguf(file);
        } catch (const InvalidInput& e) {
            ++refused;
            EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
        }
    }
    EXPECT_GT(refused, 50);
}

TEST(ImportGguf, OtherArchitecturesAreRefusedByName) {
    TempDir dir;
    for (const std::string arch : {"gemma3", "falcon", "bloom", "mamba"}) {
        GgufBuilder b;
        b.string("general.architecture", arch);
        writeBytes(dir / (arch + ".gguf"), b.build());
        expectRefused(dir / (arch + ".gguf"), "'" + arch + "'");
    }
}

TEST(ImportGguf, MissingTensorIsNamed) {
    TempDir dir;
    writeBytes(dir / "m.gguf", tinyModel("qwen2", 1e6f, /*biases=*/false).build());
    expectRefused(dir / "m.gguf", "blk.0.attn_q.bias' is missing");
}

TEST(ImportGguf, WhatTheCoreDoesNotComputeIsRefusedByName) {
    TempDir dir;
    GgufBuilder longRope = tinyModel("phi3");
    longRope.tensor("rope_factors_long.weight", 0, 2, [](int64_t, int64_t) { return 1.0; });
    writeBytes(dir / "longrope.gguf", longRope.build());
    expectRefused(dir / "longrope.gguf", "'rope_factors_long.weight' holds LongRoPE scaling factors");

    GgufBuilder olmo3 = tinyModel("olmo2");
    olmo3.u32("olmo2.attention.sliding_window", 4);
    writeBytes(dir / "olmo3.gguf", olmo3.build());
    expectRefused(dir / "olmo3.gguf", "'olmo2.attention.sliding_window'");

    GgufBuilder partial = tinyModel("llama");
    partial.u32("llama.rope.dimension_count", 2);
    writeBytes(dir / "partial.gguf", partial.build());
    expectRefused(dir / "partial.gguf", "'llama.rope.dimension_count' is 2, less than the head size 4");

    GgufBuilder odd = tinyModel("qwen3");
    odd.u32("qwen3.rope.dimension_count", 3);
    writeBytes(dir / "odd.gguf", odd.build());
    expectRefused(dir / "odd.gguf", "'qwen3.rope.dimension_count' is 3");

    GgufBuilder values = tinyModel("qwen3");
    values.u32("qwen3.attention.key_length", 4);
    values.u32("qwen3.attention.value_length", 8);
    writeBytes(dir / "values.gguf", values.build());
    expectRefused(dir / "values.gguf", "'qwen3.attention.value_length' is 8");
}

}  // namespace
}  // namespace mwb
