// Import of Hugging Face folders: tiny random models written as GPT-2 and Llama checkpoints
// (all three dtypes, sharded and unsharded, tied and untied) come back with the same weights
// and logits; broken folders give one sentence naming the file and the tensor or key.
#include "io/import_hf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "tensor/bfloat16.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "io/hf_config.h"
#include "model/transformer.h"
#include "tests/support/hf_folder.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

struct Case {
    Architecture arch;
    bool tied;
    TensorDtype dtype;
    bool sharded;
    bool qkvBias = false;  // a qwen2 folder: llama with q, k, v biases
};

std::string caseName(const testing::TestParamInfo<Case>& info) {
    const Case& c = info.param;
    return std::string(c.arch == Architecture::Gpt2 ? "Gpt2" : c.qkvBias ? "Qwen2" : "Llama") +
           (c.tied ? "Tied" : "Untied") + dtypeName(c.dtype) + (c.sharded ? "Sharded" : "Single");
}

class ImportHfRoundTrip : public testing::TestWithParam<Case> {};

TEST_P(ImportHfRoundTrip, WeightsAndLogitsEqualTheSourceModel) {
    const Case& p = GetParam();
    TinyModelOptions options;
    options.tieEmbeddings = p.tied;
    options.sentencePiece = p.arch == Architecture::Llama;
    options.qkvBias = p.qkvBias;
    const Model original = makeTinyModel(p.arch, 7, options);
    TempDir dir;
    test::writeHfFolder(original, dir.path(), {p.dtype, p.sharded});

    const ImportedModel imported = importHf(dir.path());
    EXPECT_TRUE(imported.warnings.empty()) << imported.warnings.front();
    const Model& m = imported.model;
    const ModelConfig& a = original.config;
    const ModelConfig& b = m.config;
    EXPECT_EQ(b.nLayers, a.nLayers);
    EXPECT_EQ(b.nHeads, a.nHeads);
    EXPECT_EQ(b.nKvHeads, a.nKvHeads);
    EXPECT_EQ(b.dModel, a.dModel);
    EXPECT_EQ(b.dFf, a.dFf);
    EXPECT_EQ(b.vocabSize, a.vocabSize);
    EXPECT_EQ(b.nCtx, a.nCtx);
    EXPECT_EQ(b.normEps, a.normEps);
    EXPECT_EQ(b.activation, a.activation);
    EXPECT_EQ(b.tieEmbeddings, a.tieEmbeddings);
    if (a.gatedMlp()) {
        EXPECT_EQ(b.ropeTheta, a.ropeTheta);
        EXPECT_EQ(b.qkvBias, a.qkvBias);
    }
    test::expectWeightsRounded(original, m, p.dtype);

    // Same weights (after the same rounding) give the same logits at every position.
    const Model reference = test::roundedModel(original, p.dtype);
    const std::vector<int> tokens = original.tokenizer.encodeIds("the theme of the thesis");
    const Matrix want = Transformer(reference).run(tokens, {}, LogitsMode::All).logits;
    const Matrix got = Transformer(m).run(tokens, {}, LogitsMode::All).logits;
    ASSERT_EQ(got.rows(), want.rows());
    EXPECT_EQ((got - want).cwiseAbs().maxCoeff(), 0.0f);

    // The tokenizer came along: same pieces, same encodings.
    EXPECT_EQ(m.tokenizer.spec().vocab, original.tokenizer.spec().vocab);
    EXPECT_EQ(m.tokenizer.spec().bosId, original.tokenizer.spec().bosId);
    EXPECT_EQ(m.tokenizer.spec().addBos, original.tokenizer.spec().addBos);
    for (const char* text : {"the theme", " then the  thesis", "hat\nthe"})
        EXPECT_EQ(m.tokenizer.encodeIds(text), original.tokenizer.encodeIds(text)) << text;
}

std::vector<Case> allCases() {
    std::vector<Case> cases;
    for (Architecture arch : {Architecture::Gpt2, Architecture::Llama})
        for (TensorDtype dtype : {TensorDtype::F32, TensorDtype::F16, TensorDtype::BF16})
            for (bool sharded : {false, true})
                cases.push_back({arch, arch == Architecture::Gpt2, dtype, sharded});
    cases.push_back({Architecture::Gpt2, false, TensorDtype::F32, false});
    cases.push_back({Architecture::Llama, true, TensorDtype::F32, true});
    cases.push_back({Architecture::Llama, true, TensorDtype::F32, false, true});
    cases.push_back({Architecture::Llama, false, TensorDtype::BF16, true, true});
    return cases;
}

INSTANTIATE_TEST_SUITE_P(All, ImportHfRoundTrip, testing::ValuesIn(allCases()), caseName);

// Llama 3.1's rope_scaling (rope_type llama3) and the older linear form ("type")
// are read, kept in the model file and written back by the export.
TEST(ImportHf, RopeScalingIsReadStoredAndExported) {
    Model original = makeTinyModel(Architecture::Llama, 5);
    original.config.ropeScaling = {RopeScalingType::Llama3, 8.0, 1.0, 4.0, 16};
    test::TempDir dir, out;
    test::writeHfFolder(original, dir.path());
    const Model imported = importHf(dir.path()).model;
    const RopeScaling& r = imported.config.ropeScaling;
    EXPECT_EQ(r.type, RopeScalingType::Llama3);
    EXPECT_EQ(r.factor, 8.0);
    EXPECT_EQ(r.lowFreqFactor, 1.0);
    EXPECT_EQ(r.highFreqFactor, 4.0);
    EXPECT_EQ(r.originalContext, 16);
    saveModel(imported, out.path() / "m.h5");
    const ModelConfig stored = loadConfig(out.path() / "m.h5");
    EXPECT_EQ(stored.ropeScaling.type, RopeScalingType::Llama3);
    EXPECT_EQ(stored.ropeScaling.factor, 8.0);
    EXPECT_EQ(stored.ropeScaling.originalContext, 16);
    const nlohmann::ordered_json exported = hfConfigJson(stored, 1, 2, TensorDtype::F32);
    EXPECT_EQ(exported["rope_scaling"]["rope_type"], "llama3");
    EXPECT_EQ(exported["rope_scaling"]["original_max_position_embeddings"], 16);

    nlohmann::json config = test::hfConfigFor(original.config);
    config["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
    test::writeText(dir.path() / "config.json", config.dump());
    const Model linear = importHf(dir.path()).model;
    EXPECT_EQ(linear.config.ropeScaling.type, RopeScalingType::Linear);
    EXPECT_EQ(linear.config.ropeScaling.factor, 2.0);
    config["rope_scaling"] = {{"rope_type", "default"}};
    test::writeText(dir.path() / "config.json", config.dump());
    EXPECT_EQ(importHf(dir.path()).model.config.ropeScaling.type, RopeScalingType::None);
}

TEST(ImportHf, Gpt2NamesWithoutTransformerPrefix) {
    const Model original = makeTinyModel(Architecture::Gpt2, 3);
    TempDir dir;
    test::writeHfFolder(original, dir.path(), {.gpt2Prefix = false});
    test::expectWeightsRounded(original, importHf(dir.path()).model, TensorDtype::F32);
}

TEST(ImportHf, ConvertsBfloat16ByRoundingToNearestEven) {
    // Bit patterns checked by hand: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 and goes
    // to the even 1; 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6 and goes to the
    // even 1 + 2^-6; 1 + 2^-8 + 2^-20 is past halfway and goes up.
    EXPECT_EQ(floatToBfloat16(1.0f + 0x1p-8f), 0x3f80);
    EXPECT_EQ(floatToBfloat16(1.0f + 3 * 0x1p-8f), 0x3f82);
    EXPECT_EQ(floatToBfloat16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    EXPECT_EQ(floatToBfloat16(-2.5f), 0xc020);
    EXPECT_EQ(bfloat16ToFloat(0x3f81), 1.0f + 0x1p-7f);
}

// ---------------------------------------------------------------------------------------
// Broken folders.

// The error's text, file and tensor/key of importing `dir`.
ModelFormatError importError(const fs::path& dir) {
    try {
        importHf(dir);
    } catch (const ModelFormatError& e) {
        return e;
    }
    ADD_FAILURE() << "importing " << dir << " did not throw ModelFormatError";
    return ModelFormatError("", "", "");
}

void expectOneSentence(const std::string& message) {
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_LT(message.size(), 400u) << message;
}

TEST(ImportHf, TensorShapeThatDisagreesWithConfigIsNamed) {
    Model original = makeTinyModel(Architecture::Llama, 1, {.sentencePiece = true});
    TempDir dir;
    test::writeHfFolder(original, dir.path());
    // config.json claims a wider MLP than the checkpoint holds.
    nlohmann::json config = test::hfConfigFor(original.config);
    config["intermediate_size"] = original.config.dFf * 2;
    test::writeText(dir / "config.json", config.dump());
    const ModelFormatError e = importError(dir.path());
    EXPECT_EQ(e.file(), dir / "model.safetensors");
    EXPECT_EQ(e.hdf5Path(), "model.layers.0.mlp.gate_proj.weight");
    EXPECT_NE(std::string(e.what()).find("has shape [32, 16], expected [64, 16] from config.json"),
              std::string::npos)
        << e.what();
    expectOneSentence(e.what());
}

TEST(ImportHf, MissingTensorIsNamed) {
    Model original = makeTinyModel(Architecture::Gpt2, 1);
    TempDir dir;
    test::writeHfFolder(original, dir.path());
    auto tensors = test::gpt2Checkpoint(original, true);
    std::erase_if(tensors, [](const auto& t) { return t.name == "transformer.h.1.mlp.c_fc.bias"; });
    test::writeTensors(dir / "model.safetensors", tensors, TensorDtype::F32);
    const ModelFormatError e = importError(dir.path());
    EXPECT_EQ(e.file(), dir / "model.safetensors");
    EXPECT_EQ(e.hdf5Path(), "transformer.h.1.mlp.c_fc.bias");
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
}

TEST(ImportHf, UntiedConfigWithoutLmHeadIsMissingTensor) {
    Model original = makeTinyModel(Architecture::Gpt2, 1, {.tieEmbeddings = true});
    TempDir dir;
    test::writeHfFolder(original, dir.path());
    nlohmann::json config = test::hfConfigFor(original.config);
    config["tie_word_embeddings"] = false;
    test::writeText(dir / "config.json", config.dump());
    EXPECT_EQ(importError(dir.path()).hdf5Path(), "lm_head.weight");
}

TEST(ImportHf, ShardIndexProblemsAreNamed) {
    Model original = makeTinyModel(Architecture::Llama, 1, {.sentencePiece = true});
    TempDir dir;
    test::writeHfFolder(original, dir.path(), {.sharded = true});
    const fs::path index = dir / "model.safetensors.index.json";
    nlohmann::json j = readJsonFile(index);
    // A shard name that leaves the folder is refused before anything is opened.
    j["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors";
    test::writeText(index, j.dump());
    ModelFormatError e = importError(dir.path());
    EXPECT_EQ(e.file(), index);
    EXPECT_EQ(e.hdf5Path(), "model.norm.weight");
    // A shard that does not exist.
    j["weight_map"]["model.norm.weight"] = "model-00003-of-00002.safetensors";
    test::writeText(index, j.dump());
    e = importError(dir.path());
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
    // A tensor the index places in a shard that does not hold it.
    j["weight_map"]["model.norm.weight"] = "model-00001-of-00002.safetensors";
    test::writeText(index, j.dump());
    e = importError(dir.path());
    EXPECT_EQ(e.file(), dir / "model-00001-of-00002.safetensors");
    EXPECT_EQ(e.hdf5Path(), "model.norm.weight");
}

TEST(ImportHf, NanWeightIsNamed) {
    Model original = makeTinyModel(Architecture::Gpt2, 1);
    original.weights.blocks[1].down.weight(3, 5) = std::nanf("");
    TempDir dir;
    test::writeHfFolder(original, dir.path());
    const ModelFormatError e = importError(dir.path());
    EXPECT_EQ(e.hdf5Path(), "transformer.h.1.mlp.c_proj.weight");
    // Stored transposed ([in, out]): element (out 3, in 5) is at [5, 3].
    EXPECT_NE(std::string(e.what()).find("NaN at [5, 3]"), std::string::npos) << e.what();
}

TEST(ImportHf, ConfigProblemsNameTheKey) {
    const Model original = makeTinyModel(Architecture::Llama, 1, {.sentencePiece = true});
    TempDir dir;
    test::writeHfFolder(original, dir.path());
    const auto withConfig = [&](const std::function<void(nlohmann::json&)>& change) {
        nlohmann::json config = test::hfConfigFor(original.config);
        change(config);
        test::writeText(dir / "config.json", config.dump());
        return importError(dir.path());
    };
    EXPECT_EQ(withConfig([](auto& j) { j.erase("hidden_size"); }).hdf5Path(), "hidden_size");
    EXPECT_EQ(withConfig([](auto& j) { j["num_hidden_layers"] = "two"; }).hdf5Path(),
              "num_hidden_layers");
    EXPECT_EQ(withConfig([](auto& j) { j["model_type"] = "bert"; }).hdf5Path(), "model_type");
    EXPECT_EQ(withConfig([](auto& j) {
                  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 2.0}};
              }).hdf5Path(),
              "rope_scaling.type");
    EXPECT_EQ(withConfig([](auto& j) { j["rope_scaling"] = {{"rope_type", "linear"}}; }).hdf5Path(),
              "rope_scaling.factor");
    EXPECT_EQ(withConfig([](auto& j) {
                  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                       {"high_freq_factor", 4.0}};
              }).hdf5Path(),
              "rope_scaling.original_max_position_embeddings");
    EXPECT_EQ(withConfig([](auto& j) { j["rope_scaling"] = "llama3"; }).hdf5Path(), "rope_scaling");
    EXPECT_EQ(withConfig([](auto& j) { j["hidden_act"] = "mish"; }).hdf5Path(), "hidden_act");
    test::writeText(dir / "config.json", "{ not json");
    const ModelFormatError e = importError(dir.path());
    EXPECT_EQ(e.file(), dir / "config.json");
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
}

// config.json that lies about the checkpoint: fewer layers than it holds (the rest would
// be dropped without a word), sizes no model has, no model_type.
TEST(ImportHf, CheckpointLayersBeyondTheConfigAreAnError) {
    const Model original = makeTinyModel(Architecture::Gpt2, 1, {.nLayers = 4});
    TempDir dir;
    test::writeHfFolder(original, dir.path());
    nlohmann::json config = test::hfConfigFor(original.config);
    config["n_layer"] = 2;
    test::writeText(dir / "config.json", config.dump());
    const ModelFormatError e = importError(dir.path());
    EXPECT_EQ(e.file(), dir / "model.safetensors");
    EXPECT_EQ(e.hdf5Path(), "transformer.h.2.attn.c_attn.bias");  // the first in name order
    EXPECT_NE(std::string(e.what()).find("is not accounted for by config.json (and 23 more tensors): the checkpoint "
                                         "holds layers up to 3, but config.json gives the model 2 layers"),
              std::string::npos)
        << e.what();
    expectOneSentence(e.what());

    const Model llama = makeTinyModel(Architecture::Llama, 1, {.nLayers = 3, .sentencePiece = true});
    TempDir llamaDir;
    test::writeHfFolder(llama, llamaDir.path());
    config = test::hfConfigFor(llama.config);
    config["num_hidden_layers"] = 1;
    test::writeText(llamaDir / "config.json", config.dump());
    EXPECT_NE(std::string(importError(llamaDir.path()).what()).find("holds layers up to 2, but config.json gives the model 1 layers"),
              std::string::npos);
}

TEST(ImportHf, MissingModelTypeIsAnErrorNotAGuess) {
    const Model original = makeTinyModel(Architecture::Gpt2, 1);
    TempDir dir;
    test::writeHfFolder(original, dir.path());
    nlohmann::json config = test::hfConfigFor(original.config);
    config.erase("model_type");
    config["architectures"] = {"GPT2LMHeadModel"};
    test::writeText(dir / "config.json", config.dump());
    const ModelFormatError e = importError(dir.path());
    EXPECT_EQ(e.file(), dir / "config.json");
    EXPECT_EQ(e.hdf5Path(), "model_type");
    EXPECT_NE(std::string(e.what()).find("model_type is missing"), std::string::npos) << e.what();
}

TEST(ImportHf, ConfigSizesArePositiveAndBoundedNamingTheKey) {
    const Model original = makeTinyModel(Architecture::Llama, 1, {.sentencePiece = true});
    TempDir dir;
    test::writeHfFolder(original, dir.path());
    const auto withConfig = [&](const char* key, int64_t value) {
        nlohmann::json config = test::hfConfigFor(original.config);
        config[key] = value;
        test::writeText(dir / "config.json", config.dump());
        return importError(dir.path());
    };
    ModelFormatError e = withConfig("vocab_size", INT32_MIN);
    EXPECT_EQ(e.hdf5Path(), "vocab_size");
    EXPECT_NE(std::string(e.what()).find("vocab_size is -2147483648; expected a positive integer up to 16777216"),
              std::string::npos)
        << e.what();
    expectOneSentence(e.what());
    EXPECT_EQ(withConfig("vocab_size", 0).hdf5Path(), "vocab_size");
    EXPECT_EQ(withConfig("num_hidden_layers", -3).hdf5Path(), "num_hidden_layers");
    EXPECT_EQ(withConfig("num_hidden_layers", 1 << 30).hdf5Path(), "num_hidden_layers");
    EXPECT_EQ(withConfig("hidden_size", INT32_MAX).hdf5Path(), "hidden_size");
    EXPECT_EQ(withConfig("max_position_embeddings", -1).hdf5Path(), "max_position_embeddings");
    EXPECT_EQ(withConfig("num_key_value_heads", 0).hdf5Path(), "num_key_value_heads");
}

TEST(ImportHf, FolderWithoutWeightsOrTokenizer) {
    const Model original = makeTinyModel(Architecture::Gpt2, 1);
    TempDir dir;
    test::writeHfFolder(original, dir.path());
    fs::remove(dir / "model.safetensors");
    EXPECT_NE(std::string(importError(dir.path()).what()).find("no model.safetensors"),
              std::string::npos);
    test::writeHfFolder(original, dir.path());
    fs::remove(dir / "merges.txt");
    EXPECT_NE(std::string(importError(dir.path()).what()).find("has no tokenizer"),
              std::string::npos);
}

TEST(ImportHf, SmallerTokenizerIsPaddedWithPlaceholders) {
    const Model original = makeTinyModel(Architecture::Gpt2, 1);
    TempDir dir;
    test::writeHfFolder(original, dir.path());
    // 260 pieces, but the checkpoint had 4 more embedding rows (as models padded to a
    // multiple of 8 do): make the model 264 rows wide.
    Model wide = original;
    wide.config.vocabSize += 4;
    wide.weights.tokenEmbedding.conservativeResize(wide.config.vocabSize, Eigen::NoChange);
    wide.weights.tokenEmbedding.bottomRows(4).setConstant(0.5f);
    if (wide.weights.lmHead.size()) {  // untied: the head grows too
        wide.weights.lmHead.conservativeResize(wide.config.vocabSize, Eigen::NoChange);
        wide.weights.lmHead.bottomRows(4).setConstant(0.25f);
    }
    test::writeText(dir / "config.json", test::hfConfigFor(wide.config).dump());
    test::writeCheckpoint(dir.path(), test::gpt2Checkpoint(wide, true), TensorDtype::F32, false);
    // ... bos/eos from config.json now point at 263, a placeholder: take them from the vocabulary.
    nlohmann::json config = test::hfConfigFor(wide.config);
    config["bos_token_id"] = config["eos_token_id"] = 259;
    test::writeText(dir / "config.json", config.dump());
    const ImportedModel imported = importHf(dir.path());
    ASSERT_EQ(imported.warnings.size(), 1u);
    EXPECT_NE(imported.warnings[0].find("260 .. 263"), std::string::npos) << imported.warnings[0];
    EXPECT_EQ(imported.model.tokenizer.vocabSize(), 264);
    EXPECT_EQ(imported.model.tokenizer.spec().vocab[263], "<|unused_263|>");
    EXPECT_EQ(imported.model.weights.tokenEmbedding(263, 0), 0.5f);
}

// Float16 keeps every linear weight as the float16 of the float32 import (fused
// checkpoint tensors included: Phi-3's qkv_proj and gate_up_proj), mlp/down too: the
// model is written to a float16 file next.
TEST(ImportHf, Float16KeepsTheHalvesOfTheFloat32Import) {
    const fs::path dir = fs::path(MWB_SOURCE_DIR) / "tests/fixtures/gguf/tiny_phi3_hf";
    const ImportedModel full = importHf(dir);
    const ImportedModel half = importHf(dir, {}, WeightPrecision::Float16);
    ASSERT_TRUE(hasHalfWeights(half.model.weights));
    for (size_t i = 0; i < full.model.weights.blocks.size(); ++i) {
        const BlockWeights &f = full.model.weights.blocks[i], &h = half.model.weights.blocks[i];
        for (const auto& [a, b] : {std::pair{&f.q, &h.q}, {&f.k, &h.k}, {&f.v, &h.v}, {&f.o, &h.o},
                                   {&f.gate, &h.gate}, {&f.up, &h.up}, {&f.down, &h.down}}) {
            ASSERT_TRUE(b->isHalf());
            EXPECT_TRUE(b->weight.size() == 0);
            EXPECT_EQ(b->weightHalf.bits, HalfMatrix::fromFloat(a->weight).bits);
        }
        EXPECT_EQ(h.norm1.weight, f.norm1.weight);
    }
    EXPECT_EQ(half.model.weights.tokenEmbedding, full.model.weights.tokenEmbedding);
    EXPECT_EQ(half.model.weights.lmHead, full.model.weights.lmHead);
}

}  // namespace
}  // namespace mwb
