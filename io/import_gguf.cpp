// GGUF file -> Model (see import_gguf.h). Tensor and key names are llama.cpp's
// (gguf-py/gguf/constants.py: MODEL_TENSOR names, Keys.LLM / Keys.Attention / Keys.Rope).
#include "io/import_gguf.h"

#include <climits>
#include <cmath>
#include <map>
#include <span>

#include "io/model_checks.h"
#include "tensor/errors.h"
#include "tensor/half_matrix.h"

namespace mwb {

namespace fs = std::filesystem;

namespace {

// How one general.architecture maps onto the model core. An architecture whose blocks the
// core computes is one more row here and, if its tensors differ, one more case in
// ggufSources. What each row says about a tensor follows what llama.cpp's
// convert_hf_to_gguf.py does to the Hugging Face checkpoint for that architecture.
struct GgufArchitecture {
    const char* name;
    Architecture architecture;
    // GGUF does not record the activation; this is the one of the Hugging Face configs
    // the converter reads (Pythia's hidden_act is "gelu", the exact GELU).
    Activation activation;
    // LlamaModel.modify_tensors -> permute reorders the rows of attn_q and attn_k of each
    // head from Hugging Face's rotate-half order (pair i = rows i, i + dHead/2) into
    // interleaved pairs (rows 2i, 2i + 1), because llama.cpp rotates llama heads with
    // interleaved pairs. The other rows leave them alone: Qwen2Model, Qwen3Model,
    // Gemma2Model, Phi3MiniModel and Olmo2Model derive from TextModel without permuting,
    // and llama.cpp rotates those heads rotate-half (LLAMA_ROPE_TYPE_NEOX).
    bool permutedQk;
    bool qkvBias;      // blk.N.attn_{q,k,v}.bias (Qwen 2)
    // blk.N.attn_qkv holds q, k and v stacked: GPT-2's c_attn, Phi-3's qkv_proj, and
    // GPT-NeoX's query_key_value, which GPTNeoXModel.modify_tensors reorders from
    // per-head [q_h; k_h; v_h] blocks into [all q; all k; all v].
    bool fusedQkv;
    bool fusedGateUp;  // blk.N.ffn_up holds Phi-3's gate_up_proj: gate rows, then up rows
    // Gemma2Model.modify_tensors writes every "*norm.weight" as w + 1, so that llama.cpp
    // can multiply by it; the model core keeps Hugging Face's w of its (1 + w) norms.
    bool normsPlusOne;
    bool layerNorm;    // <arch>.attention.layer_norm_epsilon rather than ..._rms_epsilon
};

constexpr GgufArchitecture kArchitectures[] = {
    {"llama", Architecture::Llama, Activation::Silu, true, false, false, false, false, false},
    {"qwen2", Architecture::Llama, Activation::Silu, false, true, false, false, false, false},
    {"qwen3", Architecture::Qwen3, Activation::Silu, false, false, false, false, false, false},
    {"gemma2", Architecture::Gemma2, Activation::GeluTanh, false, false, false, false, true, false},
    {"phi3", Architecture::Phi3, Activation::Silu, false, false, true, true, false, false},
    {"olmo2", Architecture::Olmo2, Activation::Silu, false, false, false, false, false, false},
    {"gptneox", Architecture::GptNeoX, Activation::Gelu, false, false, true, false, false, true},
    {"gpt2", Architecture::Gpt2, Activation::GeluTanh, false, false, true, false, false, true},
};

// Where a project tensor comes from: rows [firstRow, firstRow + rows) of a GGUF tensor of
// totalRows rows (0: just these rows; a vector's elements count as rows), the number of
// heads whose rows to reorder, and a constant to subtract from every value.
struct GgufSource {
    std::string name;
    int64_t firstRow = 0;
    int permuteHeads = 0;
    int64_t totalRows = 0;
    float subtract = 0.0f;
};

std::map<std::string, GgufSource> ggufSources(const ModelConfig& c, const GgufArchitecture& a) {
    std::map<std::string, GgufSource> s;
    s["/embed/token"] = {"token_embd.weight"};
    s["/embed/position"] = {"position_embd.weight"};
    s["/final_norm/weight"] = {"output_norm.weight"};
    s["/final_norm/bias"] = {"output_norm.bias"};
    s["/lm_head/weight"] = {"output.weight"};
    const int64_t dq = int64_t(c.nHeads) * c.dHead(), dkv = int64_t(c.nKvHeads) * c.dHead();
    for (int l = 0; l < c.nLayers; ++l) {
        const std::string p = "/blocks/" + std::to_string(l) + "/", g = "blk." + std::to_string(l) + ".";
        for (const char* part : {"weight", "bias"}) {
            const std::string suffix = std::string(".") + part;
            s[p + "norm1/" + part] = {g + "attn_norm" + suffix};
            s[p + "norm2/" + part] = {g + "ffn_norm" + suffix};
            s[p + "post_attn_norm/" + part] = {g + "post_attention_norm" + suffix};
            s[p + "post_mlp_norm/" + part] = {g + "post_ffw_norm" + suffix};
            s[p + "attn/o/" + part] = {g + "attn_output" + suffix};
            s[p + "mlp/down/" + part] = {g + "ffn_down" + suffix};
            if (a.fusedGateUp) {
                s[p + "mlp/gate/" + part] = {g + "ffn_up" + suffix, 0, 0, 2 * int64_t(c.dFf)};
                s[p + "mlp/up/" + part] = {g + "ffn_up" + suffix, c.dFf, 0, 2 * int64_t(c.dFf)};
            } else {
                s[p + "mlp/up/" + part] = {g + "ffn_up" + suffix};
                s[p + "mlp/gate/" + part] = {g + "ffn_gate" + suffix};
            }
            if (a.fusedQkv) {
                s[p + "attn/q/" + part] = {g + "attn_qkv" + suffix, 0, 0, dq + 2 * dkv};
                s[p + "attn/k/" + part] = {g + "attn_qkv" + suffix, dq, 0, dq + 2 * dkv};
                s[p + "attn/v/" + part] = {g + "attn_qkv" + suffix, dq + dkv, 0, dq + 2 * dkv};
            } else {
                const int qHeads = a.permutedQk ? c.nHeads : 0, kHeads = a.permutedQk ? c.nKvHeads : 0;
                s[p + "attn/q/" + part] = {g + "attn_q" + suffix, 0, qHeads};
                s[p + "attn/k/" + part] = {g + "attn_k" + suffix, 0, kHeads};
                s[p + "attn/v/" + part] = {g + "attn_v" + suffix};
            }
        }
        s[p + "attn/q_norm/weight"] = {g + "attn_q_norm.weight"};
        s[p + "attn/k_norm/weight"] = {g + "attn_k_norm.weight"};
    }
    if (a.normsPlusOne)
        for (auto& [path, source] : s)
            if (path.find("norm") != std::string::npos && path.ends_with("/weight")) source.subtract = 1.0f;
    return s;
}

std::string dimsText(const std::vector<int64_t>& dims) {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

// Dims without trailing 1s beyond the first (a writer may store a vector as [n, 1]).
std::vector<int64_t> squeezed(std::vector<int64_t> dims) {
    while (dims.size() > 1 && dims.back() == 1) dims.pop_back();
    return dims;
}

// Undoes the converter's permutation in place: within each head of dHead rows, row
// 2i + p (interleaved pair i) goes back to row p * dHead/2 + i (rotate-half pair i).
void uninterleaveHeads(std::span<float> rows, int64_t rowLength, int heads) {
    const int64_t dHead = int64_t(rows.size()) / rowLength / heads, half = dHead / 2;
    std::vector<float> head(size_t(dHead * rowLength));
    for (int h = 0; h < heads; ++h) {
        float* base = rows.data() + h * dHead * rowLength;
        std::copy(base, base + dHead * rowLength, head.begin());
        for (int64_t i = 0; i < half; ++i)
            for (int64_t p = 0; p < 2; ++p)
                std::copy_n(head.begin() + (2 * i + p) * rowLength, rowLength,
                            base + (p * half + i) * rowLength);
    }
}

class Importer {
public:
    Importer(const GgufFile& gguf, const GgufArchitecture& arch, const ModelConfig& c)
        : m_gguf(gguf), m_c(c), m_sources(ggufSources(c, arch)) {}

    // The GGUF tensor behind project tensor `path`, checked against the expected shape.
    const GgufTensorInfo& source(const std::string& path, int64_t rows, int64_t cols,
                                 bool isVector) const {
        const GgufSource& s = m_sources.at(path);
        const GgufTensorInfo* t = m_gguf.findTensor(s.name);
        if (!t) m_gguf.fail("tensor '" + s.name + "'", "is missing (needed for " + path + ")");
        // The full GGUF tensor: a stacked tensor holds the rows of q, k and v (or gate and up).
        const int64_t totalRows = s.totalRows > 0 ? s.totalRows : rows;
        const std::vector<int64_t> expected =
            isVector ? std::vector<int64_t>{totalRows} : std::vector<int64_t>{cols, totalRows};
        if (squeezed(t->dims) != expected)
            m_gguf.fail("tensor '" + s.name + "'", "has shape " + dimsText(t->dims) + ", expected " +
                                                       dimsText(expected) + " from the metadata");
        return *t;
    }

    // Decodes project tensor `path` ([rows, cols] row-major, or a vector of `rows`) into `out`.
    // `t` is source(path, ...), checked before the caller allocated `out`.
    void decode(const std::string& path, const GgufTensorInfo& t, int64_t rows, int64_t cols,
                bool isVector, std::span<float> out) const {
        const GgufSource& s = m_sources.at(path);
        if (isVector) {
            std::vector<float> all(size_t(t.elements));
            m_gguf.read(t, all);
            std::copy_n(all.begin() + s.firstRow, rows, out.begin());
        } else {
            m_gguf.readRows(t, s.firstRow, rows, out);
        }
        const int64_t dims[] = {rows, cols};
        if (const auto problem = nonFiniteProblem(out.data(), dims))
            m_gguf.fail("tensor '" + s.name + "'", *problem);
        if (s.permuteHeads > 0) uninterleaveHeads(out, cols, s.permuteHeads);
        // (w + 1) - 1 in float32 is w only up to rounding: not bit-exact for every w.
        if (s.subtract != 0.0f)
            for (float& x : out) x -= s.subtract;
    }

    template <typename Tensor>
    void tensor(const std::string& path, Tensor& t) {
        const auto [rows, cols] = expectedShape(m_c, path);
        constexpr bool isVector = Tensor::ColsAtCompileTime == 1;
        const GgufTensorInfo& info = source(path, rows, cols, isVector);
        if constexpr (isVector) t.resize(rows);
        else t.resize(rows, cols);
        decode(path, info, rows, cols, isVector, std::span<float>(t.data(), size_t(t.size())));
    }

    void linear(const std::string& path, Linear& l, WeightPrecision precision) {
        if (precision != WeightPrecision::Float16) return tensor(path, l.weight);  // all of them: see import_gguf.h
        const auto [rows, cols] = expectedShape(m_c, path);
        const GgufTensorInfo& info = source(path, rows, cols, false);
        Matrix scratch(rows, cols);
        decode(path, info, rows, cols, false, std::span<float>(scratch.data(), size_t(scratch.size())));
        l.weightHalf = HalfMatrix::fromFloat(scratch);
    }

private:
    const GgufFile& m_gguf;
    const ModelConfig& m_c;
    std::map<std::string, GgufSource> m_sources;
};

int positiveInt(const GgufFile& g, const std::string& key, int64_t value) {
    if (value <= 0 || value > INT_MAX)
        g.fail("key '" + key + "'", "is " + std::to_string(value) + ", not a positive size");
    return int(value);
}

// The rotary scaling: llama.rope.scaling.type linear (or the older rope.scale_linear), or a
// rope_freqs tensor. llama.cpp's converter writes Llama 3.1's scaling as rope_freqs (one
// divisor per frequency, LlamaModel.generate_extra_tensors); it is taken as llama3 scaling
// when it equals what llama3 with Meta's published low_freq_factor 1, high_freq_factor 4
// and original context 8192 gives for its largest divisor, as linear scaling when all
// divisors are equal, and refused otherwise.
RopeScaling ropeScaling(const GgufFile& g, const std::string& p, ModelConfig& c) {
    RopeScaling s;
    const std::string type = g.string(p + "rope.scaling.type", "");
    if (type == "linear") {
        s.type = RopeScalingType::Linear;
        s.factor = g.number(p + "rope.scaling.factor");
    } else if (type.empty() || type == "none") {
        if (g.has(p + "rope.scale_linear") && g.number(p + "rope.scale_linear") != 1.0) {
            s.type = RopeScalingType::Linear;
            s.factor = g.number(p + "rope.scale_linear");
        }
    } else {
        g.fail("key '" + p + "rope.scaling.type'",
               "is " + quote(type) + "; this program computes linear and llama3 rotary scaling only");
    }
    const GgufTensorInfo* freqs = g.findTensor("rope_freqs.weight");
    if (!freqs) return s;
    const std::string what = "tensor 'rope_freqs.weight'";
    const int half = c.rotaryDims() / 2;
    if (freqs->elements != half)
        g.fail(what, "has " + std::to_string(freqs->elements) + " values, expected " + std::to_string(half));
    if (s.type != RopeScalingType::None) g.fail(what, "is present although " + p + "rope.scaling.type is set");
    std::vector<float> divisor(static_cast<size_t>(half));
    g.read(*freqs, divisor);
    const auto matches = [&](const RopeScaling& candidate) {
        ModelConfig scaled = c, plain = c;
        scaled.ropeScaling = candidate;
        plain.ropeScaling = {};
        for (int i = 0; i < half; ++i) {
            const double expected = ropeInverseFrequency(plain, i, c.rotaryDims()) / divisor[size_t(i)];
            const double got = ropeInverseFrequency(scaled, i, c.rotaryDims());
            if (!(std::abs(got - expected) <= 1e-5 * std::abs(expected))) return false;
        }
        return true;
    };
    const float largest = *std::max_element(divisor.begin(), divisor.end());
    RopeScaling llama3{RopeScalingType::Llama3, double(largest), 1.0, 4.0, 8192};
    if (matches(llama3)) return llama3;
    RopeScaling linear{RopeScalingType::Linear, double(largest)};
    if (matches(linear)) return largest == 1.0f ? RopeScaling{} : linear;
    g.fail(what, "holds rotary divisors that match neither llama3 scaling (low_freq_factor 1, "
                 "high_freq_factor 4, original context 8192) nor linear scaling");
}

// The head size (attention.key_length, when heads are not d_model / head_count wide, as in
// Qwen 3 and Gemma 2) and the rotated dimensions (rope.dimension_count: partial rotary of
// GPT-NeoX and Phi-3 variants; llama.cpp rotates the first n_rot dimensions of each head).
void readHeadShape(const GgufFile& g, const std::string& p, const GgufArchitecture& a, ModelConfig& c) {
    if (g.has(p + "attention.key_length")) {
        const int keyLength = positiveInt(g, p + "attention.key_length", g.integer(p + "attention.key_length"));
        const int64_t valueLength = g.integer(p + "attention.value_length", keyLength);
        if (valueLength != keyLength)
            g.fail("key '" + p + "attention.value_length'",
                   "is " + std::to_string(valueLength) + ", but this program needs it equal to key_length (" +
                       std::to_string(keyLength) + ")");
        if (int64_t(keyLength) * c.nHeads != c.dModel) c.headDim = keyLength;
    }
    if (!g.has(p + "rope.dimension_count")) return;
    const std::string key = p + "rope.dimension_count";
    const int64_t dims = g.integer(key);
    if (dims <= 0 || dims > c.dHead() || dims % 2 != 0)
        g.fail("key '" + key + "'", "is " + std::to_string(dims) +
                                        ", but this program rotates an even number of dimensions of at most the "
                                        "head size (" + std::to_string(c.dHead()) + ")");
    // A permuted llama head interleaves pairs across the whole head, which is rotate-half
    // order only when the whole head rotates.
    if (dims < c.dHead() && a.permutedQk)
        g.fail("key '" + key + "'", "is " + std::to_string(dims) + ", less than the head size " +
                                        std::to_string(c.dHead()) +
                                        "; this program cannot undo the converter's row order of a "
                                        "partially rotated llama head");
    // The Hugging Face import keeps GPT-NeoX's rotary_pct as a count even when it is 1.
    if (dims < c.dHead() || c.architecture == Architecture::GptNeoX) c.rotaryDim = int(dims);
}

// The sliding window (<arch>.attention.sliding_window), where the architecture slides.
// Gemma 2 slides on the even layers (llama.cpp: set_swa_pattern(2), layer il slides when
// il % 2 < 1; Hugging Face: layer_idx % 2 == 0). Phi-3's converter writes its
// sliding_window (0 when there is none), applied on every layer as Hugging Face's Phi3
// does; llama.cpp itself ignores it for phi3. OLMo 3, which the converter also writes as
// olmo2, slides on three layers of every four, which the model core does not compute.
void readSlidingWindow(const GgufFile& g, const std::string& p, ModelConfig& c) {
    const std::string key = p + "attention.sliding_window";
    if (!g.has(key)) return;
    const int64_t window = g.integer(key);
    if (c.architecture == Architecture::Olmo2 && window > 0) {
        g.fail("key '" + key + "'", "is set; this program computes OLMo 2, which has no sliding window, "
                                     "not OLMo 3's sliding window on three layers of every four");
    }
    if (c.architecture != Architecture::Gemma2 && c.architecture != Architecture::Phi3) return;
    if (window < 0 || window > INT_MAX)
        g.fail("key '" + key + "'", "is " + std::to_string(window) + ", not a window size");
    c.slidingWindow = int(window);
    c.slidingLayers = c.architecture == Architecture::Gemma2 ? SlidingLayers::Even : SlidingLayers::All;
}

ModelConfig readConfig(const GgufFile& g, const GgufArchitecture& a) {
    const std::string p = std::string(a.name) + ".";
    ModelConfig c;
    c.architecture = a.architecture;
    c.activation = a.activation;
    // Mixtral, OLMoE and Qwen-MoE GGUF files store their experts stacked per layer
    // (ffn_gate_exps); this importer reads dense MLPs only.
    if (const int64_t experts = g.integer(p + "expert_count", 0); experts > 0)
        g.fail("key '" + p + "expert_count'", "is " + std::to_string(experts) +
                                                  "; mixture-of-experts GGUF files are not imported (import the "
                                                  "Hugging Face folder instead)");
    c.dModel = positiveInt(g, p + "embedding_length", g.integer(p + "embedding_length"));
    c.dFf = positiveInt(g, p + "feed_forward_length", g.integer(p + "feed_forward_length"));
    c.nLayers = positiveInt(g, p + "block_count", g.integer(p + "block_count"));
    c.nHeads = positiveInt(g, p + "attention.head_count", g.integer(p + "attention.head_count"));
    c.nKvHeads = positiveInt(g, p + "attention.head_count_kv",
                             g.integer(p + "attention.head_count_kv", c.nHeads));
    c.nCtx = positiveInt(g, p + "context_length", g.integer(p + "context_length"));
    const GgufTensorInfo* embd = g.findTensor("token_embd.weight");
    if (!embd) g.fail("tensor 'token_embd.weight'", "is missing");
    if (embd->dims.size() != 2 || embd->dims[1] <= 0 || embd->dims[1] > INT_MAX)
        g.fail("tensor 'token_embd.weight'", "has shape " + dimsText(embd->dims) + ", not [d_model, vocabulary]");
    c.vocabSize = int(embd->dims[1]);
    c.qkvBias = a.qkvBias;
    c.normEps = float(a.layerNorm ? g.number(p + "attention.layer_norm_epsilon", 1e-5)
                                  : g.number(p + "attention.layer_norm_rms_epsilon", 1e-5));
    if (c.architecture == Architecture::Gpt2) {
        c.tieEmbeddings = false;  // decided after reading output.weight
    } else {
        c.ropeTheta = float(g.number(p + "rope.freq_base", 10000.0));
        // Gemma2Model skips lm_head.weight; llama.cpp then unembeds with token_embd.
        c.tieEmbeddings = g.findTensor("output.weight") == nullptr;
        readHeadShape(g, p, a, c);
    }
    readSlidingWindow(g, p, c);
    if (c.architecture == Architecture::GptNeoX) c.parallelResidual = g.boolean(p + "use_parallel_residual", true);
    if (c.architecture == Architecture::Gemma2) {
        // llama.cpp's defaults (llama-hparams.h) when the converter did not write them.
        c.attnSoftcap = float(g.number(p + "attn_logit_softcapping", 50.0));
        c.finalSoftcap = float(g.number(p + "final_logit_softcapping", 30.0));
        // GGUF has no query_pre_attn_scalar. llama.cpp scales scores by key_length^-1/2,
        // except for the 46-layer Gemma 2 27B, where it uses (embedding_length /
        // head_count)^-1/2 (llama-model.cpp, after gemma_pytorch's config); these are the
        // query_pre_attn_scalar values of Google's 2B, 9B and 27B configs.
        c.queryPreAttnScalar = float(c.nLayers == 46 ? c.dModel / c.nHeads : c.dHead());
    }
    if (c.architecture == Architecture::Phi3)
        for (const char* name : {"rope_factors_long.weight", "rope_factors_short.weight"})
            if (g.findTensor(name))
                g.fail(std::string("tensor '") + name + "'",
                       "holds LongRoPE scaling factors (Phi-3 128k), which this program does not compute");
    if (const std::string problem = configProblem(c); !problem.empty())
        throw InvalidInput(g.path().string() + ": the metadata describes an unusable model: " + problem);
    // Every layer has tensors of its own, so a block count above the number of tensors is
    // wrong; refusing it here keeps a damaged count from sizing the model.
    if (uint64_t(c.nLayers) > g.tensors().size())
        g.fail("key '" + p + "block_count'", "is " + std::to_string(c.nLayers) + ", but the file holds only " +
                                                  std::to_string(g.tensors().size()) + " tensors");
    if (c.rotary()) c.ropeScaling = ropeScaling(g, p, c);
    const std::string name = g.string("general.name", "");
    c.name = name.empty() ? g.path().stem().string() : name;
    return c;
}

}  // namespace

TokenizerSpec readGgufTokenizer(const GgufFile& g, std::vector<std::string>& warnings) {
    const std::string model = g.string("tokenizer.ggml.model");
    TokenizerSpec spec;
    spec.vocab = g.strings("tokenizer.ggml.tokens");
    if (model == "gpt2") {
        spec.kind = TokenizerKind::ByteBpe;
        spec.merges = g.strings("tokenizer.ggml.merges");
        // llama.cpp picks its pre-tokenisation regex by this name (llama-vocab.cpp);
        // "gpt-2" is GPT-2's own, which is the one this program applies.
        const std::string pre = g.string("tokenizer.ggml.pre", "");
        if (!pre.empty() && pre != "gpt-2")
            warnings.push_back("tokenizer.ggml.pre is '" + pre +
                               "'; this program splits text with GPT-2's pre-tokenisation "
                               "pattern, so some texts are tokenised differently from llama.cpp");
    } else if (model == "llama") {
        spec.kind = TokenizerKind::SentencePieceBpe;
        if (g.has("tokenizer.ggml.scores")) {
            for (const double s : g.numbers("tokenizer.ggml.scores")) spec.scores.push_back(float(s));
            if (spec.scores.size() != spec.vocab.size())
                g.fail("key 'tokenizer.ggml.scores'",
                       "holds " + std::to_string(spec.scores.size()) + " scores for " +
                           std::to_string(spec.vocab.size()) + " tokens");
        } else {
            spec.scores.assign(spec.vocab.size(), 0.0f);
            warnings.push_back("tokenizer.ggml.scores is missing; every piece scores 0, so merges "
                               "apply left to right");
        }
        if (!g.boolean("tokenizer.ggml.add_space_prefix", true))
            warnings.push_back("tokenizer.ggml.add_space_prefix is false; this program always "
                               "prepends a space to SentencePiece input");
    } else {
        g.fail("key 'tokenizer.ggml.model'",
               "is '" + model + "'; this program reads gpt2 (byte-level BPE) and llama "
                                "(SentencePiece) vocabularies");
    }
    const auto tokenId = [&](const char* key) {
        const int64_t id = g.integer(key, -1);
        if (id < -1 || id >= int64_t(spec.vocab.size()))
            g.fail(std::string("key '") + key + "'",
                   "is " + std::to_string(id) + ", outside the vocabulary of " +
                       std::to_string(spec.vocab.size()) + " tokens");
        return int(id);
    };
    spec.bosId = tokenId("tokenizer.ggml.bos_token_id");
    spec.eosId = tokenId("tokenizer.ggml.eos_token_id");
    spec.addBos = g.boolean("tokenizer.ggml.add_bos_token", model == "llama") && spec.bosId >= 0;
    // Control (3) and user-defined (4) tokens (llama.cpp's llama_token_type) are matched in
    // text by llama.cpp; this program's byte_bpe splits out only "<|name|>" pieces.
    if (model == "gpt2" && g.has("tokenizer.ggml.token_type")) {
        const std::vector<double> types = g.numbers("tokenizer.ggml.token_type");
        int unmatched = 0;
        std::string example;
        for (size_t i = 0; i < types.size() && i < spec.vocab.size(); ++i) {
            const std::string& piece = spec.vocab[i];
            if ((types[i] == 3 || types[i] == 4) && !(piece.starts_with("<|") && piece.ends_with("|>"))) {
                if (unmatched++ == 0) example = piece;
            }
        }
        if (unmatched > 0)
            warnings.push_back(std::to_string(unmatched) + " control or user-defined tokens (such as '" +
                               example + "') are not written <|name|>; this program does not split "
                               "them out of text as llama.cpp does");
    }
    return spec;
}

ImportedModel importGguf(const fs::path& file, const ProgressFn& progress, WeightPrecision precision) {
    const GgufFile g(file);
    const std::string archName = g.string("general.architecture");
    const GgufArchitecture* arch = nullptr;
    for (const GgufArchitecture& a : kArchitectures)
        if (archName == a.name) arch = &a;
    if (!arch)
        g.fail("key 'general.architecture'",
               "is '" + archName +
                   "'; this program imports llama, qwen2, qwen3, gemma2, phi3, olmo2, gptneox and gpt2 models");
    ImportedModel out;
    Model& m = out.model;
    m.config = readConfig(g, *arch);
    const ModelConfig& c = m.config;

    TokenizerSpec spec = readGgufTokenizer(g, out.warnings);
    if (int64_t(spec.vocab.size()) > c.vocabSize)
        g.fail("key 'tokenizer.ggml.tokens'",
               "holds " + std::to_string(spec.vocab.size()) + " tokens, but token_embd.weight has " +
                   std::to_string(c.vocabSize) + " rows");
    padVocabulary(spec, c.vocabSize, out.warnings);
    try {
        m.tokenizer = Tokenizer(std::move(spec));
    } catch (const Error& e) {
        g.fail("key 'tokenizer.ggml.tokens'", std::string("does not give a usable tokenizer: ") + e.what());
    }

    Importer importer(g, *arch, c);
    // GPT-2 files carry output.weight (the converter writes the tied embedding again);
    // read it like any untied unembedding and tie when it is the same matrix.
    ModelConfig readShape = c;
    if (c.architecture == Architecture::Gpt2) readShape.tieEmbeddings = g.findTensor("output.weight") == nullptr;
    int total = 0;
    detail::visitTensors(readShape, m.weights, [&](const std::string&, auto&) { ++total; },
                         [&](const std::string&, Linear&) { ++total; });
    int done = 0;
    const auto step = [&] { report(progress, {long(done++), long(total), "reading tensors"}); };
    m.weights.blocks.resize(c.nLayers);
    detail::visitTensors(
        readShape, m.weights,
        [&](const std::string& path, auto& t) {
            step();
            importer.tensor(path, t);
        },
        [&](const std::string& path, Linear& l) {
            step();
            importer.linear(path, l, precision);
        });
    report(progress, {long(total), long(total), "reading tensors"});
    if (c.architecture == Architecture::Gpt2) {
        if (!readShape.tieEmbeddings && m.weights.lmHead == m.weights.tokenEmbedding) {
            m.weights.lmHead.resize(0, 0);
            m.config.tieEmbeddings = true;
        } else {
            m.config.tieEmbeddings = readShape.tieEmbeddings;
        }
    }
    return out;
}

}  // namespace mwb
