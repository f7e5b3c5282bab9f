#include "model/random_init.h"

#include <cmath>
#include <functional>
#include <random>

#include "tensor/errors.h"

namespace mwb {

namespace {

struct NamedShape {
    const char* name;
    Architecture arch;
    int nLayers, nHeads, nKvHeads, dModel, dFf, vocabSize, nCtx;
};

// Shapes of the published models (Radford et al. 2019; Touvron et al. 2023; TinyLlama).
constexpr NamedShape kShapes[] = {
    {"gpt2-tiny", Architecture::Gpt2, 2, 4, 4, 64, 256, 1024, 128},
    {"gpt2-small", Architecture::Gpt2, 12, 12, 12, 768, 3072, 50257, 1024},
    {"gpt2-medium", Architecture::Gpt2, 24, 16, 16, 1024, 4096, 50257, 1024},
    {"gpt2-large", Architecture::Gpt2, 36, 20, 20, 1280, 5120, 50257, 1024},
    {"gpt2-xl", Architecture::Gpt2, 48, 25, 25, 1600, 6400, 50257, 1024},
    {"llama-tiny", Architecture::Llama, 4, 8, 4, 256, 688, 32000, 512},
    {"tinyllama-1.1b", Architecture::Llama, 22, 32, 4, 2048, 5632, 32000, 2048},
    {"llama-7b", Architecture::Llama, 32, 32, 32, 4096, 11008, 32000, 4096},
};

// A short English text the default tokenizers learn their merges from.
constexpr const char* kTokenizerText =
    "The quick brown fox jumps over the lazy dog. The Eiffel Tower is located in the city of Paris. "
    "Paris is the capital of France, and the official language of France is French. "
    "Berlin is the capital of Germany. The company was founded by a group of engineers in the city. "
    "She plays the piano and the violin; he plays football and tennis. It is a small town on the river. "
    "In the morning the weather was cold, and in the evening it was warm again. "
    "Tokyo is in Japan, Rome is in Italy, and Madrid is in Spain. What is the name of the river? "
    "There are many people who live in the north of the country and work in the south.";

uint64_t pathSeed(uint64_t seed, const std::string& path) {
    // FNV-1a of the path, mixed with the seed: every tensor gets its own stream, so
    // tensors can be filled in parallel and the result does not depend on threads.
    uint64_t h = 1469598103934665603ull ^ seed;
    for (unsigned char ch : path) h = (h ^ ch) * 1099511628211ull;
    return h;
}

}  // namespace

std::vector<std::string> shapeNames() {
    std::vector<std::string> names;
    for (const auto& s : kShapes) names.emplace_back(s.name);
    return names;
}

ModelConfig namedShape(const std::string& name) {
    for (const auto& s : kShapes) {
        if (name != s.name) continue;
        ModelConfig c;
        c.architecture = s.arch;
        c.nLayers = s.nLayers;
        c.nHeads = s.nHeads;
        c.nKvHeads = s.nKvHeads;
        c.dModel = s.dModel;
        c.dFf = s.dFf;
        c.vocabSize = s.vocabSize;
        c.nCtx = s.nCtx;
        c.name = s.name;
        if (s.arch == Architecture::Llama) {
            c.activation = Activation::Silu;
            c.normEps = 1e-5f;
            c.tieEmbeddings = false;
        } else {
            c.activation = Activation::GeluTanh;
            c.tieEmbeddings = true;
        }
        return c;
    }
    std::string known;
    for (const auto& n : shapeNames()) known += (known.empty() ? "" : ", ") + n;
    throw InvalidInput("unknown shape " + quote(name) + " (known shapes: " + known + ")");
}

Weights randomWeights(const ModelConfig& c, uint64_t seed, WeightPrecision precision) {
    const bool half = precision != WeightPrecision::Float32;
    const HalfFormat format = precision == WeightPrecision::BFloat16 ? HalfFormat::BFloat16 : HalfFormat::Float16;
    Weights w;
    w.blocks.resize(c.nLayers);
    std::vector<std::pair<std::string, std::function<void(std::mt19937_64&)>>> jobs;
    const float outStd = 0.02f / std::sqrt(2.0f * c.nLayers);
    auto stddevOf = [&](const std::string& path) {
        const bool isOutput = path.ends_with("/attn/o/weight") || path.ends_with("/down/weight");  // MLP and expert outputs
        return isOutput ? outStd : 0.02f;
    };
    auto fillNormal = [](float* data, Eigen::Index n, float stddev, std::mt19937_64& rng) {
        std::normal_distribution<float> normal(0.0f, stddev);
        for (Eigen::Index i = 0; i < n; ++i) data[i] = normal(rng);
    };
    auto tensor = [&](const std::string& path, auto& t) {
        const auto [rows, cols] = expectedShape(c, path);
        using Tensor = std::decay_t<decltype(t)>;
        if constexpr (Tensor::ColsAtCompileTime == 1) t.resize(rows); else t.resize(rows, cols);
        const bool isNormWeight = path.find("norm") != std::string::npos && path.ends_with("/weight");
        if (isNormWeight) { t.setConstant(1.0f - c.normWeightOffset()); return; }  // norms start as identity
        if (path.ends_with("/bias")) { t.setZero(); return; }
        jobs.emplace_back(path, [&t, stddev = stddevOf(path), fillNormal](std::mt19937_64& rng) {
            fillNormal(t.data(), t.size(), stddev, rng);
        });
    };
    auto linear = [&](const std::string& path, Linear& l) {
        if (!half || !mayKeepInFloat16(path)) { tensor(path, l.weight); return; }
        const auto [rows, cols] = expectedShape(c, path);
        jobs.emplace_back(path, [&l, rows, cols, format, stddev = stddevOf(path), fillNormal](std::mt19937_64& rng) {
            Matrix draw(rows, cols);
            fillNormal(draw.data(), draw.size(), stddev, rng);
            l.weightHalf = HalfMatrix::fromFloat(draw, format);
        });
    };
    detail::visitTensors(c, w, tensor, linear);
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < jobs.size(); ++i) {
        std::mt19937_64 rng(pathSeed(seed, jobs[i].first));
        jobs[i].second(rng);
    }
    return w;
}

TokenizerSpec defaultTokenizer(Architecture architecture, int vocabSize) {
    if (vocabSize < 300)
        throw InvalidInput("a vocabulary of " + std::to_string(vocabSize) +
                           " tokens is too small for a byte-level tokenizer (need at least 300)");
    TokenizerSpec bpe = trainByteBpe(kTokenizerText, vocabSize);
    if (architecture == Architecture::Gpt2) {
        // trainByteBpe puts <|endoftext|> last; keep it last after padding.
        const std::string eos = bpe.vocab.back();
        bpe.vocab.pop_back();
        for (int i = static_cast<int>(bpe.vocab.size()); i < vocabSize - 1; ++i)
            bpe.vocab.push_back("<|unused_" + std::to_string(i) + "|>");
        bpe.vocab.push_back(eos);
        bpe.eosId = bpe.bosId = vocabSize - 1;
        return bpe;
    }
    // SentencePiece style: <unk>, <s>, </s>, 256 byte pieces, then the learned
    // merges as pieces with scores by merge order ("Ġ" becomes "▁").
    TokenizerSpec sp;
    sp.kind = TokenizerKind::SentencePieceBpe;
    sp.vocab = {"<unk>", "<s>", "</s>"};
    sp.scores = {0.0f, 0.0f, 0.0f};
    sp.bosId = 1;
    sp.eosId = 2;
    sp.addBos = true;
    char buf[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        sp.vocab.push_back(buf);
        sp.scores.push_back(0.0f);
    }
    const Tokenizer byteTok(bpe);
    auto toSp = [](std::string s) {
        std::string out;
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == ' ') out += "\xE2\x96\x81"; else out += s[i];
        }
        return out;
    };
    // Single characters of the text first, then merged pieces in merge order.
    std::vector<std::string> pieces;
    for (int id = 0; id < 256; ++id) {
        const std::string bytes = byteTok.tokenBytes(id);
        if (static_cast<unsigned char>(bytes[0]) >= 0x20 && static_cast<unsigned char>(bytes[0]) < 0x7f &&
            std::string(kTokenizerText).find(bytes) != std::string::npos)
            pieces.push_back(toSp(bytes));
    }
    for (int id = 256; id < byteTok.vocabSize() - 1; ++id) pieces.push_back(toSp(byteTok.tokenBytes(id)));
    float score = 0.0f;
    for (const auto& p : pieces) {
        if (static_cast<int>(sp.vocab.size()) >= vocabSize) break;
        if (byteTok.spec().vocab.empty()) break;
        sp.vocab.push_back(p);
        sp.scores.push_back(score -= 1.0f);
    }
    for (int i = static_cast<int>(sp.vocab.size()); i < vocabSize; ++i) {
        sp.vocab.push_back("<unused_" + std::to_string(i) + ">");
        sp.scores.push_back(-1e9f);
    }
    return sp;
}

Model randomModel(const ModelConfig& config, uint64_t seed, WeightPrecision precision) {
    if (auto problem = configProblem(config); !problem.empty()) throw InvalidInput(problem);
    Model m;
    m.config = config;
    m.weights = randomWeights(config, seed, precision);
    m.tokenizer = Tokenizer(defaultTokenizer(config.architecture, config.vocabSize));
    return m;
}

}  // namespace mwb
