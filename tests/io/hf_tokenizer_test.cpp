// Tokenizers read from Hugging Face files: a small byte-level vocabulary (vocab.json +
// merges.txt, and the same as tokenizer.json) and a small SentencePiece-style
// tokenizer.json, on tricky strings whose ids are derived by hand from Hugging Face's
// algorithms; and the real GPT-2 and Llama vocabularies (from llama.cpp's GGUF files)
// written out as Hugging Face files, read back, and checked against Hugging Face's ids.
#include "io/hf_tokenizer.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "tests/support/gguf_reader.h"
#include "tensor/errors.h"
#include "io/hf_config.h"
#include "tests/support/hf_folder.h"
#include "tests/support/tokenizer_test_util.h"

namespace mwb {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// ---------------------------------------------------------------------------------------
// Byte-level BPE. The merges, highest priority first, as pairs of byte strings; the merged
// pieces get ids 0..13 in this order, "<|endoftext|>" id 14, and byte b id 15 + b (an order
// unlike GPT-2's, so the test sees whether the importer takes the ids from the files).
const std::vector<std::pair<std::string, std::string>> kByteMerges = {
    {" ", "t"},            // 0  " t"
    {"h", "e"},            // 1  "he"
    {" t", "he"},          // 2  " the"
    {" ", " "},            // 3  "  "
    {"\n", "\n"},          // 4  "\n\n"
    {"'", "s"},            // 5  "'s"
    {"1", "2"},            // 6  "12"
    {"\xC3", "\xA9"},      // 7  "é"
    {"c", "a"},            // 8  "ca"
    {"ca", "f"},           // 9  "caf"
    {"caf", "\xC3\xA9"},   // 10 "café"
    {"\xD0", "\x9F"},      // 11 "П"
    {"\xE4", "\xBD"},      // 12 first two bytes of "你"
    {"\xE4\xBD", "\xA0"},  // 13 "你"
};
constexpr int kEndOfText = 14;

int byteLevelId(const std::string& bytes) {
    if (bytes.size() == 1) return 15 + static_cast<unsigned char>(bytes[0]);
    for (size_t i = 0; i < kByteMerges.size(); ++i)
        if (kByteMerges[i].first + kByteMerges[i].second == bytes) return int(i);
    ADD_FAILURE() << "no piece " << printableBytes(bytes);
    return -1;
}

std::vector<std::string> byteLevelVocab() {
    std::vector<std::string> vocab;
    for (const auto& [l, r] : kByteMerges) vocab.push_back(test::gpt2Piece(l + r));
    vocab.push_back("<|endoftext|>");
    for (int b = 0; b < 256; ++b) vocab.push_back(test::gpt2Piece(std::string(1, char(b))));
    return vocab;
}

void writeByteLevelVocabAndMerges(const fs::path& dir) {
    nlohmann::json vocab = nlohmann::json::object();
    const auto pieces = byteLevelVocab();
    for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = i;
    test::writeText(dir / "vocab.json", vocab.dump());
    std::string merges = "#version: 0.2\n";
    for (const auto& [l, r] : kByteMerges)
        merges += test::gpt2Piece(l) + " " + test::gpt2Piece(r) + "\n";
    test::writeText(dir / "merges.txt", merges);
}

// GPT-2's tokenizer.json for the same vocabulary (merges in the newer [left, right] form).
void writeByteLevelTokenizerJson(const fs::path& dir) {
    nlohmann::json vocab = nlohmann::json::object();
    const auto pieces = byteLevelVocab();
    for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = i;
    nlohmann::json merges = nlohmann::json::array();
    for (const auto& [l, r] : kByteMerges)
        merges.push_back({test::gpt2Piece(l), test::gpt2Piece(r)});
    const nlohmann::json byteLevel = {{"type", "ByteLevel"},
                                      {"add_prefix_space", false},
                                      {"trim_offsets", true},
                                      {"use_regex", true}};
    const nlohmann::json j = {
        {"added_tokens", {{{"id", kEndOfText}, {"content", "<|endoftext|>"}, {"special", true}}}},
        {"normalizer", nullptr},
        {"pre_tokenizer", byteLevel},
        {"post_processor", byteLevel},
        {"decoder", byteLevel},
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
    test::writeText(dir / "tokenizer.json", j.dump());
}

struct ByteCase {
    std::string text;
    std::vector<std::string> pieces;  // byte strings of the expected tokens ("" = <|endoftext|>)
};

// GPT-2's regex splits text into pre-tokens, then each pre-token is merged on its own,
// lowest-ranked adjacent pair first.
const std::vector<ByteCase> kByteCases = {
    // "the", " ", " cat": \s+(?!\S) leaves the last space of a run to the next word. "the":
    // only (h,e) merges; t+he is not a merge (only " t"+"he" is). " cat": (c,a) only.
    {"the  cat", {"t", "he", " ", " ", "ca", "t"}},
    // " ", " the", "\n\n": ( ,t) rank 0, then (h,e) 1, then ( t,he) 2; the trailing newlines
    // are one pre-token (nothing follows them) and merge.
    {"  the\n\n", {" ", " the", "\n\n"}},
    // "it", "'s", " 123": the contraction is its own pre-token; digits keep their space and
    // (1,2) merges, 3 stays.
    {"it's 123", {"i", "t", "'s", " ", "12", "3"}},
    // "café", "\t", "Привет": é's two bytes merge first (rank 7), then ca, caf, café. The tab
    // is followed by a letter, so \s+(?!\S) fails and \s+ takes it alone, and the word has no
    // space before it. Only П's bytes merge in the Cyrillic word.
    {"caf\xC3\xA9\tПривет",
     {"caf\xC3\xA9", "\t", "П", "\xD1", "\x80", "\xD0", "\xB8", "\xD0", "\xB2", "\xD0", "\xB5",
      "\xD1", "\x82"}},
    // "你好" (letters), "🙂" (a symbol): 你 merges in two steps, 好 and the emoji stay bytes.
    {"你好🙂", {"你", "\xE5", "\xA5", "\xBD", "\xF0", "\x9F", "\x99", "\x82"}},
    // "  \n " (the whitespace run minus the space that goes with "x"), " x": two spaces merge.
    {"  \n  x", {"  ", "\n", " ", " ", "x"}},
    // GPT-2's contractions are lower case only: "'LL" splits as "'" and "LL"; "'t" is one
    // pre-token, but ' and t have no merge.
    {"I'LL don't", {"I", "'", "L", "L", " ", "d", "o", "n", "'", "t"}},
    // "2024", " ", " 12": digit runs are not cut into groups by GPT-2's regex.
    {"2024  12", {"2", "0", "2", "4", " ", " ", "12"}},
    // The special token is cut out whole before pre-tokenisation.
    {"Hi<|endoftext|> the", {"H", "i", "", " the"}},
};

void expectByteCases(const Tokenizer& tok) {
    for (const ByteCase& c : kByteCases) {
        std::vector<int> want;
        for (const std::string& p : c.pieces)
            want.push_back(p.empty() ? kEndOfText : byteLevelId(p));
        EXPECT_EQ(tok.encodeIds(c.text), want) << printableBytes(c.text);
        EXPECT_EQ(tok.decode(want), c.text);
    }
}

TEST(HfTokenizer, ByteLevelFromVocabAndMerges) {
    TempDir dir;
    writeByteLevelVocabAndMerges(dir.path());
    const TokenizerSpec spec = readHfTokenizer(dir.path(), -1, kEndOfText);
    EXPECT_FALSE(spec.addedTokens.has_value());
    EXPECT_EQ(spec.kind, TokenizerKind::ByteBpe);
    EXPECT_EQ(spec.vocab.size(), 271u);
    EXPECT_EQ(spec.eosId, kEndOfText);
    EXPECT_FALSE(spec.addBos);
    expectByteCases(Tokenizer(spec));
}

TEST(HfTokenizer, ByteLevelFromTokenizerJson) {
    TempDir dir;
    writeByteLevelTokenizerJson(dir.path());
    const TokenizerSpec spec = readHfTokenizer(dir.path(), kEndOfText, kEndOfText);
    EXPECT_EQ(spec.kind, TokenizerKind::ByteBpe);
    EXPECT_TRUE(spec.preTokenizerPattern.empty());
    ASSERT_TRUE(spec.addedTokens.has_value());
    EXPECT_EQ(*spec.addedTokens, (std::vector<AddedToken>{{kEndOfText, true, false}}));
    expectByteCases(Tokenizer(spec));
}

TEST(HfTokenizer, SplitRegexIsReadAndBadPipelinesAreRefused) {
    TempDir dir;
    writeByteLevelTokenizerJson(dir.path());
    nlohmann::json j = readJsonFile(dir / "tokenizer.json");
    // Llama 3's pipeline: a Split with its own regex, then ByteLevel without a regex.
    const std::string pattern = "(?i:'s|'t)|\\p{N}{1,3}|[^\\p{N}]+";
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    test::writeText(dir / "tokenizer.json", j.dump());
    const TokenizerSpec spec = readHfTokenizer(dir.path(), -1, -1);
    EXPECT_EQ(spec.preTokenizerPattern, pattern);
    // "1234" splits into "123" and "4"; (1,2) merges.
    EXPECT_EQ(Tokenizer(spec).encodeIds("1234"),
              (std::vector<int>{byteLevelId("12"), byteLevelId("3"), byteLevelId("4")}));

    const auto refusal = [&](const nlohmann::json& changed) {
        test::writeText(dir / "tokenizer.json", changed.dump());
        try {
            readHfTokenizer(dir.path(), -1, -1);
        } catch (const ModelFormatError& e) {
            EXPECT_EQ(e.file(), dir / "tokenizer.json");
            return std::string(e.what());
        }
        ADD_FAILURE() << "no error";
        return std::string();
    };
    nlohmann::json bad = j;
    bad["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithPrevious";
    EXPECT_NE(refusal(bad).find("pre_tokenizer.pretokenizers[0].behavior"), std::string::npos);
    bad = j;
    bad["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
    EXPECT_NE(refusal(bad).find("cannot be compiled"), std::string::npos);
    bad = j;
    bad["pre_tokenizer"] = {{"type", "Whitespace"}};
    EXPECT_NE(refusal(bad).find("pre_tokenizer is not ByteLevel"), std::string::npos);
    bad = j;
    bad["normalizer"] = {{"type", "NFKC"}};
    EXPECT_NE(refusal(bad).find("normalizer is a NFKC step"), std::string::npos);
    bad = j;
    bad["added_tokens"][0]["lstrip"] = true;
    EXPECT_NE(refusal(bad).find("added_tokens[0].lstrip"), std::string::npos);
    bad = j;
    bad["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}};
    EXPECT_NE(refusal(bad).find("add_prefix_space"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// SentencePiece-style BPE in tokenizer.json (Llama 2's layout): <unk>, <s>, </s>, the 256
// byte pieces (ids 3 + byte), then characters and merged pieces.
const std::string kMark = "\xE2\x96\x81";  // ▁
std::vector<std::string> spmVocab() {
    std::vector<std::string> v = {"<unk>", "<s>", "</s>"};
    const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) v.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
    for (const std::string& p :
         {kMark, std::string("t"), std::string("h"), std::string("e"), std::string("c"),
          std::string("a"), std::string("\xC3\xA9"), std::string("你"), kMark + "t",
          std::string("he"), kMark + "the", kMark + kMark, std::string("ca"), kMark + "ca"})
        v.push_back(p);
    return v;
}
// Every split of every merged piece into two vocabulary pieces is listed, as Hugging Face's
// SentencePiece converter writes them (▁the: only ▁t+he, since "the" and "▁th" are not pieces).
const std::vector<std::string> kSpmMerges = {kMark + " t",        "h e", kMark + "t he",
                                             kMark + " " + kMark, "c a", kMark + " ca"};
enum SpmId {
    kSpace = 259,
    kT,
    kH,
    kE,
    kC,
    kA,
    kEAcute,
    kNi,
    kSpaceT,
    kHe,
    kSpaceThe,
    kSpaceSpace,
    kCa,
    kSpaceCa
};
constexpr int byteId(unsigned char b) { return 3 + b; }

TEST(HfTokenizer, SentencePieceStyleTokenizerJson) {
    TempDir dir;
    test::writeText(dir / "tokenizer.json",
                    test::llamaTokenizerJson(spmVocab(), kSpmMerges).dump());
    const TokenizerSpec spec = readHfTokenizer(dir.path(), 1, 2);
    EXPECT_EQ(spec.kind, TokenizerKind::SentencePieceBpe);
    EXPECT_TRUE(spec.addDummyPrefix);
    EXPECT_EQ(spec.merges, kSpmMerges);
    EXPECT_TRUE(spec.addBos);  // the post-processor puts <s> first
    // Scores follow the merge ranks.
    EXPECT_EQ(spec.scores[kSpaceT], 0.0f);
    EXPECT_EQ(spec.scores[kSpaceCa], -5.0f);
    const Tokenizer tok(spec);

    // Hugging Face: the normalizer prepends "▁" and turns spaces into "▁"; there is no
    // pre-tokenizer, so the whole text is one word; merges apply lowest rank first, and
    // characters outside the vocabulary become their UTF-8 bytes <0xNN>.
    const std::vector<std::pair<std::string, std::vector<int>>> cases = {
        // ▁the▁▁cat: (▁,t) 0, (h,e) 1, (▁t,he) 2, (▁,▁) 3, (c,a) 4; ▁▁ and ca cannot join.
        {"the  cat", {kSpaceThe, kSpaceSpace, kCa, kT}},
        // ▁▁café: (▁,▁) and (c,a) merge; f is not a piece (byte 0x66); é is.
        {" caf\xC3\xA9", {kSpaceSpace, kCa, byteId('f'), kEAcute}},
        // ▁cat: (c,a) first, then (▁,ca), which only exists once ca does.
        {"cat", {kSpaceCa, kT}},
        // ▁▁▁the: (▁,t) at the third ▁ has rank 0 and goes before (▁,▁), so the run of spaces
        // ends up ▁▁ + ▁the rather than ▁▁ + ▁ + ...
        {"  the", {kSpaceSpace, kSpaceThe}},
        // A tab, a CJK piece, and an emoji as four bytes.
        {"\t你🙂",
         {kSpace, byteId('\t'), kNi, byteId(0xF0), byteId(0x9F), byteId(0x99), byteId(0x82)}},
        // Cyrillic: every letter falls back to its two bytes.
        {"Привет",
         {kSpace, byteId(0xD0), byteId(0x9F), byteId(0xD1), byteId(0x80), byteId(0xD0),
          byteId(0xB8), byteId(0xD0), byteId(0xB2), byteId(0xD0), byteId(0xB5), byteId(0xD1),
          byteId(0x82)}},
        // Newlines are bytes; "▁a" is not a piece, so ▁ and a stay apart.
        {"a\n\nb", {kSpace, kA, byteId('\n'), byteId('\n'), byteId('b')}},
        // No contraction or digit rules in SentencePiece: each character on its own.
        {"don't 42",
         {kSpace, byteId('d'), byteId('o'), byteId('n'), byteId('\''), kT, kSpace, byteId('4'),
          byteId('2')}},
    };
    for (const auto& [text, ids] : cases) {
        EXPECT_EQ(tok.encodeIds(text, false), ids) << printableBytes(text);
        EXPECT_EQ(tok.decode(ids), text);
    }
    EXPECT_EQ(tok.encodeIds("cat"), (std::vector<int>{1, kSpaceCa, kT}));
}

// Hugging Face merges only the pairs its merges list: with "▁ ca" gone, "▁ca" (still in the
// vocabulary) is never produced, although merging by score would produce it.
TEST(HfTokenizer, SentencePieceStyleMergesOnlyListedPairs) {
    TempDir dir;
    std::vector<std::string> merges = kSpmMerges;
    merges.pop_back();
    test::writeText(dir / "tokenizer.json", test::llamaTokenizerJson(spmVocab(), merges).dump());
    const Tokenizer tok(readHfTokenizer(dir.path(), 1, 2));
    EXPECT_EQ(tok.encodeIds("cat", false), (std::vector<int>{kSpace, kCa, kT}));
}

TEST(HfTokenizer, BadFilesNameTheFile) {
    TempDir dir;
    const auto errorOf = [&] {
        try {
            readHfTokenizer(dir.path(), -1, -1);
        } catch (const ModelFormatError& e) {
            return std::pair<fs::path, std::string>(e.file(), e.what());
        }
        return std::pair<fs::path, std::string>();
    };
    auto j = test::llamaTokenizerJson(spmVocab(), kSpmMerges);
    j["model"]["type"] = "Unigram";
    test::writeText(dir / "tokenizer.json", j.dump());
    EXPECT_EQ(errorOf().first, dir / "tokenizer.json");
    EXPECT_NE(errorOf().second.find("only BPE"), std::string::npos) << errorOf().second;

    j = test::llamaTokenizerJson(spmVocab(), kSpmMerges);
    j["model"]["vocab"].erase("he");  // id 268 now missing
    test::writeText(dir / "tokenizer.json", j.dump());
    EXPECT_NE(errorOf().second.find("no piece with id 268"), std::string::npos) << errorOf().second;

    j = test::llamaTokenizerJson(spmVocab(), kSpmMerges);
    j["model"]["merges"].push_back("x y");
    test::writeText(dir / "tokenizer.json", j.dump());
    EXPECT_NE(errorOf().second.find("not in its vocabulary"), std::string::npos)
        << errorOf().second;
}

// ---------------------------------------------------------------------------------------
// Real vocabularies: GPT-2's and Llama's, written as Hugging Face files by the exporter and
// read back, give Hugging Face's ids on llama.cpp's test texts.

#define SKIP_WITHOUT(file)                                               \
    do {                                                                 \
        if (!fs::exists(test::sharedData(file)))                         \
            GTEST_SKIP() << test::sharedData(file) << " is not present"; \
    } while (0)

TokenizerSpec specFromGguf(const std::string& name) {
    return test::tokenizerSpecFromGguf(test::sharedData(name));
}

void expectReferenceIds(const std::string& gguf, const Tokenizer& tok) {
    const std::string inp = test::readFile(test::sharedData(gguf + ".inp"));
    const std::string out = test::readFile(test::sharedData(gguf + ".out"));
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::istringstream lines(out);
    int checked = 0;
    for (size_t pos = 0, hit; (hit = inp.find(sep, pos)) != std::string::npos;
         pos = hit + sep.size()) {
        const std::string text = inp.substr(pos, hit - pos);
        std::string line;
        ASSERT_TRUE(std::getline(lines, line));
        std::istringstream nums(line);
        std::vector<int> want;
        for (int id; nums >> id;) want.push_back(id);
        EXPECT_EQ(tok.encodeIds(text, false), want) << printableBytes(text);
        ++checked;
    }
    EXPECT_GE(checked, 40);
}

void roundTripThroughFiles(const std::string& gguf, TokenizerKind kind) {
    const TokenizerSpec original = specFromGguf(gguf);
    ASSERT_EQ(original.kind, kind);
    TempDir dir;
    for (const TextFile& f : hfTokenizerFiles(original)) test::writeText(dir / f.name, f.content);
    const TokenizerSpec spec = readHfTokenizer(dir.path(), -1, -1);
    EXPECT_EQ(spec.vocab, original.vocab);
    EXPECT_EQ(spec.bosId, original.bosId);
    EXPECT_EQ(spec.eosId, original.eosId);
    EXPECT_EQ(spec.addBos, original.addBos);
    expectReferenceIds(gguf, Tokenizer(spec));
    // vocab.json + merges.txt alone (byte_bpe) give the same tokenizer.
    if (kind == TokenizerKind::ByteBpe) {
        fs::remove(dir / "tokenizer.json");
        const TokenizerSpec fromTxt =
            readHfTokenizer(dir.path(), original.bosId, original.eosId);
        EXPECT_EQ(fromTxt.merges, spec.merges);
        EXPECT_EQ(fromTxt.vocab, spec.vocab);
    }
}

TEST(HfTokenizer, Gpt2VocabularyThroughHuggingFaceFiles) {
    SKIP_WITHOUT("ggml-vocab-gpt-2.gguf");
    SKIP_WITHOUT("ggml-vocab-gpt-2.gguf.out");
    roundTripThroughFiles("ggml-vocab-gpt-2.gguf", TokenizerKind::ByteBpe);
}

TEST(HfTokenizer, LlamaVocabularyThroughHuggingFaceFiles) {
    SKIP_WITHOUT("ggml-vocab-llama-spm.gguf");
    SKIP_WITHOUT("ggml-vocab-llama-spm.gguf.out");
    roundTripThroughFiles("ggml-vocab-llama-spm.gguf", TokenizerKind::SentencePieceBpe);
}

}  // namespace
}  // namespace mwb
