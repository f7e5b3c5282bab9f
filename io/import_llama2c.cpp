// llama2.c checkpoint and tokenizer.bin -> Model (see import_llama2c.h).
#include "io/import_llama2c.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "tensor/errors.h"
#include "io/model_checks.h"

namespace mwb {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kHeaderBytes = 7 * 4;
constexpr uint32_t kVersionedMagic = 0x616b3432;  // "ak42": export.py --version 1 and 2

// Reads float32 tensors one after another, each checked for NaN/Inf.
class FloatReader {
public:
    FloatReader(const fs::path& file, std::ifstream& in) : m_file(file), m_in(in) {}
    void read(float* dst, int64_t count, const std::string& what) {
        m_in.read(reinterpret_cast<char*>(dst), std::streamsize(count * 4));
        if (!m_in) throw ModelFormatError(m_file, what, "cannot be read (the file is truncated)");
        const int64_t dims[] = {count};
        if (const auto problem = nonFiniteProblem(dst, dims))
            throw ModelFormatError(m_file, what, *problem);
    }
    void skip(int64_t count) { m_in.seekg(std::streamoff(count * 4), std::ios::cur); }

private:
    const fs::path& m_file;
    std::ifstream& m_in;
};

// Meta's interleaved rotary layout pairs rows (2i, 2i+1) of each head; rotate_half pairs
// (i, i + dHead/2). Row 2i + p of a head moves to p * dHead/2 + i (the permutation of
// transformers' convert_llama_weights_to_hf.py). w: [nHeads*dHead x dModel].
Matrix interleavedToHalves(const Matrix& w, int nHeads, int dHead) {
    Matrix out(w.rows(), w.cols());
    const int half = dHead / 2;
    for (int h = 0; h < nHeads; ++h)
        for (int i = 0; i < half; ++i)
            for (int p = 0; p < 2; ++p)
                out.row(h * dHead + p * half + i) = w.row(h * dHead + 2 * i + p);
    return out;
}

// llama2.c's vocabulary layout (SentencePiece with byte fallback) with placeholder pieces.
TokenizerSpec placeholderTokenizer(int vocabSize) {
    TokenizerSpec spec;
    spec.kind = TokenizerKind::SentencePieceBpe;
    spec.vocab = {"<unk>", "<s>", "</s>"};
    char buf[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        spec.vocab.push_back(buf);
    }
    for (int i = int(spec.vocab.size()); i < vocabSize; ++i)
        spec.vocab.push_back("<unused_" + std::to_string(i) + ">");
    spec.scores.assign(spec.vocab.size(), 0.0f);
    spec.bosId = 1;
    spec.eosId = 2;
    spec.addBos = true;
    return spec;
}

}  // namespace

TokenizerSpec readLlama2cTokenizer(const fs::path& file, int vocabSize) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ModelFormatError(file, "", "cannot be opened");
    std::error_code ec;
    const uint64_t size = fs::file_size(file, ec);
    int32_t maxLength = 0;
    if (!in.read(reinterpret_cast<char*>(&maxLength), 4) || maxLength <= 0)
        throw ModelFormatError(
            file, "", "does not start with a positive max_token_length; not a llama2.c tokenizer");
    TokenizerSpec spec;
    spec.kind = TokenizerKind::SentencePieceBpe;
    uint64_t pos = 4;
    while (pos < size) {
        float score = 0;
        int32_t length = 0;
        in.read(reinterpret_cast<char*>(&score), 4);
        in.read(reinterpret_cast<char*>(&length), 4);
        if (!in || length < 0 || uint64_t(length) > size - pos - 8)
            throw ModelFormatError(
                file, "", "is truncated or damaged at piece " + std::to_string(spec.vocab.size()));
        std::string bytes(size_t(length), '\0');
        in.read(bytes.data(), length);
        pos += 8 + uint64_t(length);
        std::string piece;
        for (const char c : bytes)
            piece += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
        spec.vocab.push_back(piece);
        spec.scores.push_back(score);
    }
    if (int64_t(spec.vocab.size()) != vocabSize)
        throw ModelFormatError(file, "",
                               "holds " + std::to_string(spec.vocab.size()) +
                                   " pieces, but the model has a vocabulary of " +
                                   std::to_string(vocabSize));
    if (vocabSize < 3)
        throw ModelFormatError(file, "", "holds fewer than 3 pieces (<unk>, <s>, </s>)");
    spec.vocab[1] = "<s>";
    spec.vocab[2] = "</s>";
    spec.bosId = 1;
    spec.eosId = 2;
    spec.addBos = true;
    try {
        Tokenizer check(spec);
    } catch (const Error& e) {
        throw ModelFormatError(file, "",
                               std::string("does not give a usable tokenizer: ") + e.what());
    }
    return spec;
}

ImportedModel importLlama2c(const fs::path& checkpoint, const fs::path& tokenizerBin,
                            const ProgressFn& progress) {
    std::ifstream in(checkpoint, std::ios::binary);
    if (!in) throw ModelFormatError(checkpoint, "", "cannot be opened");
    std::error_code ec;
    const int64_t fileSize = int64_t(fs::file_size(checkpoint, ec));
    int32_t h[7] = {};
    if (fileSize < kHeaderBytes || !in.read(reinterpret_cast<char*>(h), kHeaderBytes))
        throw ModelFormatError(
            checkpoint, "",
            "is too short for a llama2.c header (" + std::to_string(fileSize) + " bytes)");
    if (uint32_t(h[0]) == kVersionedMagic)
        throw ModelFormatError(
            checkpoint, "",
            "is a llama2.c checkpoint of version " + std::to_string(h[1]) +
                "; only the legacy format (export.py --version 0) can be imported");
    ImportedModel out;
    Model& m = out.model;
    ModelConfig& c = m.config;
    c.architecture = Architecture::Llama;
    c.dModel = h[0];
    c.dFf = h[1];
    c.nLayers = h[2];
    c.nHeads = h[3];
    c.nKvHeads = h[4];
    c.vocabSize = h[5] == INT32_MIN ? 0 : std::abs(h[5]);
    c.nCtx = h[6];
    c.tieEmbeddings = h[5] > 0;
    c.normEps = 1e-5f;  // run.c's rmsnorm
    c.ropeTheta = 10000.0f;
    c.activation = Activation::Silu;
    c.name = checkpoint.stem().string();
    if (const std::string problem = configProblem(c); !problem.empty())
        throw ModelFormatError(checkpoint, "",
                               "has a header that is not a llama2.c model (" + problem + ")");
    const int64_t d = c.dModel, f = c.dFf, L = c.nLayers, v = c.vocabSize, dHead = c.dHead();
    const int64_t kv = int64_t(c.nKvHeads) * dHead;
    const int64_t floats = v * d + L * (2 * d + 2 * d * d + 2 * d * kv + 3 * d * f) + d +
                           int64_t(c.nCtx) * dHead + (c.tieEmbeddings ? 0 : v * d);
    if (fileSize != kHeaderBytes + 4 * floats)
        throw ModelFormatError(checkpoint, "",
                               "has " + std::to_string(fileSize) + " bytes, but its header (dim " +
                                   std::to_string(d) + ", hidden_dim " + std::to_string(f) + ", " +
                                   std::to_string(L) + " layers, vocab_size " +
                                   std::to_string(h[5]) + ", seq_len " + std::to_string(c.nCtx) +
                                   ") needs " + std::to_string(kHeaderBytes + 4 * floats) +
                                   " bytes");

    m.weights = zeroWeights<float>(c);
    Weights& w = m.weights;
    FloatReader reader(checkpoint, in);
    const long steps = 11;
    long step = 0;
    const auto stage = [&](const char* what) { report(progress, {step++, steps, what}); };
    // Per-layer tensors are stored for all layers at once, [n_layers, ...].
    const auto eachLayer = [&](const char* name, auto member) {
        stage(name);
        for (int l = 0; l < c.nLayers; ++l) {
            auto& t = member(w.blocks[l]);
            reader.read(t.data(), t.size(), std::string(name) + " of layer " + std::to_string(l));
        }
    };
    stage("token_embedding");
    reader.read(w.tokenEmbedding.data(), w.tokenEmbedding.size(), "token_embedding_table");
    eachLayer(
        "rms_att_weight", [](BlockWeights & b) -> auto& { return b.norm1.weight; });
    eachLayer(
        "wq", [](BlockWeights & b) -> auto& { return b.q.weight; });
    eachLayer(
        "wk", [](BlockWeights & b) -> auto& { return b.k.weight; });
    eachLayer(
        "wv", [](BlockWeights & b) -> auto& { return b.v.weight; });
    eachLayer(
        "wo", [](BlockWeights & b) -> auto& { return b.o.weight; });
    eachLayer(
        "rms_ffn_weight", [](BlockWeights & b) -> auto& { return b.norm2.weight; });
    eachLayer(
        "w1", [](BlockWeights & b) -> auto& { return b.gate.weight; });
    eachLayer(
        "w2", [](BlockWeights & b) -> auto& { return b.down.weight; });
    eachLayer(
        "w3", [](BlockWeights & b) -> auto& { return b.up.weight; });
    stage("rms_final_weight");
    reader.read(w.finalNorm.weight.data(), w.finalNorm.weight.size(), "rms_final_weight");
    reader.skip(int64_t(c.nCtx) * dHead);  // freq_cis_real and freq_cis_imag: recomputed
    if (!c.tieEmbeddings) reader.read(w.lmHead.data(), w.lmHead.size(), "wcls");
    for (BlockWeights& b : w.blocks) {
        b.q.weight = interleavedToHalves(b.q.weight, c.nHeads, int(dHead));
        b.k.weight = interleavedToHalves(b.k.weight, c.nKvHeads, int(dHead));
    }
    report(progress, {steps, steps, "done"});

    if (!tokenizerBin.empty()) {
        m.tokenizer = Tokenizer(readLlama2cTokenizer(tokenizerBin, c.vocabSize));
    } else {
        if (c.vocabSize < 259)
            throw ModelFormatError(
                checkpoint, "",
                "has a vocabulary of " + std::to_string(c.vocabSize) +
                    " pieces, too few for placeholder byte pieces; give its tokenizer.bin");
        m.tokenizer = Tokenizer(placeholderTokenizer(c.vocabSize));
        out.warnings.push_back(
            "no tokenizer given: ids 3 .. 258 are taken as the byte pieces <0x00> .. <0xFF> and "
            "ids "
            "259 .. " +
            std::to_string(c.vocabSize - 1) + " are placeholders, so text is encoded byte by byte");
    }
    return out;
}

}  // namespace mwb
