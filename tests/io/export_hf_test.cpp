// Export to Hugging Face folders: export then import gives back identical tensors and an
// equivalent tokenizer for both architectures; the written files have the layout
// transformers expects; an existing non-empty folder is only written with force.
#include "io/export_hf.h"

#include <gtest/gtest.h>

#include "tensor/errors.h"
#include "io/hf_config.h"
#include "io/import_hf.h"
#include "io/safetensors.h"
#include "tests/support/hf_folder.h"
#include "tests/support/test_models.h"
#include "tests/support/tokenizer_test_util.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

struct Case {
    Architecture arch;
    bool tied;
    bool sentencePiece;
    bool qkvBias = false;
};

class ExportHfRoundTrip : public testing::TestWithParam<Case> {};

TEST_P(ExportHfRoundTrip, ImportGivesBackIdenticalTensors) {
    const Case& p = GetParam();
    const Model original =
        makeTinyModel(p.arch, 21, {.tieEmbeddings = p.tied, .sentencePiece = p.sentencePiece, .qkvBias = p.qkvBias});
    TempDir dir;
    exportHf(original, dir / "hf");
    const ImportedModel back = importHf(dir / "hf");
    EXPECT_TRUE(back.warnings.empty()) << back.warnings.front();
    test::expectWeightsRounded(original, back.model, TensorDtype::F32);
    const ModelConfig& a = original.config;
    const ModelConfig& b = back.model.config;
    EXPECT_EQ(b.nKvHeads, a.nKvHeads);
    EXPECT_EQ(b.normEps, a.normEps);
    EXPECT_EQ(b.ropeTheta, a.ropeTheta);
    EXPECT_EQ(b.activation, a.activation);
    EXPECT_EQ(b.tieEmbeddings, a.tieEmbeddings);
    EXPECT_EQ(b.nCtx, a.nCtx);
    EXPECT_EQ(b.qkvBias, a.qkvBias);
    const TokenizerSpec& s = back.model.tokenizer.spec();
    const TokenizerSpec& o = original.tokenizer.spec();
    EXPECT_EQ(s.kind, o.kind);
    EXPECT_EQ(s.vocab, o.vocab);
    EXPECT_EQ(s.bosId, o.bosId);
    EXPECT_EQ(s.eosId, o.eosId);
    EXPECT_EQ(s.addBos, o.addBos);
    if (o.kind == TokenizerKind::ByteBpe) {
        EXPECT_EQ(s.merges, o.merges);
    }
    for (const char* text : {"the theme", "  then\tthe  thesis\n", "h\xC3\xA9", "<|endoftext|>the"})
        EXPECT_EQ(back.model.tokenizer.encodeIds(text), original.tokenizer.encodeIds(text)) << text;
}

INSTANTIATE_TEST_SUITE_P(All, ExportHfRoundTrip,
                         testing::Values(Case{Architecture::Gpt2, true, false},
                                         Case{Architecture::Gpt2, false, false},
                                         Case{Architecture::Llama, false, true},
                                         Case{Architecture::Llama, true, true},
                                         Case{Architecture::Llama, false, false},
                                         Case{Architecture::Llama, true, false, true}));

TEST(ExportHf, FilesHaveTransformersLayout) {
    const Model m = makeTinyModel(Architecture::Gpt2, 4, {.tieEmbeddings = true});
    TempDir dir;
    exportHf(m, dir / "hf", {.dtype = TensorDtype::F16});
    const nlohmann::json config = readJsonFile(dir / "hf" / "config.json");
    EXPECT_EQ(config["model_type"], "gpt2");
    EXPECT_EQ(config["n_embd"], 16);
    EXPECT_EQ(config["n_inner"], 32);
    EXPECT_EQ(config["activation_function"], "gelu_new");
    EXPECT_EQ(config["layer_norm_epsilon"].dump(), "1e-05");  // not 9.99999974737875e-06
    EXPECT_EQ(config["torch_dtype"], "float16");
    const SafetensorsFile f(dir / "hf" / "model.safetensors");
    EXPECT_EQ(f.metadata().at("format"), "pt");
    // Conv1D weights are [in, out]; c_attn fuses q, k and v along "out".
    const SafetensorInfo* attn = f.find("transformer.h.1.attn.c_attn.weight");
    ASSERT_NE(attn, nullptr);
    EXPECT_EQ(attn->dtype, "F16");
    EXPECT_EQ(attn->shape, (std::vector<int64_t>{16, 48}));
    std::vector<float> data(16 * 48);
    f.read("transformer.h.1.attn.c_attn.weight", data);
    // [in 3, out 16 + 5] is k's row 5, column 3.
    EXPECT_EQ(data[3 * 48 + 16 + 5],
              test::roundTo(TensorDtype::F16, m.weights.blocks[1].k.weight(5, 3)));
    EXPECT_EQ(f.find("transformer.h.0.mlp.c_proj.weight")->shape, (std::vector<int64_t>{32, 16}));
    EXPECT_EQ(f.find("lm_head.weight"), nullptr);  // tied
    for (const char* name : {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"})
        EXPECT_TRUE(fs::exists(dir / "hf" / name)) << name;
    // No temporary files are left behind.
    for (const auto& entry : fs::directory_iterator(dir / "hf"))
        EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
    // Half precision round trip: the imported weights are the F16-rounded ones.
    test::expectWeightsRounded(m, importHf(dir / "hf").model, TensorDtype::F16);
}

TEST(ExportHf, RefusesANonEmptyFolderUnlessForced) {
    const Model m = makeTinyModel(Architecture::Llama, 4, {.sentencePiece = true});
    TempDir dir;
    test::writeText(dir / "notes.txt", "keep me");
    EXPECT_THROW(exportHf(m, dir.path()), InvalidInput);
    EXPECT_FALSE(fs::exists(dir / "config.json"));
    exportHf(m, dir.path(), {.force = true});
    EXPECT_TRUE(fs::exists(dir / "model.safetensors"));
    EXPECT_EQ(test::readFile(dir / "notes.txt"), "keep me");
    // An existing empty folder is fine; a file in the way is not.
    fs::create_directories(dir / "empty");
    exportHf(m, dir / "empty");
    EXPECT_TRUE(fs::exists(dir / "empty" / "tokenizer.json"));
    EXPECT_THROW(exportHf(m, dir / "notes.txt", {.force = true}), InvalidInput);
}

TEST(ExportHf, Gpt2WithGroupedQueryAttentionHasNoEquivalent) {
    const Model m = makeTinyModel(Architecture::Gpt2, 4, {.nKvHeads = 2});
    TempDir dir;
    EXPECT_THROW(exportHf(m, dir / "hf"), InvalidInput);
    EXPECT_FALSE(fs::exists(dir / "hf"));
}

}  // namespace
}  // namespace mwb
