// Helpers shared by the tokenizer tests: a GPT-2 byte table written independently of
// model/byte_level.cpp, offset checks, and a deterministic synthetic text corpus.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mwb::test {

// GPT-2 lists bytes ! .. ~ (0x21-0x7E), ¡ .. ¬ (0xA1-0xAC), ® .. ÿ (0xAE-0xFF) first, as
// ids 0..187, then the 68 remaining bytes in increasing order as ids 188..255.
inline bool gpt2Printable(int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}
inline int gpt2ByteId(unsigned char b) {
    if (b >= 0x21 && b <= 0x7E) return b - 0x21;
    if (b >= 0xA1 && b <= 0xAC) return 94 + (b - 0xA1);
    if (b >= 0xAE) return 106 + (b - 0xAE);
    if (b <= 0x20) return 188 + b;            // 0x00..0x20: 33 bytes
    if (b <= 0xA0) return 188 + 33 + (b - 0x7F);  // 0x7F..0xA0: 34 bytes
    return 255;                               // 0xAD, the soft hyphen
}
// The vocabulary string GPT-2 writes for some bytes: printable bytes stand for themselves,
// the others for U+0100 + their rank among the non-printable bytes.
inline std::string gpt2Piece(const std::string& bytes) {
    std::string out;
    for (unsigned char b : bytes) {
        const unsigned cp = gpt2Printable(b) ? b : 0x100 + (gpt2ByteId(b) - 188);
        if (cp < 0x80) {
            out += char(cp);
        } else {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        }
    }
    return out;
}

// Offsets are consecutive, start at 0, end at the text's end, and each spans the bytes of
// its token (no BOS here).
inline void expectOffsetsCover(const Tokenizer& tok, const std::string& text, const Encoding& enc) {
    ASSERT_EQ(enc.ids.size(), enc.offsets.size());
    int pos = 0;
    for (std::size_t i = 0; i < enc.ids.size(); ++i) {
        EXPECT_EQ(enc.offsets[i].first, pos) << "token " << i;
        EXPECT_EQ(enc.offsets[i].second - enc.offsets[i].first,
                  static_cast<int>(tok.tokenBytes(enc.ids[i]).size())) << "token " << i;
        pos = enc.offsets[i].second;
    }
    EXPECT_EQ(pos, static_cast<int>(text.size()));
}

inline std::string randomBytes(std::mt19937& rng, int maxLen) {
    std::uniform_int_distribution<int> len(0, maxLen), byte(0, 255);
    std::string s(len(rng), '\0');
    for (char& c : s) c = char(byte(rng));
    return s;
}

// Text drawn from pieces that stress the pre-tokeniser: words, contractions, digits, runs
// of spaces and newlines, tabs, accents, Cyrillic, CJK, emoji, special-token fragments.
inline std::string randomPieces(std::mt19937& rng, int nPieces) {
    static const std::vector<std::string> pieces = {
        "the", " the", "The", " ", "  ", "   ", "\n", "\n\n", "\t", " \t", "'s", "'t", "'re",
        "'ll", "'D", "'", "don't", "123", " 4567", "3.14", "!!", "?", " ...", "café", " naïve",
        "Привет", " мир", "你好", "世界", "🙂", " 👋🏽", "\xE2\x80\x8D", "<|endoftext|>", "<|",
        "|>", "<|endoftext", "\xC2\xA0", "\r\n", "a", "Z", "x9", "_", "--", "\xEF\xBB\xBF"};
    std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
    std::string s;
    for (int i = 0; i < nPieces; ++i) s += pieces[pick(rng)];
    return s;
}

// Deterministic English-like text of about `bytes` bytes: a Zipf-distributed lexicon of
// syllable words, sentences with punctuation, numbers, paragraphs, and a few non-ASCII words.
inline std::string syntheticCorpus(std::size_t bytes, std::uint32_t seed = 7) {
    std::mt19937 rng(seed);
    static const char* syllables[] = {"ka", "lo", "re", "in", "the", "an", "st", "or", "mi", "ne",
                                      "tu", "es", "al", "ri", "on", "de", "ca", "ve", "si", "po"};
    std::vector<std::string> lexicon = {"the", "of", "and", "a", "to", "in", "is", "was", "café",
                                        "Москва", "東京", "naïve", "don't", "it's", "we'll"};
    std::uniform_int_distribution<int> nSyl(1, 4), syl(0, 19);
    while (lexicon.size() < 5000) {
        std::string w;
        for (int k = nSyl(rng); k > 0; --k) w += syllables[syl(rng)];
        lexicon.push_back(w);
    }
    std::vector<double> weights(lexicon.size());
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = 1.0 / double(i + 1);
    std::discrete_distribution<std::size_t> word(weights.begin(), weights.end());
    std::uniform_int_distribution<int> percent(0, 99), number(0, 2024);
    std::string text;
    text.reserve(bytes + 200);
    while (text.size() < bytes) {
        const int sentenceLen = 4 + percent(rng) % 14;
        for (int i = 0; i < sentenceLen; ++i) {
            std::string w = lexicon[word(rng)];
            if (i == 0 && w[0] >= 'a' && w[0] <= 'z') w[0] = char(w[0] - 32);
            if (i > 0) text += ' ';
            text += w;
            const int p = percent(rng);
            if (p < 6) text += ",";
            else if (p < 8) text.append(" ").append(std::to_string(number(rng)));
        }
        const int end = percent(rng);
        text += end < 80 ? ". " : end < 90 ? "? " : end < 97 ? "!\n" : ".\n\n";
    }
    return text;
}

inline std::filesystem::path sharedData(const std::string& name) {
    return std::filesystem::path(MWB_SHARED_DATA_DIR) / name;
}

inline std::string readFile(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace mwb::test
