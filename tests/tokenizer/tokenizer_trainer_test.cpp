// Byte-level BPE training: hand-derived merges on tiny texts, determinism, round trips,
// early stop, progress/cancellation, and speed on a corpus of a few megabytes.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tensor/errors.h"
#include "tokenizer/tokenizer.h"
#include "tests/support/tokenizer_test_util.h"

namespace mwb {
namespace {

using Strings = std::vector<std::string>;

Strings tail(const Strings& v, std::size_t from) { return Strings(v.begin() + long(from), v.end()); }

TEST(TokenizerTrainer, HandDerivedMergesAndTieBreak) {
    // Words: "ab", " ab", " ab", " cd", " cd". Pair counts: (a,b) 3, (Ġ,a) 2, (Ġ,c) 2, (c,d) 2.
    // 1. "a b" (3). Then (Ġ,ab) 2, (Ġ,c) 2, (c,d) 2 tie; the smallest (left, right) bytes win:
    //    (" ", "ab") < (" ", "c") < ("c", "d").
    // 2. "Ġ ab". 3. "Ġ c". 4. (Ġc,d) 2 -> "Ġc d". Then every pair occurs once: stop early.
    const TokenizerSpec spec = trainByteBpe("ab ab ab cd cd", 300);
    EXPECT_EQ(spec.merges, (Strings{"a b", "Ġ ab", "Ġ c", "Ġc d"}));
    ASSERT_EQ(spec.vocab.size(), 261u);  // smaller than asked for: the text supports no more
    EXPECT_EQ(tail(spec.vocab, 256), (Strings{"ab", "Ġab", "Ġc", "Ġcd", "<|endoftext|>"}));
    EXPECT_EQ(spec.eosId, 260);
    EXPECT_EQ(spec.bosId, 260);
    EXPECT_FALSE(spec.addBos);
    EXPECT_EQ(spec.kind, TokenizerKind::ByteBpe);

    // Asking for 259 tokens keeps the first two merges.
    const TokenizerSpec small = trainByteBpe("ab ab ab cd cd", 259);
    EXPECT_EQ(small.merges, (Strings{"a b", "Ġ ab"}));
    EXPECT_EQ(small.vocab.size(), 259u);

    const Tokenizer tok(spec);
    EXPECT_EQ(tok.encodeIds("ab ab cd"), (std::vector<int>{256, 257, 259}));
}

TEST(TokenizerTrainer, OverlappingPairsAreCountedAndMergedLeftToRight) {
    // "aaaa" and " aaaa": (a,a) occurs 3 + 3 times. Merging it left to right gives aa aa in
    // both words, so (aa,aa) occurs 2 times and (a,a) none; (Ġ,aa) occurs once.
    const TokenizerSpec spec = trainByteBpe("aaaa aaaa", 1000);
    EXPECT_EQ(spec.merges, (Strings{"a a", "aa aa"}));
}

TEST(TokenizerTrainer, DocumentSeparatorIsNotLearned) {
    const TokenizerSpec spec = trainByteBpe("xy<|endoftext|>xy<|endoftext|>xy", 400);
    EXPECT_EQ(spec.merges, (Strings{"x y"}));
    const Tokenizer tok(spec);
    EXPECT_EQ(tok.encodeIds("xy<|endoftext|>"), (std::vector<int>{256, 257}));
}

TEST(TokenizerTrainer, StartsWithGpt2ByteTokens) {
    const TokenizerSpec spec = trainByteBpe("hello hello", 300);
    for (int b = 0; b < 256; ++b)
        EXPECT_EQ(spec.vocab[test::gpt2ByteId(b)], test::gpt2Piece(std::string(1, char(b))));
}

TEST(TokenizerTrainer, DeterministicAndRoundTrips) {
    const std::string text = test::syntheticCorpus(200'000, 3);
    const TokenizerSpec a = trainByteBpe(text, 1500);
    const TokenizerSpec b = trainByteBpe(text, 1500);
    EXPECT_EQ(a.vocab, b.vocab);
    EXPECT_EQ(a.merges, b.merges);
    ASSERT_EQ(a.vocab.size(), 1500u);
    EXPECT_GE(a.merges.size(), 1500u - 257u);
    EXPECT_EQ(std::set<std::string>(a.vocab.begin(), a.vocab.end()).size(), a.vocab.size())
        << "vocabulary strings must be unique";

    const Tokenizer tok(a);  // validates every merge
    const Encoding e = tok.encode(text);
    EXPECT_EQ(tok.decode(e.ids), text);
    EXPECT_LT(e.ids.size() * 3, text.size()) << "a trained vocabulary should compress its corpus";
    std::mt19937 rng(8);
    for (int trial = 0; trial < 100; ++trial) {
        const std::string s = trial % 2 ? test::randomBytes(rng, 64) : test::randomPieces(rng, 12);
        const Encoding es = tok.encode(s);
        ASSERT_EQ(tok.decode(es.ids), s);
        test::expectOffsetsCover(tok, s, es);
    }
}

TEST(TokenizerTrainer, RejectsTooSmallVocabularyAndReportsProgress) {
    EXPECT_THROW(trainByteBpe("abc", 256), InvalidInput);
    EXPECT_EQ(trainByteBpe("", 257).vocab.size(), 257u);

    const std::string text = test::syntheticCorpus(50'000);
    long calls = 0, lastDone = -1, total = 0;
    trainByteBpe(text, 600, [&](const Progress& p) {
        ++calls;
        EXPECT_GE(p.done, lastDone);
        lastDone = p.done;
        total = p.total;
        return true;
    });
    EXPECT_GT(calls, 2);
    EXPECT_EQ(total, 600 - 257);
    EXPECT_EQ(lastDone, total);
    EXPECT_THROW(trainByteBpe(text, 600, [](const Progress& p) { return p.done < 100; }), Cancelled);
}

TEST(TokenizerTrainer, TrainsEightThousandTokensOnFiveMegabytesQuickly) {
    const std::string text = test::syntheticCorpus(5'000'000, 21);
    const auto start = std::chrono::steady_clock::now();
    const TokenizerSpec spec = trainByteBpe(text, 8000);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "trained " << spec.vocab.size() << " tokens on " << text.size() / 1e6 << " MB in "
              << seconds << " s\n";
    EXPECT_EQ(spec.vocab.size(), 8000u);
#ifdef NDEBUG
    EXPECT_LT(seconds, 30.0);
#endif
}

}  // namespace
}  // namespace mwb
