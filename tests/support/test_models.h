// Tiny random models built in code, for the tests of every folder (header-only).
// Deterministic for a seed on every platform (own normal sampler, not
// std::normal_distribution).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "model/model.h"

namespace mwb {

// The 256 byte tokens of GPT-2's byte-level BPE, in GPT-2's vocabulary order (ids
// 0..255 of GPT-2): printable bytes map to themselves, the others to U+0100 onwards.
// Returns {byte value, UTF-8 string of its stand-in character} per id.
inline std::vector<std::pair<int, std::string>> gpt2ByteTokens() {
    auto utf8 = [](int cp) {
        std::string s;
        if (cp < 0x80) {
            s += char(cp);
        } else {  // all stand-ins are below U+0800
            s += char(0xC0 | (cp >> 6));
            s += char(0x80 | (cp & 0x3F));
        }
        return s;
    };
    std::vector<std::pair<int, std::string>> tokens;
    std::vector<bool> direct(256, false);
    for (int b = 0; b < 256; ++b)
        direct[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    for (int b = 0; b < 256; ++b)
        if (direct[b]) tokens.emplace_back(b, utf8(b));
    int next = 0;
    for (int b = 0; b < 256; ++b)
        if (!direct[b]) tokens.emplace_back(b, utf8(256 + next++));
    return tokens;
}

// GPT-2 style byte-level BPE: the 256 byte tokens, "Ġt", "he", "Ġthe" (merges
// "Ġ t", "h e", "Ġt he") and "<|endoftext|>" last (BOS = EOS, addBos false): 260 tokens.
inline TokenizerSpec tinyByteBpeSpec() {
    TokenizerSpec spec;
    spec.kind = TokenizerKind::ByteBpe;
    for (const auto& token : gpt2ByteTokens()) spec.vocab.push_back(token.second);
    for (const char* piece : {"\xC4\xA0t", "he", "\xC4\xA0the", "<|endoftext|>"})
        spec.vocab.push_back(piece);
    spec.merges = {"\xC4\xA0 t", "h e", "\xC4\xA0t he"};
    spec.bosId = spec.eosId = int(spec.vocab.size()) - 1;
    spec.addBos = false;
    return spec;
}

// Llama style SentencePiece BPE with byte fallback: "<unk>", "<s>", "</s>", the 256
// "<0xNN>" pieces, then "▁", "t", "h", "e", "▁t", "he", "▁the" with decreasing scores:
// 266 tokens, BOS 1 added to prompts, EOS 2.
inline TokenizerSpec tinySentencePieceSpec() {
    TokenizerSpec spec;
    spec.kind = TokenizerKind::SentencePieceBpe;
    spec.vocab = {"<unk>", "<s>", "</s>"};
    const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b)
        spec.vocab.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
    spec.scores.assign(spec.vocab.size(), 0.0f);
    float score = -1.0f;
    for (const char* piece : {"\xE2\x96\x81", "t", "h", "e", "\xE2\x96\x81t", "he", "\xE2\x96\x81the"}) {
        spec.vocab.push_back(piece);
        spec.scores.push_back(score);
        score -= 1.0f;
    }
    spec.bosId = 1;
    spec.eosId = 2;
    spec.addBos = true;
    return spec;
}

struct TinyModelOptions {
    int nLayers = 2;
    int dModel = 16;
    int nHeads = 4;
    int nKvHeads = 0;  // 0: 2 where grouped-query attention is allowed, else nHeads
    int dFf = 32;
    int nCtx = 32;
    bool tieEmbeddings = false;
    float weightStd = 0.1f;     // weights and biases ~ N(0, weightStd²); norm weights 1 + N
    bool sentencePiece = false;  // tokenizer: tinySentencePieceSpec instead of tinyByteBpeSpec
    bool qkvBias = false;        // llama: biases on q, k and v (Qwen 2)
    // Mixture of experts (docs/mixture-of-experts.md); 0 experts: dense.
    int nExperts = 0;
    int nExpertsPerToken = 2;
    int dExpert = 8;
    int dSharedExpert = 0;
    bool normTopK = false;
    std::vector<int> denseLayers{};
};

// The tests' tiny mixture of experts: three sparse layers of five experts of width 8,
// two per token, weights large enough that the routing is decided (N(0, 0.3²)).
inline TinyModelOptions tinyMoeOptions(bool normTopK) {
    TinyModelOptions o;
    o.nLayers = 3;
    o.weightStd = 0.3f;
    o.nExperts = 5;
    o.nExpertsPerToken = 2;
    o.dExpert = 8;
    o.normTopK = normTopK;
    return o;
}

// What the tiny models of the newer architectures exercise, on top of the shape: partial
// rotary (GPT-J, GPT-NeoX, Phi-3), parallel residual (GPT-NeoX), head_dim != d_model /
// n_head (Qwen 3, Gemma 2), soft-capping and a sliding window shorter than the test
// prompts (Gemma 2 on the even layers, Phi-3 on all).
inline void tinyArchitecturePieces(ModelConfig& c) {
    switch (c.architecture) {
        case Architecture::GptJ: c.rotaryDim = c.dHead() / 2; break;
        case Architecture::GptNeoX:
            c.rotaryDim = c.dHead() / 2;
            c.parallelResidual = true;
            c.activation = Activation::Gelu;
            break;
        case Architecture::Qwen3: c.headDim = 2 * c.dModel / c.nHeads; break;
        case Architecture::Gemma2:
            c.headDim = 2 * c.dModel / c.nHeads;
            c.attnSoftcap = 8.0f;
            c.finalSoftcap = 10.0f;
            c.queryPreAttnScalar = 6.0f;
            c.slidingWindow = 4;
            c.slidingLayers = SlidingLayers::Even;
            break;
        case Architecture::Phi3:
            c.rotaryDim = c.dHead() / 2;
            c.slidingWindow = 6;
            break;
        default: break;
    }
}

// Whether the architecture's Hugging Face class allows n_kv_head < n_head.
inline bool allowsGroupedQuery(Architecture a) {
    return a != Architecture::Gpt2 && a != Architecture::GptJ && a != Architecture::GptNeoX;
}

// A tiny model with random normal weights and a working tokenizer (vocabSize = the
// tokenizer's size, 260 or 266). gpt2: gelu_tanh; llama: silu, rope_theta 10000; the
// other architectures with tinyArchitecturePieces.
inline Model makeTinyModel(Architecture architecture, uint64_t seed,
                           const TinyModelOptions& options = {}) {
    Model m;
    TokenizerSpec spec = options.sentencePiece ? tinySentencePieceSpec() : tinyByteBpeSpec();
    ModelConfig& c = m.config;
    c.architecture = architecture;
    c.nLayers = options.nLayers;
    c.nHeads = options.nHeads;
    c.nKvHeads = options.nKvHeads > 0 ? options.nKvHeads
                                       : (allowsGroupedQuery(architecture) ? 2 : options.nHeads);
    c.dModel = options.dModel;
    c.dFf = options.dFf;
    c.vocabSize = int(spec.vocab.size());
    c.nCtx = options.nCtx;
    c.normEps = c.rmsNorm() ? 1e-6f : 1e-5f;
    c.activation = c.gatedMlp() && architecture != Architecture::Gemma2 ? Activation::Silu : Activation::GeluTanh;
    c.ropeTheta = 10000.0f;
    c.tieEmbeddings = options.tieEmbeddings;
    c.qkvBias = options.qkvBias && architecture == Architecture::Llama;
    c.name = "tiny-" + toString(architecture) + "-" + std::to_string(seed);
    tinyArchitecturePieces(c);
    if (options.nExperts > 0) {
        c.nExperts = options.nExperts;
        c.nExpertsPerToken = options.nExpertsPerToken;
        c.dExpert = options.dExpert;
        c.dSharedExpert = options.dSharedExpert;
        c.normTopK = options.normTopK;
        c.denseLayers = options.denseLayers;
    }

    std::mt19937_64 rng(seed);
    auto normal = [&rng]() {  // Box-Muller on 53-bit uniforms
        const double u1 = (double(rng() >> 11) + 1.0) * 0x1p-53;
        const double u2 = double(rng() >> 11) * 0x1p-53;
        return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    };
    m.weights = zeroWeights<float>(c);
    forEachTensor(c, m.weights, [&](const std::string& path, auto& t) {
        const bool normWeight = path.find("norm") != std::string::npos &&
                                path.compare(path.size() - 7, 7, "/weight") == 0;
        for (Eigen::Index i = 0; i < t.size(); ++i)
            t.data()[i] = (normWeight ? 1.0f - c.normWeightOffset() : 0.0f) + options.weightStd * normal();
    });
    m.tokenizer = Tokenizer(std::move(spec));
    return m;
}

}  // namespace mwb
