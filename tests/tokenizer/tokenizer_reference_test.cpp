// Tokenizers checked against other implementations: llama.cpp's GGUF vocabularies with the
// token ids Hugging Face gives for its test texts (ggml-vocab-*.gguf.inp/.out), and
// llama2.c's tokenizer with the ids of its test prompts. Reads ../shared/data and skips
// when it is absent.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/gguf_reader.h"
#include "tokenizer/tokenizer.h"
#include "tests/support/tokenizer_test_util.h"

namespace mwb {
namespace {

using test::sharedData;

#define SKIP_WITHOUT(file)                                                             \
    do {                                                                               \
        if (!std::filesystem::exists(sharedData(file)))                                \
            GTEST_SKIP() << "reference data " << sharedData(file) << " is not present"; \
    } while (0)

TokenizerSpec specFromGguf(const std::string& name) { return test::tokenizerSpecFromGguf(sharedData(name)); }

const Tokenizer& gpt2() {
    static const Tokenizer tok(specFromGguf("ggml-vocab-gpt-2.gguf"));
    return tok;
}
const Tokenizer& llamaSpm() {
    static const Tokenizer tok(specFromGguf("ggml-vocab-llama-spm.gguf"));
    return tok;
}

struct Case {
    std::string text;
    std::vector<int> ids;
};

// The .inp texts are separated by "\n__ggml_vocab_test__\n" (also after the last one); the
// .out has one line of ids per text.
std::vector<Case> readCases(const std::string& gguf) {
    const std::string inp = test::readFile(sharedData(gguf + ".inp"));
    const std::string out = test::readFile(sharedData(gguf + ".out"));
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<Case> cases;
    for (std::size_t pos = 0, hit; (hit = inp.find(sep, pos)) != std::string::npos; pos = hit + sep.size())
        cases.push_back({inp.substr(pos, hit - pos), {}});
    std::istringstream lines(out);
    std::string line;
    for (Case& c : cases) {
        if (!std::getline(lines, line)) break;
        std::istringstream nums(line);
        for (int id; nums >> id;) c.ids.push_back(id);
    }
    EXPECT_FALSE(std::getline(lines, line)) << "more .out lines than .inp texts";
    return cases;
}

TEST(TokenizerReference, Gpt2MatchesHuggingFaceOnLlamaCppTexts) {
    SKIP_WITHOUT("ggml-vocab-gpt-2.gguf");
    SKIP_WITHOUT("ggml-vocab-gpt-2.gguf.out");
    const Tokenizer& tok = gpt2();
    EXPECT_EQ(tok.vocabSize(), 50257);
    const auto cases = readCases("ggml-vocab-gpt-2.gguf");
    ASSERT_GE(cases.size(), 40u);
    for (const Case& c : cases) {
        const Encoding e = tok.encode(c.text);
        EXPECT_EQ(e.ids, c.ids) << "text: " << printableBytes(c.text);
        EXPECT_EQ(tok.decode(e.ids), c.text);
        test::expectOffsetsCover(tok, c.text, e);
    }
    // The special token is split out whole, as Hugging Face's added tokens are.
    EXPECT_EQ(tok.encodeIds("Hello<|endoftext|> world"), (std::vector<int>{15496, 50256, 995}));
}

TEST(TokenizerReference, Gpt2FirstTokensAreGpt2ByteOrder) {
    SKIP_WITHOUT("ggml-vocab-gpt-2.gguf");
    for (int b = 0; b < 256; ++b)
        EXPECT_EQ(gpt2().pieceId(test::gpt2Piece(std::string(1, char(b)))), test::gpt2ByteId(b));
}

TEST(TokenizerReference, Gpt2RandomRoundTrip) {
    SKIP_WITHOUT("ggml-vocab-gpt-2.gguf");
    std::mt19937 rng(5);
    for (int trial = 0; trial < 300; ++trial) {
        const std::string text = trial % 2 ? test::randomBytes(rng, 80) : test::randomPieces(rng, 16);
        const Encoding e = gpt2().encode(text);
        ASSERT_EQ(gpt2().decode(e.ids), text) << "trial " << trial;
        test::expectOffsetsCover(gpt2(), text, e);
        if (HasFailure()) return;
    }
}

TEST(TokenizerReference, LlamaSpmMatchesHuggingFaceOnLlamaCppTexts) {
    SKIP_WITHOUT("ggml-vocab-llama-spm.gguf");
    SKIP_WITHOUT("ggml-vocab-llama-spm.gguf.out");
    const Tokenizer& tok = llamaSpm();
    EXPECT_EQ(tok.vocabSize(), 32000);
    EXPECT_TRUE(tok.spec().addBos);
    const auto cases = readCases("ggml-vocab-llama-spm.gguf");
    ASSERT_GE(cases.size(), 40u);
    for (const Case& c : cases) {
        // The .out ids were made without special tokens, so no BOS.
        EXPECT_EQ(tok.encodeIds(c.text, false), c.ids) << "text: " << printableBytes(c.text);
        const std::vector<int> withBos = tok.encodeIds(c.text);
        ASSERT_FALSE(withBos.empty());
        EXPECT_EQ(withBos[0], 1);
        EXPECT_EQ(tok.decode(withBos), c.text);
    }
}

// llama2.c's tokenizer.bin: int32 max_token_length, then per piece float32 score, int32
// length, bytes. Its export writes "▁" as a space and BOS/EOS as "\n<s>\n", "\n</s>\n";
// undo both to get SentencePiece's own pieces.
TokenizerSpec specFromLlama2c(const std::string& name) {
    const std::string data = test::readFile(sharedData(name));
    TokenizerSpec spec;
    spec.kind = TokenizerKind::SentencePieceBpe;
    std::size_t pos = 4;
    auto read = [&](void* dst, std::size_t n) {
        if (pos + n > data.size()) throw std::runtime_error(name + " is truncated");
        std::memcpy(dst, data.data() + pos, n);
        pos += n;
    };
    while (pos < data.size()) {
        float score;
        std::int32_t len;
        read(&score, 4);
        read(&len, 4);
        std::string piece(std::size_t(len), '\0');
        read(piece.data(), piece.size());
        std::string mapped;
        for (char c : piece) mapped += c == ' ' ? std::string("▁") : std::string(1, c);
        spec.vocab.push_back(mapped);
        spec.scores.push_back(score);
    }
    spec.vocab.at(1) = "<s>";
    spec.vocab.at(2) = "</s>";
    spec.bosId = 1;
    spec.eosId = 2;
    spec.addBos = true;
    return spec;
}

TEST(TokenizerReference, Llama2cVectors) {
    SKIP_WITHOUT("llama2c-tokenizer.bin");
    SKIP_WITHOUT("llama2-spm-vectors.json");
    const Tokenizer tok(specFromLlama2c("llama2c-tokenizer.bin"));
    EXPECT_EQ(tok.vocabSize(), 32000);
    const auto vectors = nlohmann::json::parse(test::readFile(sharedData("llama2-spm-vectors.json")));
    ASSERT_EQ(vectors.size(), 5u);
    for (const auto& v : vectors) {
        const std::string text = v.at("text");
        const std::vector<int> expected = v.at("ids");  // BOS first
        EXPECT_EQ(tok.encodeIds(text), expected) << "text: " << text;
        EXPECT_EQ(tok.decode(expected), text);
    }
}

TEST(TokenizerReference, LlamaSpmAndLlama2cAgree) {
    SKIP_WITHOUT("llama2c-tokenizer.bin");
    SKIP_WITHOUT("ggml-vocab-llama-spm.gguf");
    const Tokenizer l2c(specFromLlama2c("llama2c-tokenizer.bin"));
    std::mt19937 rng(11);
    for (int trial = 0; trial < 100; ++trial) {
        const std::string text = test::randomPieces(rng, 14);
        EXPECT_EQ(l2c.encodeIds(text), llamaSpm().encodeIds(text)) << printableBytes(text);
    }
}

double megabytesPerSecond(const Tokenizer& tok, const std::string& text, std::size_t* nTokens) {
    const auto start = std::chrono::steady_clock::now();
    *nTokens = tok.encode(text).ids.size();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return double(text.size()) / 1e6 / seconds;
}

TEST(TokenizerPerformance, EncodesOneMegabyteWellUnderASecond) {
    SKIP_WITHOUT("ggml-vocab-gpt-2.gguf");
    SKIP_WITHOUT("ggml-vocab-llama-spm.gguf");
    const std::string text = test::syntheticCorpus(1 << 20);
    std::size_t n = 0;
    const double gpt2Speed = megabytesPerSecond(gpt2(), text, &n);
    std::cout << "GPT-2 byte BPE: " << gpt2Speed << " MB/s, " << n << " tokens\n";
    const double spmSpeed = megabytesPerSecond(llamaSpm(), text, &n);
    std::cout << "Llama SentencePiece BPE: " << spmSpeed << " MB/s, " << n << " tokens\n";
#ifdef NDEBUG
    EXPECT_GT(gpt2Speed, 2.0);  // 1 MB in under half a second, with room for a busy machine
    EXPECT_GT(spmSpeed, 2.0);
#endif
}

}  // namespace
}  // namespace mwb
