// Test helpers for the Hugging Face importer and exporter (header-only): a writer of Hugging Face model folders whose tensor layout (GPT-2's Conv1D
// transposes and fused c_attn, Llama's names) is written out here independently of
// model/hf_layout.cpp, so that a mistake there cannot cancel itself out.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "tensor/bfloat16.h"
#include "tensor/float16.h"
#include "model/model.h"
#include "io/safetensors.h"
#include "tests/support/temp_dir.h"

namespace mwb::test {

namespace fs = std::filesystem;

inline void writeText(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary);
    out << text;
}

// A tensor of a checkpoint being written by a test.
struct HfTestTensor {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> data;
};

inline std::vector<float> flat(const Matrix& m) { return {m.data(), m.data() + m.size()}; }
inline std::vector<float> flat(const Vector& v) { return {v.data(), v.data() + v.size()}; }
// Conv1D layout: [in, out] = the transpose of the [out, in] matrix.
inline std::vector<float> conv1d(const Matrix& m) {
    const Matrix t = m.transpose();
    return flat(t);
}

inline std::vector<HfTestTensor> gpt2Checkpoint(const Model& m, bool prefix) {
    const ModelConfig& c = m.config;
    const Weights& w = m.weights;
    const std::string p = prefix ? "transformer." : "";
    const int64_t d = c.dModel, f = c.dFf;
    std::vector<HfTestTensor> t;
    t.push_back({p + "wte.weight", {c.vocabSize, d}, flat(w.tokenEmbedding)});
    t.push_back({p + "wpe.weight", {c.nCtx, d}, flat(w.positionEmbedding)});
    for (int i = 0; i < c.nLayers; ++i) {
        const BlockWeights& b = w.blocks[i];
        const std::string h = p + "h." + std::to_string(i) + ".";
        Matrix qkv(3 * d, d);
        qkv << b.q.weight, b.k.weight, b.v.weight;
        Vector qkvBias(3 * d);
        qkvBias << b.q.bias, b.k.bias, b.v.bias;
        t.push_back({h + "ln_1.weight", {d}, flat(b.norm1.weight)});
        t.push_back({h + "ln_1.bias", {d}, flat(b.norm1.bias)});
        t.push_back({h + "attn.c_attn.weight", {d, 3 * d}, conv1d(qkv)});
        t.push_back({h + "attn.c_attn.bias", {3 * d}, flat(qkvBias)});
        t.push_back({h + "attn.c_proj.weight", {d, d}, conv1d(b.o.weight)});
        t.push_back({h + "attn.c_proj.bias", {d}, flat(b.o.bias)});
        t.push_back({h + "ln_2.weight", {d}, flat(b.norm2.weight)});
        t.push_back({h + "ln_2.bias", {d}, flat(b.norm2.bias)});
        t.push_back({h + "mlp.c_fc.weight", {d, f}, conv1d(b.up.weight)});
        t.push_back({h + "mlp.c_fc.bias", {f}, flat(b.up.bias)});
        t.push_back({h + "mlp.c_proj.weight", {f, d}, conv1d(b.down.weight)});
        t.push_back({h + "mlp.c_proj.bias", {d}, flat(b.down.bias)});
        // Old GPT-2 files also hold the causal mask buffer; the importer must ignore it.
        t.push_back({h + "attn.bias",
                     {1, 1, c.nCtx, c.nCtx},
                     std::vector<float>(size_t(c.nCtx) * c.nCtx, 1.0f)});
    }
    t.push_back({p + "ln_f.weight", {d}, flat(w.finalNorm.weight)});
    t.push_back({p + "ln_f.bias", {d}, flat(w.finalNorm.bias)});
    if (!c.tieEmbeddings) t.push_back({"lm_head.weight", {c.vocabSize, d}, flat(w.lmHead)});
    return t;
}

inline std::vector<HfTestTensor> llamaCheckpoint(const Model& m) {
    const ModelConfig& c = m.config;
    const Weights& w = m.weights;
    const int64_t d = c.dModel, f = c.dFf, q = int64_t(c.nHeads) * c.dHead(),
                  kv = int64_t(c.nKvHeads) * c.dHead();
    std::vector<HfTestTensor> t;
    t.push_back({"model.embed_tokens.weight", {c.vocabSize, d}, flat(w.tokenEmbedding)});
    for (int i = 0; i < c.nLayers; ++i) {
        const BlockWeights& b = w.blocks[i];
        const std::string h = "model.layers." + std::to_string(i) + ".";
        t.push_back({h + "input_layernorm.weight", {d}, flat(b.norm1.weight)});
        t.push_back({h + "self_attn.q_proj.weight", {q, d}, flat(b.q.weight)});
        t.push_back({h + "self_attn.k_proj.weight", {kv, d}, flat(b.k.weight)});
        t.push_back({h + "self_attn.v_proj.weight", {kv, d}, flat(b.v.weight)});
        if (c.qkvBias) {
            t.push_back({h + "self_attn.q_proj.bias", {q}, flat(b.q.bias)});
            t.push_back({h + "self_attn.k_proj.bias", {kv}, flat(b.k.bias)});
            t.push_back({h + "self_attn.v_proj.bias", {kv}, flat(b.v.bias)});
        }
        t.push_back({h + "self_attn.o_proj.weight", {d, q}, flat(b.o.weight)});
        t.push_back({h + "self_attn.rotary_emb.inv_freq",
                     {c.dHead() / 2},
                     std::vector<float>(c.dHead() / 2, 1.0f)});
        t.push_back({h + "post_attention_layernorm.weight", {d}, flat(b.norm2.weight)});
        t.push_back({h + "mlp.gate_proj.weight", {f, d}, flat(b.gate.weight)});
        t.push_back({h + "mlp.up_proj.weight", {f, d}, flat(b.up.weight)});
        t.push_back({h + "mlp.down_proj.weight", {d, f}, flat(b.down.weight)});
    }
    t.push_back({"model.norm.weight", {d}, flat(w.finalNorm.weight)});
    if (!c.tieEmbeddings) t.push_back({"lm_head.weight", {c.vocabSize, d}, flat(w.lmHead)});
    return t;
}

inline void writeTensors(const fs::path& file, const std::vector<HfTestTensor>& tensors,
                         TensorDtype dtype) {
    std::vector<SafetensorToWrite> list;
    for (const HfTestTensor& t : tensors) list.push_back({t.name, t.shape, t.data.data()});
    writeSafetensors(file, list, dtype);
}

// Writes the checkpoint as model.safetensors, or as two shards and an index.
inline void writeCheckpoint(const fs::path& dir, const std::vector<HfTestTensor>& tensors,
                            TensorDtype dtype, bool sharded) {
    if (!sharded) {
        writeTensors(dir / "model.safetensors", tensors, dtype);
        return;
    }
    const size_t half = tensors.size() / 2;
    const std::vector<HfTestTensor> a(tensors.begin(), tensors.begin() + long(half));
    const std::vector<HfTestTensor> b(tensors.begin() + long(half), tensors.end());
    const std::string nameA = "model-00001-of-00002.safetensors",
                      nameB = "model-00002-of-00002.safetensors";
    writeTensors(dir / nameA, a, dtype);
    writeTensors(dir / nameB, b, dtype);
    nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                            {"weight_map", nlohmann::json::object()}};
    for (const auto& t : a) index["weight_map"][t.name] = nameA;
    for (const auto& t : b) index["weight_map"][t.name] = nameB;
    writeText(dir / "model.safetensors.index.json", index.dump(2));
}

inline nlohmann::json hfRopeScaling(const RopeScaling& s) {
    if (s.type == RopeScalingType::None) return nullptr;
    nlohmann::json j = {{"rope_type", toString(s.type)}, {"factor", s.factor}};
    if (s.type == RopeScalingType::Llama3) {
        j["low_freq_factor"] = s.lowFreqFactor;
        j["high_freq_factor"] = s.highFreqFactor;
        j["original_max_position_embeddings"] = s.originalContext;
    }
    return j;
}

inline nlohmann::json hfConfigFor(const ModelConfig& c) {
    if (c.gatedMlp())
        return {{"model_type", c.qkvBias ? "qwen2" : "llama"},
                {"architectures", {c.qkvBias ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
                {"hidden_size", c.dModel},
                {"intermediate_size", c.dFf},
                {"num_hidden_layers", c.nLayers},
                {"num_attention_heads", c.nHeads},
                {"num_key_value_heads", c.nKvHeads},
                {"rms_norm_eps", c.normEps},
                {"rope_theta", c.ropeTheta},
                {"max_position_embeddings", c.nCtx},
                {"tie_word_embeddings", c.tieEmbeddings},
                {"hidden_act", "silu"},
                {"vocab_size", c.vocabSize},
                {"bos_token_id", 1},
                {"eos_token_id", 2},
                {"rope_scaling", hfRopeScaling(c.ropeScaling)}};
    return {{"model_type", "gpt2"},
            {"n_layer", c.nLayers},
            {"n_head", c.nHeads},
            {"n_embd", c.dModel},
            {"n_positions", c.nCtx},
            {"n_ctx", c.nCtx},
            {"n_inner", c.dFf},
            {"activation_function", "gelu_new"},
            {"layer_norm_epsilon", c.normEps},
            {"vocab_size", c.vocabSize},
            {"tie_word_embeddings", c.tieEmbeddings},
            {"bos_token_id", c.vocabSize - 1},
            {"eos_token_id", c.vocabSize - 1}};
}

// GPT-2's tokenizer files from a byte_bpe spec.
inline void writeVocabAndMerges(const fs::path& dir, const TokenizerSpec& spec) {
    nlohmann::json vocab = nlohmann::json::object();
    for (size_t i = 0; i < spec.vocab.size(); ++i) vocab[spec.vocab[i]] = i;
    writeText(dir / "vocab.json", vocab.dump());
    std::string merges = "#version: 0.2\n";
    for (const std::string& m : spec.merges) merges += m + "\n";
    writeText(dir / "merges.txt", merges);
}

// A Llama-2 style tokenizer.json (legacy normalizer: Prepend "▁", Replace " " -> "▁"; BPE with
// byte fallback; BOS added by the post-processor).
inline nlohmann::json llamaTokenizerJson(const std::vector<std::string>& vocabList,
                                         const std::vector<std::string>& merges) {
    using Json = nlohmann::json;
    Json vocab = Json::object();
    for (size_t i = 0; i < vocabList.size(); ++i) vocab[vocabList[i]] = i;
    const std::string mark = "\xE2\x96\x81";
    Json j;
    j["version"] = "1.0";
    j["added_tokens"] = Json::array();
    for (int id = 0; id < 3; ++id)
        j["added_tokens"].push_back({{"id", id}, {"content", vocabList[id]}, {"special", true}});
    Json prepend = {{"type", "Prepend"}, {"prepend", mark}};
    Json replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", mark}};
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", Json::array({prepend, replace})}};
    j["pre_tokenizer"] = nullptr;
    Json bos = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
    Json text = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
    j["post_processor"] = {{"type", "TemplateProcessing"}, {"single", Json::array({bos, text})}};
    Json unmark = {{"type", "Replace"}, {"pattern", {{"String", mark}}}, {"content", " "}};
    Json strip = {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}};
    j["decoder"] = {{"type", "Sequence"},
                    {"decoders", Json::array({unmark, Json{{"type", "ByteFallback"}},
                                              Json{{"type", "Fuse"}}, strip})}};
    j["model"] = {{"type", "BPE"},         {"unk_token", "<unk>"}, {"fuse_unk", true},
                  {"byte_fallback", true}, {"vocab", vocab},       {"merges", merges}};
    return j;
}

struct HfFolderOptions {
    TensorDtype dtype = TensorDtype::F32;
    bool sharded = false;
    bool gpt2Prefix = true;  // "transformer." before GPT-2 names
};

// A Hugging Face folder for a tiny test model: config.json, weights, tokenizer files.
// SentencePiece tokenizers must be tinySentencePieceSpec() (its merges are listed here).
inline void writeHfFolder(const Model& m, const fs::path& dir, const HfFolderOptions& o = {}) {
    fs::create_directories(dir);
    writeText(dir / "config.json", hfConfigFor(m.config).dump(2));
    writeCheckpoint(dir, m.config.gatedMlp() ? llamaCheckpoint(m) : gpt2Checkpoint(m, o.gpt2Prefix),
                    o.dtype, o.sharded);
    const TokenizerSpec& spec = m.tokenizer.spec();
    if (spec.kind == TokenizerKind::ByteBpe) {
        writeVocabAndMerges(dir, spec);
    } else {
        const std::string mark = "\xE2\x96\x81";
        writeText(dir / "tokenizer.json",
                  llamaTokenizerJson(spec.vocab, {mark + " t", "h e", mark + "t he"}).dump(2));
    }
}

// x as stored in `dtype` and read back.
inline float roundTo(TensorDtype dtype, float x) {
    if (dtype == TensorDtype::F16) return halfToFloat(floatToHalf(x));
    if (dtype == TensorDtype::BF16) return bfloat16ToFloat(floatToBfloat16(x));
    return x;
}

// Every tensor of `actual` equals roundTo(dtype, the same element of `expected`), bit for bit.
inline void expectWeightsRounded(const Model& expected, const Model& actual, TensorDtype dtype) {
    ASSERT_EQ(expected.config.architecture, actual.config.architecture);
    std::vector<std::pair<std::string, std::vector<float>>> want;
    forEachTensor(expected.config, expected.weights, [&](const std::string& path, const auto& t) {
        want.emplace_back(path, std::vector<float>(t.data(), t.data() + t.size()));
    });
    size_t k = 0;
    forEachTensor(actual.config, actual.weights, [&](const std::string& path, const auto& t) {
        ASSERT_LT(k, want.size());
        ASSERT_EQ(path, want[k].first);
        ASSERT_EQ(size_t(t.size()), want[k].second.size()) << path;
        for (Eigen::Index i = 0; i < t.size(); ++i)
            if (t.data()[i] != roundTo(dtype, want[k].second[size_t(i)])) {
                ADD_FAILURE() << path << " differs at flat index " << i << ": " << t.data()[i]
                              << " vs " << want[k].second[size_t(i)];
                return;
            }
        ++k;
    });
    EXPECT_EQ(k, want.size());
}

// The same model with every weight rounded through `dtype`.
inline Model roundedModel(const Model& m, TensorDtype dtype) {
    Model r = m;
    forEachTensor(r.config, r.weights, [&](const std::string&, auto& t) {
        for (Eigen::Index i = 0; i < t.size(); ++i) t.data()[i] = roundTo(dtype, t.data()[i]);
    });
    return r;
}

}  // namespace mwb::test
