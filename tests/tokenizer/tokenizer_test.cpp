// Tokenizer behaviour on tiny hand-made vocabularies, where every expected id can be
// derived by hand; round trips and offsets on random text; constructor validation.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tensor/errors.h"
#include "tests/support/tokenizer_test_util.h"

namespace mwb {
namespace {

using test::gpt2ByteId;
using test::gpt2Piece;
using Ids = std::vector<int>;
using Offsets = std::vector<std::pair<int, int>>;

int B(unsigned char b) { return gpt2ByteId(b); }  // id of a single-byte token

// A byte-level vocabulary: GPT-2's 256 byte tokens (ids 0..255 as in GPT-2, so " " is 220,
// "\n" 198, "\t" 197), then one token per merge below, then "<|endoftext|>".
const std::vector<std::pair<std::string, std::string>> kTinyMerges = {
    {" ", "t"},             // 256 " t"
    {"h", "e"},             // 257 "he"
    {" t", "he"},           // 258 " the"
    {" ", " "},             // 259 "  "
    {"\n", "\n"},           // 260 "\n\n"
    {"'", "s"},             // 261 "'s"
    {"1", "2"},             // 262 "12"
    {"\xC3", "\xA9"},       // 263 "é" (C3 A9)
    {" ", "\xD0"},          // 264 a space and the first byte of most Cyrillic letters
    {"\xE4", "\xBD"},       // 265 first two bytes of 你 (E4 BD A0)
    {"\xE4\xBD", "\xA0"},   // 266 "你"
    {" ", "\xF0"},          // 267 a space and the first byte of a 4-byte emoji
    {"\x82", "!"},          // 268 the last byte of 🙂 (F0 9F 99 82) and "!"
    {"'", "S"},             // 269 "'S"
};
constexpr int kThe = 258, kTwoSpaces = 259, kTwoNewlines = 260, kApostropheS = 261, kTwelve = 262,
              kEAcute = 263, kSpaceD0 = 264, kNi = 266, kSpaceF0 = 267, kByte82Bang = 268,
              kEndOfText = 270;

TokenizerSpec tinyByteSpec() {
    TokenizerSpec spec;
    spec.kind = TokenizerKind::ByteBpe;
    spec.vocab.resize(256);
    for (int b = 0; b < 256; ++b) spec.vocab[B(b)] = gpt2Piece(std::string(1, char(b)));
    for (const auto& [l, r] : kTinyMerges) {
        spec.vocab.push_back(gpt2Piece(l + r));
        spec.merges.push_back(gpt2Piece(l) + " " + gpt2Piece(r));
    }
    spec.vocab.push_back("<|endoftext|>");
    spec.bosId = spec.eosId = kEndOfText;
    return spec;
}

const Tokenizer& tinyByte() {
    static const Tokenizer tok(tinyByteSpec());
    return tok;
}

Ids ids(const std::string& text) { return tinyByte().encodeIds(text); }

TEST(TokenizerByteBpe, TableMatchesGpt2ByteOrder) {
    EXPECT_EQ(tinyByte().pieceId("!"), 0);       // the first printable byte
    EXPECT_EQ(tinyByte().pieceId("Ġ"), 220);     // space: U+0100 + 32
    EXPECT_EQ(tinyByte().pieceId("Ċ"), 198);     // newline: U+0100 + 10
    EXPECT_EQ(tinyByte().pieceId("Ń"), 255);     // soft hyphen 0xAD, the last non-printable byte
    EXPECT_EQ(tinyByte().pieceId("Ġthe"), kThe);
    EXPECT_EQ(tinyByte().pieceId("not a piece"), -1);
}

TEST(TokenizerByteBpe, MergesByRankWithinPreTokens) {
    // "the" | " the". "the": only (h,e) applies -> t, he. " the": (Ġ,t) rank 0, then (h,e)
    // rank 1, then (Ġt,he) rank 2 -> one token.
    const Encoding e = tinyByte().encode("the the");
    EXPECT_EQ(e.ids, (Ids{B('t'), 257, kThe}));
    EXPECT_EQ(e.offsets, (Offsets{{0, 1}, {1, 3}, {3, 7}}));
}

TEST(TokenizerByteBpe, RunsOfSpaces) {
    // \s+(?!\S) takes a run of spaces but leaves the last one for " ?\p{L}+": "a" | "  " | " b".
    EXPECT_EQ(ids("a   b"), (Ids{B('a'), kTwoSpaces, 220, B('b')}));
    // At the end of the text the whole run is one pre-token: "a" | "  ".
    EXPECT_EQ(ids("a  "), (Ids{B('a'), kTwoSpaces}));
    // "   " | " x"; within "   " the leftmost (Ġ,Ġ) merges first: ĠĠ, Ġ.
    EXPECT_EQ(ids("    x"), (Ids{kTwoSpaces, 220, 220, B('x')}));
    EXPECT_EQ(ids(" "), (Ids{220}));
}

TEST(TokenizerByteBpe, NewlinesAndTabs) {
    // "x" | "\n\n" (the run minus its last newline, since "y" follows) | "\n" | "y".
    EXPECT_EQ(ids("x\n\n\ny"), (Ids{B('x'), kTwoNewlines, 198, B('y')}));
    EXPECT_EQ(ids("\n"), (Ids{198}));
    // " \t x": " ?[^\s\p{L}\p{N}]+" cannot start (a tab is \s), so \s+(?!\S) takes " \t"
    // and leaves " x".
    EXPECT_EQ(ids(" \t x"), (Ids{220, 197, 220, B('x')}));
    EXPECT_EQ(ids("\tx"), (Ids{197, B('x')}));
}

TEST(TokenizerByteBpe, Contractions) {
    // "he" | "'s": both merge.
    EXPECT_EQ(ids("he's"), (Ids{257, kApostropheS}));
    // The contractions are lower-case only: "HE" | "'" | "S", so the merge "' S" (269)
    // never applies, although both bytes are adjacent in the text.
    EXPECT_EQ(ids("HE'S"), (Ids{B('H'), B('E'), B('\''), B('S')}));
    // "we" | "'ll": no merges for these bytes.
    EXPECT_EQ(ids("we'll"), (Ids{B('w'), B('e'), B('\''), B('l'), B('l')}));
}

TEST(TokenizerByteBpe, Digits) {
    // "a" | "123": (1,2) merges, 3 stays.
    EXPECT_EQ(ids("a123"), (Ids{B('a'), kTwelve, B('3')}));
    // "x" | " 12": the space joins the number; no merge (Ġ,1).
    EXPECT_EQ(ids("x 12"), (Ids{B('x'), 220, kTwelve}));
}

TEST(TokenizerByteBpe, AccentsCyrillicCjk) {
    // "café" is one \p{L}+ word: c a f C3 A9, and (C3,A9) merges.
    EXPECT_EQ(ids("café"), (Ids{B('c'), B('a'), B('f'), kEAcute}));
    // " мир" (D0 BC D0 B8 D1 80) is one pre-token starting with the space; (Ġ,D0) merges
    // only at the start, the second D0 has no space before it.
    EXPECT_EQ(ids(" мир"), (Ids{kSpaceD0, B(0xBC), B(0xD0), B(0xB8), B(0xD1), B(0x80)}));
    // "你好" | "!": 你 = E4 BD A0 merges in two steps; 好 = E5 A5 BD has no merges.
    EXPECT_EQ(ids("你好!"), (Ids{kNi, B(0xE5), B(0xA5), B(0xBD), B('!')}));
}

TEST(TokenizerByteBpe, EmojiJoinPunctuation) {
    // " 🙂!" is one " ?[^\s\p{L}\p{N}]+" pre-token: (Ġ,F0) and (82,!) both merge; the latter
    // proves the emoji and "!" were not split apart.
    EXPECT_EQ(ids(" 🙂!"), (Ids{kSpaceF0, B(0x9F), B(0x99), kByte82Bang}));
    // "🙂" | " !": no merge across pre-tokens.
    EXPECT_EQ(ids("🙂 !"), (Ids{B(0xF0), B(0x9F), B(0x99), B(0x82), 220, B('!')}));
}

TEST(TokenizerByteBpe, SpecialTokensAreSplitOutWhole) {
    const Encoding e = tinyByte().encode("hi<|endoftext|>there");
    // "hi" | <|endoftext|> | "there" (t, he, r, e).
    EXPECT_EQ(e.ids, (Ids{B('h'), B('i'), kEndOfText, B('t'), 257, B('r'), B('e')}));
    EXPECT_EQ(e.offsets[2], std::make_pair(2, 15));
    EXPECT_EQ(ids(" <|endoftext|>"), (Ids{220, kEndOfText}));
    // Without the closing "|>" it is ordinary text: "<|" | "endoftext".
    const Ids open = ids("<|endoftext");
    EXPECT_EQ(open.size(), 11u);
    EXPECT_EQ(open[0], B('<'));
    EXPECT_EQ(tinyByte().decode(ids("a<|endoftext|><|endoftext|>b")), "a<|endoftext|><|endoftext|>b");
}

TEST(TokenizerByteBpe, RandomBytesRoundTripWithConsistentOffsets) {
    std::mt19937 rng(1234);
    for (int trial = 0; trial < 400; ++trial) {
        const std::string text = trial % 2 ? test::randomBytes(rng, 64) : test::randomPieces(rng, 12);
        const Encoding e = tinyByte().encode(text);
        ASSERT_EQ(tinyByte().decode(e.ids), text) << "trial " << trial;
        test::expectOffsetsCover(tinyByte(), text, e);
        if (HasFailure()) return;
    }
}

TEST(TokenizerByteBpe, DisplayAndBytes) {
    EXPECT_EQ(tinyByte().tokenBytes(kThe), " the");
    EXPECT_EQ(tinyByte().tokenBytes(kEndOfText), "<|endoftext|>");
    EXPECT_EQ(tinyByte().tokenDisplay(198), "\\n");
    EXPECT_EQ(tinyByte().tokenDisplay(B(0xFF)), "\\xff");  // a lone byte is not UTF-8
    EXPECT_EQ(tinyByte().tokenDisplay(kEAcute), "é");
    EXPECT_EQ(printableBytes("a\xffé\x80"), "a\\xffé\\x80");
    EXPECT_THROW(tinyByte().tokenBytes(271), InvalidInput);
    EXPECT_THROW(tinyByte().decode({0, -1}), InvalidInput);
    const Tokenizer copy = tinyByte();
    EXPECT_EQ(copy.encodeIds(" the"), (Ids{kThe}));
    EXPECT_THROW(Tokenizer().encode("x"), InvalidInput);
}

TEST(TokenizerByteBpe, AddsBosOnlyWhenAskedAndAllowed) {
    TokenizerSpec spec = tinyByteSpec();
    spec.addBos = true;
    const Tokenizer tok(spec);
    const Encoding e = tok.encode(" the");
    EXPECT_EQ(e.ids, (Ids{kEndOfText, kThe}));
    EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 4}}));
    EXPECT_EQ(tok.encodeIds(" the", false), (Ids{kThe}));
    EXPECT_EQ(tinyByte().encodeIds(" the"), (Ids{kThe}));
}

// A SentencePiece vocabulary: <unk>, <s>, </s>, the 256 byte pieces <0x00>..<0xFF> (ids
// 3..258), then pieces with scores; only the scores of pieces made by merging matter.
const int kByte0 = 3;
TokenizerSpec tinySpmSpec(float scoreBc = -3) {
    TokenizerSpec spec;
    spec.kind = TokenizerKind::SentencePieceBpe;
    spec.vocab = {"<unk>", "<s>", "</s>"};
    spec.scores = {0, 0, 0};
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        spec.vocab.push_back(name);
        spec.scores.push_back(0);
    }
    const std::vector<std::pair<std::string, float>> pieces = {
        {"▁", -10}, {"a", -1}, {"b", -1}, {"c", -1}, {"ab", -2}, {"bc", scoreBc},
        {"▁ab", -4}, {"▁a", -5}, {"aa", -6}, {"▁▁", -7}, {"▁c", -8}};
    for (const auto& [p, s] : pieces) {
        spec.vocab.push_back(p);
        spec.scores.push_back(s);
    }
    spec.bosId = 1;
    spec.eosId = 2;
    return spec;
}
constexpr int kMark = 259, kA = 260, kB = 261, kC = 262, kAb = 263, kBc = 264, kMarkAb = 265,
              kMarkA = 266, kAa = 267, kMarkMark = 268;

TEST(TokenizerSentencePiece, MergesHighestScoreFirst) {
    const Tokenizer tok(tinySpmSpec());
    // "▁abc": ab (-2) beats bc (-3) and ▁a (-5); then ▁ab (-4); "▁abc" is no piece.
    const Encoding e = tok.encode("abc");
    EXPECT_EQ(e.ids, (Ids{kMarkAb, kC}));
    EXPECT_EQ(e.offsets, (Offsets{{0, 2}, {2, 3}}));  // the dummy prefix maps to nothing
    // With bc scored above ab: bc first, which leaves ▁a + bc.
    EXPECT_EQ(Tokenizer(tinySpmSpec(-1.5f)).encodeIds("abc"), (Ids{kMarkA, kBc}));
}

TEST(TokenizerSentencePiece, EqualScoresMergeLeftmostFirst) {
    // "▁baaa": the two (a,a) pairs tie; the left one merges, leaving ▁ b aa a.
    EXPECT_EQ(Tokenizer(tinySpmSpec()).encodeIds("baaa"), (Ids{kMark, kB, kAa, kA}));
}

TEST(TokenizerSentencePiece, SpacesBecomeMarks) {
    const Tokenizer tok(tinySpmSpec());
    // "▁a▁▁b": ▁a (-5) beats ▁▁ (-7); "b" alone.
    const Encoding e = tok.encode("a  b");
    EXPECT_EQ(e.ids, (Ids{kMarkA, kMarkMark, kB}));
    EXPECT_EQ(e.offsets, (Offsets{{0, 1}, {1, 3}, {3, 4}}));
    // " c" -> "▁▁c": ▁▁ (-7) beats ▁c (-8). The first ▁ is the dummy prefix.
    const Encoding lead = tok.encode(" c");
    EXPECT_EQ(lead.ids, (Ids{kMarkMark, kC}));
    EXPECT_EQ(lead.offsets, (Offsets{{0, 1}, {1, 2}}));
    EXPECT_EQ(tok.decode(lead.ids), " c");
}

TEST(TokenizerSentencePiece, UnknownCharactersFallBackToBytes) {
    const Tokenizer tok(tinySpmSpec());
    // "é" (C3 A9) is no piece: the dummy prefix ▁ alone, then <0xC3> <0xA9>.
    const Encoding e = tok.encode("é");
    EXPECT_EQ(e.ids, (Ids{kMark, kByte0 + 0xC3, kByte0 + 0xA9}));
    EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 1}, {1, 2}}));
    EXPECT_EQ(tok.decode(e.ids), "é");
    EXPECT_EQ(tok.encodeIds("\n"), (Ids{kMark, kByte0 + 10}));

    // Without byte pieces, an unknown character is one <unk>; without <unk>, an error.
    TokenizerSpec noBytes = tinySpmSpec();
    noBytes.vocab.erase(noBytes.vocab.begin() + 3, noBytes.vocab.begin() + 259);
    noBytes.scores.erase(noBytes.scores.begin() + 3, noBytes.scores.begin() + 259);
    EXPECT_EQ(Tokenizer(noBytes).encodeIds("é"), (Ids{kMark - 256, 0}));
    noBytes.vocab[0] = "<nothing>";
    EXPECT_THROW(Tokenizer(noBytes).encode("é"), InvalidInput);
}

TEST(TokenizerSentencePiece, BosAndDecode) {
    TokenizerSpec spec = tinySpmSpec();
    spec.addBos = true;
    const Tokenizer tok(spec);
    EXPECT_EQ(tok.encodeIds("ab"), (Ids{1, kMarkAb}));
    EXPECT_EQ(tok.encodeIds("ab", false), (Ids{kMarkAb}));
    EXPECT_EQ(tok.encode("ab").offsets, (Offsets{{0, 0}, {0, 2}}));
    EXPECT_EQ(tok.encodeIds(""), (Ids{1}));  // no dummy prefix for empty text
    EXPECT_EQ(tok.encodeIds("", false), Ids{});
    // BOS/EOS decode to nothing; the dummy-prefix space of the first piece is dropped.
    EXPECT_EQ(tok.decode({1, kMarkAb, kMarkA, 2}), "ab a");
    EXPECT_EQ(tok.tokenBytes(1), "<s>");
    EXPECT_EQ(tok.tokenBytes(kMarkAb), " ab");
    EXPECT_EQ(tok.tokenBytes(kByte0 + 0x41), "A");
}

TEST(TokenizerSentencePiece, MergesNeverProduceControlPieces) {
    TokenizerSpec spec = tinySpmSpec();
    for (const char* p : {"<", "s", ">", "<s"}) {
        spec.vocab.push_back(p);
        spec.scores.push_back(-0.5f);
    }
    const Tokenizer tok(spec);
    // "<s" + ">" would spell BOS's piece "<s>", which text must never turn into.
    const Ids got = tok.encodeIds("<s>");
    EXPECT_EQ(got, (Ids{kMark, tok.pieceId("<s"), tok.pieceId(">")}));
}

TEST(TokenizerSentencePiece, RandomBytesRoundTripWithConsistentOffsets) {
    const Tokenizer tok(tinySpmSpec());
    std::mt19937 rng(99);
    for (int trial = 0; trial < 400; ++trial) {
        std::string text = trial % 2 ? test::randomBytes(rng, 48) : test::randomPieces(rng, 10);
        if (text.find("▁") != std::string::npos) continue;  // "▁" in the text reads as a space
        const Encoding e = tok.encode(text);
        ASSERT_EQ(tok.decode(e.ids), text) << "trial " << trial;
        // Each token's span of the text is its bytes, minus the dummy-prefix space of the first.
        int pos = 0;
        for (std::size_t i = 0; i < e.ids.size(); ++i) {
            const auto [begin, end] = e.offsets[i];
            ASSERT_EQ(begin, pos) << "trial " << trial << " token " << i;
            std::string bytes = tok.tokenBytes(e.ids[i]);
            if (i == 0) bytes.erase(0, 1);
            ASSERT_EQ(text.substr(begin, end - begin), bytes) << "trial " << trial << " token " << i;
            pos = end;
        }
        ASSERT_EQ(pos, static_cast<int>(text.size()));
    }
}

// One enormous pre-token (or SentencePiece segment) must not take quadratic time.
TEST(TokenizerPerformance, LongRunsStayFast) {
    const Tokenizer spm(tinySpmSpec());
    const std::vector<std::string> texts = {std::string(300'000, ' '), std::string(300'000, '\n'),
                                            std::string(300'000, 'a'), std::string(150'000, '1') + "2",
                                            [] { std::string s; for (int i = 0; i < 75'000; ++i) s += "🙂"; return s; }()};
    for (const std::string& text : texts) {
        const auto start = std::chrono::steady_clock::now();
        const Encoding e = tinyByte().encode(text);
        EXPECT_EQ(tinyByte().decode(e.ids), text);
        const Encoding es = spm.encode(text);
        EXPECT_EQ(spm.decode(es.ids), text);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
#ifdef NDEBUG
        EXPECT_LT(seconds, 2.0) << printableBytes(text.substr(0, 8));
#endif
    }
    // 300,000 spaces at the end of the text: one pre-token, merged pairwise into "  ".
    EXPECT_EQ(tinyByte().encodeIds(texts[0]), std::vector<int>(150'000, kTwoSpaces));
    // 150,000 ones then a two: "1" * 149,999, then "12" merges at the end only.
    const Ids digits = tinyByte().encodeIds(texts[3]);
    ASSERT_EQ(digits.size(), 150'000u);
    EXPECT_EQ(digits.back(), kTwelve);
}

void expectInvalid(const TokenizerSpec& spec, const std::string& fragment) {
    try {
        Tokenizer tok(spec);
        ADD_FAILURE() << "no exception, expected one mentioning: " << fragment;
    } catch (const InvalidInput& e) {
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}

TEST(TokenizerSpecValidation, RejectsInconsistentSpecs) {
    expectInvalid(TokenizerSpec{}, "empty");

    TokenizerSpec unknownPiece = tinyByteSpec();
    unknownPiece.merges.push_back("Ġ zz");
    expectInvalid(unknownPiece, "\"zz\", which is not in the vocabulary");

    TokenizerSpec unknownResult = tinyByteSpec();
    unknownResult.merges.push_back("x y");
    expectInvalid(unknownResult, "produces \"xy\"");

    TokenizerSpec malformed = tinyByteSpec();
    malformed.merges.push_back("Ġthe");
    expectInvalid(malformed, "not two pieces");

    TokenizerSpec missingByte = tinyByteSpec();
    missingByte.vocab[220] = "space";
    missingByte.merges.clear();
    expectInvalid(missingByte, "byte \\x20");

    TokenizerSpec badBos = tinyByteSpec();
    badBos.bosId = 271;
    expectInvalid(badBos, "BOS id 271");
    TokenizerSpec badEos = tinyByteSpec();
    badEos.eosId = -2;
    expectInvalid(badEos, "EOS id -2");
    TokenizerSpec bosMissing = tinyByteSpec();
    bosMissing.bosId = -1;
    bosMissing.addBos = true;
    expectInvalid(bosMissing, "no BOS id");

    TokenizerSpec scores = tinySpmSpec();
    scores.scores.pop_back();
    expectInvalid(scores, "one score per piece");
    TokenizerSpec nan = tinySpmSpec();
    nan.scores[kAb] = std::nanf("");
    expectInvalid(nan, "not a number");

    // The same spec without the defect is accepted.
    EXPECT_NO_THROW(Tokenizer{tinyByteSpec()});
    EXPECT_NO_THROW(Tokenizer{tinySpmSpec()});
}

}  // namespace
}  // namespace mwb
