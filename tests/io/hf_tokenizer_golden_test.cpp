// Small tokenizer.json files of six styles (GPT-2, Llama 3, Qwen 2, GPT-NeoX, Gemma, Llama 2)
// imported with readHfTokenizer, on hard texts (digits, contractions in both cases, CJK,
// emoji, whitespace runs, tabs, newlines, decomposed accents, added tokens), against the ids
// of the independent Python reference in tests/fixtures/tokenizers/make_tokenizer_goldens.py.
// Each tokenizer also goes through the model file and back through exported Hugging Face
// files and must give the same ids.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "io/hdf5_model_file.h"
#include "io/hf_config.h"
#include "io/hf_tokenizer.h"
#include "tensor/errors.h"
#include "tests/support/hf_folder.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const fs::path kFixtures = fs::path(MWB_SOURCE_DIR) / "tests/fixtures/tokenizers";

struct Golden {
    std::string text;
    std::vector<int> ids;
};

std::vector<Golden> goldens(const std::string& style) {
    const nlohmann::json all = readJsonFile(kFixtures / "goldens.json");
    std::vector<Golden> out;
    for (const auto& c : all.at(style)) out.push_back({c.at("text"), c.at("ids")});
    return out;
}

void expectGoldens(const std::string& style, const Tokenizer& tok, const std::string& how) {
    const std::vector<Golden> cases = goldens(style);
    ASSERT_GE(cases.size(), 12u);
    for (const Golden& c : cases) {
        const Encoding e = tok.encode(c.text);
        EXPECT_EQ(e.ids, c.ids) << style << " (" << how << "): " << printableBytes(c.text);
        // Offsets never go backwards and stay inside the text.
        int last = 0;
        for (const auto& [begin, end] : e.offsets) {
            EXPECT_LE(last, begin);
            EXPECT_LE(begin, end);
            EXPECT_LE(end, int(c.text.size()));
            last = begin;
        }
    }
}

// The tokenizer in a model file, saved and loaded again.
TokenizerSpec throughModelFile(const TokenizerSpec& spec) {
    Model m = makeTinyModel(Architecture::Gpt2, 1);
    m.config.vocabSize = int(spec.vocab.size());
    m.weights = zeroWeights<float>(m.config);
    m.tokenizer = Tokenizer(spec);
    TempDir dir;
    saveModel(m, dir / "m.h5", StorageType::Float32);
    return loadModel(dir / "m.h5").tokenizer.spec();
}

TokenizerSpec throughExport(const TokenizerSpec& spec) {
    TempDir dir;
    for (const TextFile& f : hfTokenizerFiles(spec)) test::writeText(dir / f.name, f.content);
    return readHfTokenizer(dir.path(), spec.bosId, spec.eosId);
}

void checkStyle(const std::string& style) {
    const TokenizerSpec spec = readHfTokenizer(kFixtures / style, -1, -1);
    expectGoldens(style, Tokenizer(spec), "tokenizer.json");
    const TokenizerSpec stored = throughModelFile(spec);
    EXPECT_EQ(stored.preTokenizerPattern, spec.preTokenizerPattern);
    EXPECT_EQ(stored.nfc, spec.nfc);
    EXPECT_EQ(stored.addDummyPrefix, spec.addDummyPrefix);
    EXPECT_EQ(stored.ignoreMerges, spec.ignoreMerges);
    EXPECT_EQ(stored.addedTokens, spec.addedTokens);
    EXPECT_EQ(stored.merges, spec.merges);
    expectGoldens(style, Tokenizer(stored), "model file");
    const TokenizerSpec exported = throughExport(spec);
    EXPECT_EQ(exported.preTokenizerPattern, spec.preTokenizerPattern);
    EXPECT_EQ(exported.nfc, spec.nfc);
    EXPECT_EQ(exported.addDummyPrefix, spec.addDummyPrefix);
    EXPECT_EQ(exported.ignoreMerges, spec.ignoreMerges);
    EXPECT_EQ(exported.addedTokens, spec.addedTokens);
    EXPECT_EQ(exported.addBos, spec.addBos);
    expectGoldens(style, Tokenizer(exported), "exported");
}

TEST(HfTokenizerGolden, Gpt2RegexAndEndOfText) {
    checkStyle("gpt2");
    const TokenizerSpec spec = readHfTokenizer(kFixtures / "gpt2", -1, -1);
    EXPECT_TRUE(spec.preTokenizerPattern.empty());
    EXPECT_FALSE(spec.addBos);
}

TEST(HfTokenizerGolden, Llama3RegexIgnoreMergesAndTemplateBos) {
    checkStyle("llama3");
    const TokenizerSpec spec = readHfTokenizer(kFixtures / "llama3", -1, -1);
    EXPECT_NE(spec.preTokenizerPattern.find("\\p{N}{1,3}"), std::string::npos);
    EXPECT_TRUE(spec.ignoreMerges);
    EXPECT_TRUE(spec.addBos);  // from the TemplateProcessing post-processor
    EXPECT_EQ(spec.vocab[spec.bosId], "<|begin_of_text|>");
}

TEST(HfTokenizerGolden, Qwen2RegexAndNfc) {
    checkStyle("qwen2");
    const TokenizerSpec spec = readHfTokenizer(kFixtures / "qwen2", -1, -1);
    EXPECT_TRUE(spec.nfc);
    EXPECT_EQ(spec.bosId, -1);
    // "e" + U+0301 is one NFC character "é"; its token covers both input characters.
    const Tokenizer tok(spec);
    const Encoding e = tok.encode("e\xCC\x81");
    ASSERT_EQ(e.offsets.size(), e.ids.size());
    EXPECT_EQ(e.offsets.front().first, 0);
    EXPECT_EQ(e.offsets.back().second, 3);
}

TEST(HfTokenizerGolden, NeoXAddedTokensAndNfc) {
    checkStyle("neox");
    const TokenizerSpec spec = readHfTokenizer(kFixtures / "neox", -1, -1);
    ASSERT_TRUE(spec.addedTokens.has_value());
    EXPECT_EQ(spec.addedTokens->size(), 4u);
    EXPECT_FALSE(spec.addedTokens->at(2).special);
    EXPECT_TRUE(spec.addedTokens->at(2).normalized);
}

TEST(HfTokenizerGolden, GemmaByteFallbackWithoutDummyPrefix) {
    checkStyle("gemma");
    const TokenizerSpec spec = readHfTokenizer(kFixtures / "gemma", -1, -1);
    EXPECT_EQ(spec.kind, TokenizerKind::SentencePieceBpe);
    EXPECT_FALSE(spec.addDummyPrefix);
    EXPECT_TRUE(spec.addBos);
    EXPECT_EQ(spec.vocab[spec.bosId], "<bos>");
    const Tokenizer tok(spec);
    const std::string text = "Hi there \xF0\x9F\x99\x82";
    EXPECT_EQ(tok.decode(tok.encodeIds(text, false)), text);
}

TEST(HfTokenizerGolden, Llama2ByteFallbackWithDummyPrefix) {
    checkStyle("llama2");
    const TokenizerSpec spec = readHfTokenizer(kFixtures / "llama2", -1, -1);
    EXPECT_TRUE(spec.addDummyPrefix);
}

// Without a list of added tokens (older model files) "<|name|>" pieces are still split out.
TEST(HfTokenizerGolden, NoAddedTokenListKeepsTheNameHeuristic) {
    TokenizerSpec spec = readHfTokenizer(kFixtures / "gpt2", -1, -1);
    const int eot = spec.eosId;
    spec.addedTokens.reset();
    const Tokenizer tok(spec);
    const std::vector<int> ids = tok.encodeIds("a<|endoftext|>");
    ASSERT_EQ(ids.size(), 2u);
    EXPECT_EQ(ids[1], eot);
    // With an empty list nothing is split out.
    spec.addedTokens.emplace();
    EXPECT_GT(Tokenizer(spec).encodeIds("a<|endoftext|>").size(), 2u);
}

TEST(HfTokenizerGolden, SentencePieceNormaliserMustWriteSpaces) {
    TempDir dir;
    nlohmann::json j = readJsonFile(kFixtures / "gemma/tokenizer.json");
    j["normalizer"] = {{"type", "NFKC"}};
    test::writeText(dir / "tokenizer.json", j.dump());
    try {
        readHfTokenizer(dir.path(), -1, -1);
        ADD_FAILURE() << "no error";
    } catch (const ModelFormatError& e) {
        EXPECT_EQ(e.file(), dir / "tokenizer.json");
        EXPECT_NE(std::string(e.what()).find("normalizer"), std::string::npos) << e.what();
    }
    j = readJsonFile(kFixtures / "gemma/tokenizer.json");
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}};
    test::writeText(dir / "tokenizer.json", j.dump());
    try {
        readHfTokenizer(dir.path(), -1, -1);
        ADD_FAILURE() << "no error";
    } catch (const ModelFormatError& e) {
        EXPECT_NE(std::string(e.what()).find("pre_tokenizer is a Metaspace step"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace mwb
