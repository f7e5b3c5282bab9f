// config.json <-> ModelConfig (see hf_config.h).
#include "io/hf_config.h"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "tensor/errors.h"
#include "tensor/files.h"
#include "tensor/json_read.h"

namespace mwb {

namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;

// Upper bounds of config.json's sizes: far above any published model, low enough that
// the products of them the program computes stay in range.
constexpr int kMaxLayers = 4096;
constexpr int kMaxHeads = 4096;
constexpr int kMaxWidth = 1 << 20;
constexpr int kMaxVocabulary = 1 << 24;
constexpr int kMaxContext = 1 << 24;

class ConfigReader {
public:
    // `prefix` names a nested object in messages ("rope_scaling.").
    ConfigReader(fs::path file, const Json& j, std::string prefix = {})
        : m_file(std::move(file)), m_j(j), m_prefix(std::move(prefix)) {}

    bool has(const char* key) const { return m_j.contains(key) && !m_j.at(key).is_null(); }

    int integer(const char* key) const {
        if (!has(key)) fail(key, "is missing");
        return integerAt(key, m_j.at(key));
    }
    int integer(const char* key, int fallback) const { return has(key) ? integer(key) : fallback; }

    // A size of the model (layers, widths, vocabulary, context): a positive integer no
    // larger than `limit`, so that a config that lies (a negative vocabulary, 2^31
    // layers) is one sentence naming the key, before anything is allocated.
    int size(const char* key, int limit) const {
        const int v = integer(key);
        if (v < 1 || v > limit)
            fail(key, "is " + std::to_string(v) + "; expected a positive integer up to " + std::to_string(limit));
        return v;
    }
    int size(const char* key, int fallback, int limit) const { return has(key) ? size(key, limit) : fallback; }

    double number(const char* key, double fallback) const { return value<double>(key, fallback); }
    bool boolean(const char* key, bool fallback) const { return value<bool>(key, fallback); }
    std::string string(const char* key, const std::string& fallback) const {
        return value<std::string>(key, fallback);
    }
    // bos_token_id and friends: an integer, a list of integers (the first counts) or null.
    int tokenId(const char* key) const {
        if (!has(key)) return -1;
        const Json& v = m_j.at(key);
        if (v.is_array()) return v.empty() ? -1 : integerAt(key, v.front());
        return integerAt(key, v);
    }

    // The strings of the array at `key`; fails unless it is an array of strings.
    std::vector<std::string> strings(const char* key) const {
        if (!has(key) || !m_j.at(key).is_array()) fail(key, "is not an array");
        std::vector<std::string> out;
        for (const Json& v : m_j.at(key)) {
            if (!v.is_string()) fail(key, "holds a value that is not a string");
            out.push_back(v.get<std::string>());
        }
        return out;
    }

    // The object at `key` read by its own reader; fails unless it is an object.
    ConfigReader object(const char* key) const {
        if (!has(key) || !m_j.at(key).is_object()) fail(key, "is not an object");
        return ConfigReader(m_file, m_j.at(key), m_prefix + key + ".");
    }
    // A number that must be present.
    double requiredNumber(const char* key) const {
        if (!has(key)) fail(key, "is missing");
        return number(key, 0.0);
    }

    [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
        throw ModelFormatError(m_file, m_prefix + key, problem);
    }

private:
    template <typename T>
    T value(const char* key, const T& fallback) const {
        if (!has(key)) return fallback;
        std::optional<T> v = jsonAs<T>(m_j.at(key));
        if (!v) fail(key, std::string("is not ") + jsonTypeName<T>());
        return std::move(*v);
    }
    int integerAt(const char* key, const Json& v) const {
        const std::optional<int64_t> x = jsonAs<int64_t>(v);
        if (!x) fail(key, std::string("is not ") + jsonTypeName<int64_t>());
        if (*x < INT_MIN || *x > INT_MAX) fail(key, "is out of range");
        return int(*x);
    }

    fs::path m_file;
    const Json& m_j;
    std::string m_prefix;
};

Activation activationFrom(const ConfigReader& r, const char* key, const std::string& name) {
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
        return Activation::GeluTanh;
    if (name == "gelu") return Activation::Gelu;
    if (name == "relu") return Activation::Relu;
    if (name == "silu" || name == "swish") return Activation::Silu;
    r.fail(key,
           "is " + quote(name) + "; supported are gelu_new, gelu_pytorch_tanh, gelu, relu and silu");
}

void readGpt2(const ConfigReader& r, HfConfig& out) {
    ModelConfig& c = out.config;
    c.architecture = Architecture::Gpt2;
    c.nLayers = r.size("n_layer", kMaxLayers);
    c.nHeads = c.nKvHeads = r.size("n_head", kMaxHeads);
    c.dModel = r.size("n_embd", kMaxWidth);
    c.dFf = r.size("n_inner", 4 * c.dModel, kMaxWidth);
    c.nCtx = r.size("n_positions", r.integer("n_ctx", 0), kMaxContext);
    if (c.nCtx == 0) r.fail("n_positions", "is missing");
    c.vocabSize = r.size("vocab_size", kMaxVocabulary);
    c.normEps = float(r.number("layer_norm_epsilon", 1e-5));
    c.activation =
        activationFrom(r, "activation_function", r.string("activation_function", "gelu_new"));
    c.tieEmbeddings = r.boolean("tie_word_embeddings", true);
    if (!r.boolean("scale_attn_weights", true))
        r.fail("scale_attn_weights",
               "is false; this program always scales attention by 1/sqrt(head_dim)");
    if (r.boolean("scale_attn_by_inverse_layer_idx", false))
        r.fail("scale_attn_by_inverse_layer_idx", "is true, which this program does not implement");
}

// Hugging Face's rope_scaling: {"rope_type" (or "type"): "linear" | "llama3" | "default",
// "factor", and for llama3 "low_freq_factor", "high_freq_factor",
// "original_max_position_embeddings"}. Other types are refused by name.
RopeScaling ropeScalingFrom(const ConfigReader& r) {
    const std::string type = r.has("rope_type") ? r.string("rope_type", "") : r.string("type", "");
    RopeScaling s;
    if (type == "default") return s;
    if (type != "linear" && type != "llama3")
        r.fail(r.has("rope_type") ? "rope_type" : "type",
               "is " + quote(type) + "; this program computes linear and llama3 rotary scaling only");
    s.type = parseRopeScalingType(type);
    s.factor = r.requiredNumber("factor");
    if (s.type == RopeScalingType::Llama3) {
        s.lowFreqFactor = r.requiredNumber("low_freq_factor");
        s.highFreqFactor = r.requiredNumber("high_freq_factor");
        if (!r.has("original_max_position_embeddings")) r.fail("original_max_position_embeddings", "is missing");
        s.originalContext = r.integer("original_max_position_embeddings");
    }
    return s;
}

// Refuses what the common block cannot compute: biases and MLP biases where the
// architecture has none, rotary scalings other than linear and llama3.
void readRotary(const ConfigReader& r, ModelConfig& c) {
    c.ropeTheta = float(r.number("rope_theta", 10000.0));
    if (r.has("rope_scaling")) c.ropeScaling = ropeScalingFrom(r.object("rope_scaling"));
    if (r.has("partial_rotary_factor")) {
        const double factor = r.number("partial_rotary_factor", 1.0);
        if (!(factor > 0.0 && factor <= 1.0)) r.fail("partial_rotary_factor", "must be in (0, 1]");
        if (factor < 1.0) c.rotaryDim = int(c.dHead() * factor);
    }
}

// The sliding window of Mistral-style configs: every layer, or (Qwen 2 / 3 with
// use_sliding_window) the layers from max_window_layers on. Gemma 2 alternates.
void readSlidingWindow(const ConfigReader& r, ModelConfig& c, bool useFlag) {
    if (useFlag && !r.boolean("use_sliding_window", false)) return;
    if (!r.has("sliding_window")) return;
    const int window = r.integer("sliding_window");
    if (window <= 0) r.fail("sliding_window", "must be positive");
    if (useFlag) {
        const int from = r.integer("max_window_layers", 0);
        if (from >= c.nLayers) return;  // no layer slides
        if (from > 0)
            r.fail("max_window_layers", "is " + std::to_string(from) +
                                            "; this program slides the window on all layers or none");
    }
    c.slidingWindow = window;
}

// layer_types (newer configs name each layer's attention): which layers slide, as
// all, none or the even ones; other patterns are refused.
void readLayerTypes(const ConfigReader& r, ModelConfig& c) {
    if (!r.has("layer_types")) return;
    const std::vector<std::string> types = r.strings("layer_types");
    if (int(types.size()) != c.nLayers)
        r.fail("layer_types", "names " + std::to_string(types.size()) + " layers, but num_hidden_layers is " +
                                  std::to_string(c.nLayers));
    bool all = true, none = true, even = true;
    for (int i = 0; i < c.nLayers; ++i) {
        if (types[i] != "sliding_attention" && types[i] != "full_attention")
            r.fail("layer_types", "names the attention " + quote(types[i]) +
                                      "; this program knows sliding_attention and full_attention");
        const bool sliding = types[i] == "sliding_attention";
        all &= sliding;
        none &= !sliding;
        even &= sliding == (i % 2 == 0);
    }
    if (none) {
        c.slidingWindow = 0;
        return;
    }
    if (!r.has("sliding_window")) r.fail("sliding_window", "is missing, but layer_types has sliding layers");
    c.slidingWindow = r.integer("sliding_window");
    if (c.slidingWindow <= 0) r.fail("sliding_window", "must be positive");
    if (all) c.slidingLayers = SlidingLayers::All;
    else if (even) c.slidingLayers = SlidingLayers::Even;
    else r.fail("layer_types", "slides on a pattern this program does not implement (all layers, or the even ones)");
}

// Llama, Mistral, Qwen 2 / 2.5 and 3, Phi-3 and OLMo 2: the decoder of LlamaForCausalLM
// with the pieces of `a` (qwen2: Llama with biases on q, k and v).
void readLlama(const ConfigReader& r, HfConfig& out, Architecture a, bool qwen2 = false) {
    ModelConfig& c = out.config;
    c.architecture = a;
    c.dModel = r.size("hidden_size", kMaxWidth);
    c.dFf = r.size("intermediate_size", kMaxWidth);
    c.nLayers = r.size("num_hidden_layers", kMaxLayers);
    c.nHeads = r.size("num_attention_heads", kMaxHeads);
    c.nKvHeads = r.size("num_key_value_heads", c.nHeads, kMaxHeads);
    c.vocabSize = r.size("vocab_size", kMaxVocabulary);
    c.nCtx = r.size("max_position_embeddings", 2048, kMaxContext);
    c.normEps = float(r.number("rms_norm_eps", 1e-6));
    c.tieEmbeddings = r.boolean("tie_word_embeddings", false);
    const char* actKey = r.has("hidden_activation") ? "hidden_activation" : "hidden_act";
    c.activation = activationFrom(r, actKey, r.string(actKey, "silu"));
    if (r.has("head_dim") && c.nHeads > 0) {
        const int headDim = r.size("head_dim", kMaxWidth);
        if (headDim <= 0) r.fail("head_dim", "must be positive");
        if (headDim * c.nHeads != c.dModel) c.headDim = headDim;
    }
    readRotary(r, c);
    if (r.boolean("attention_bias", false))
        r.fail("attention_bias", "is true; biases on the attention projections are supported for qwen2 only");
    if (r.boolean("mlp_bias", false))
        r.fail("mlp_bias", "is true; MLP biases are not supported in this architecture");
    c.qkvBias = qwen2;
    const bool qwen = qwen2 || a == Architecture::Qwen3;
    readSlidingWindow(r, c, qwen);
    readLayerTypes(r, c);
}

// The layers given by number in the array at `key` (Qwen-MoE's mlp_only_layers).
std::vector<int> layerList(const ConfigReader& r, const char* key, const nlohmann::json& j, int nLayers) {
    std::vector<int> out;
    if (!r.has(key)) return out;
    const Json& v = j.at(key);
    if (!v.is_array()) r.fail(key, "is not an array of layer numbers");
    for (const Json& x : v) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= nLayers)
            r.fail(key, "holds " + x.dump() + ", not a layer number below num_hidden_layers (" +
                            std::to_string(nLayers) + ")");
        out.push_back(int(x.get<int64_t>()));
    }
    return out;
}

// The mixture-of-experts families (docs/mixture-of-experts.md), each a dense family
// whose MLPs become experts:
//   mixtral    Mistral with num_local_experts SwiGLU experts of intermediate_size in
//              every layer, top num_experts_per_tok, weights always renormalised
//              (Jiang et al. 2024, "Mixtral of Experts");
//   olmoe      Llama with RMSNorm of the whole q and k projections and num_experts
//              experts of intermediate_size in every layer, norm_topk_prob (OLMoE);
//   qwen2_moe  Qwen 2 with experts of moe_intermediate_size, a shared expert of
//              shared_expert_intermediate_size scaled by sigmoid(shared_expert_gate x),
//              sparse layers every decoder_sparse_step-th except mlp_only_layers;
//   qwen3_moe  Qwen 3 with experts as qwen2_moe but no shared expert.
void readMoe(const ConfigReader& r, const nlohmann::json& j, HfConfig& out, const std::string& type) {
    ModelConfig& c = out.config;
    const bool mixtral = type == "mixtral", qwen = type == "qwen2_moe" || type == "qwen3_moe";
    if (mixtral) readLlama(r, out, Architecture::Llama);
    else if (type == "olmoe") readLlama(r, out, Architecture::Olmoe);
    else readLlama(r, out, type == "qwen3_moe" ? Architecture::Qwen3 : Architecture::Llama, type == "qwen2_moe");
    if (type == "qwen2_moe") c.qkvBias = r.boolean("qkv_bias", true);
    if (type == "olmoe" && r.has("clip_qkv"))
        r.fail("clip_qkv", "is set; this program does not clip q, k and v (OLMoE checkpoints leave it null)");
    const char* countKey = mixtral ? "num_local_experts" : "num_experts";
    c.nExperts = r.size(countKey, kMaxWidth);
    c.nExpertsPerToken = r.size("num_experts_per_tok", kMaxWidth);
    if (c.nExpertsPerToken > c.nExperts)
        r.fail("num_experts_per_tok", "is " + std::to_string(c.nExpertsPerToken) + ", more than the " +
                                          std::to_string(c.nExperts) + " experts");
    c.dExpert = qwen ? r.size("moe_intermediate_size", kMaxWidth) : c.dFf;
    c.normTopK = mixtral || r.boolean("norm_topk_prob", false);
    if (type == "qwen2_moe") c.dSharedExpert = r.size("shared_expert_intermediate_size", kMaxWidth);
    if (qwen) {
        c.moeEvery = r.size("decoder_sparse_step", 1, kMaxLayers);
        c.denseLayers = layerList(r, "mlp_only_layers", j, c.nLayers);
    }
    if (r.number("router_jitter_noise", 0.0) != 0.0)
        out.warnings.push_back("router_jitter_noise is only applied in training; the routing here has none");
}

void readGemma2(const ConfigReader& r, HfConfig& out) {
    readLlama(r, out, Architecture::Gemma2);
    ModelConfig& c = out.config;
    c.tieEmbeddings = r.boolean("tie_word_embeddings", true);
    if (!r.has("layer_types")) {  // Gemma 2 slides on the even layers (0, 2, ...)
        c.slidingWindow = 0;
        if (r.has("sliding_window")) {
            c.slidingWindow = r.integer("sliding_window");
            if (c.slidingWindow <= 0) r.fail("sliding_window", "must be positive");
            c.slidingLayers = SlidingLayers::Even;
        }
    }
    c.attnSoftcap = float(r.number("attn_logit_softcapping", 0.0));
    c.finalSoftcap = float(r.number("final_logit_softcapping", 0.0));
    c.queryPreAttnScalar = float(r.number("query_pre_attn_scalar", c.dHead()));
}

void readGptJ(const ConfigReader& r, HfConfig& out) {
    ModelConfig& c = out.config;
    c.architecture = Architecture::GptJ;
    c.nLayers = r.size("n_layer", kMaxLayers);
    c.nHeads = c.nKvHeads = r.size("n_head", kMaxHeads);
    c.dModel = r.size("n_embd", kMaxWidth);
    c.dFf = r.size("n_inner", 4 * c.dModel, kMaxWidth);
    c.nCtx = r.size("n_positions", kMaxContext);
    c.vocabSize = r.size("vocab_size", kMaxVocabulary);
    c.normEps = float(r.number("layer_norm_epsilon", 1e-5));
    c.activation = activationFrom(r, "activation_function", r.string("activation_function", "gelu_new"));
    c.tieEmbeddings = r.boolean("tie_word_embeddings", false);
    if (c.tieEmbeddings) r.fail("tie_word_embeddings", "is true, but GPT-J's lm_head has its own weight and bias");
    c.rotaryDim = r.integer("rotary_dim", 0);
    c.ropeTheta = 10000.0f;  // GPT-J's rotary base is fixed
}

void readGptNeoX(const ConfigReader& r, HfConfig& out) {
    ModelConfig& c = out.config;
    c.architecture = Architecture::GptNeoX;
    c.dModel = r.size("hidden_size", kMaxWidth);
    c.dFf = r.size("intermediate_size", kMaxWidth);
    c.nLayers = r.size("num_hidden_layers", kMaxLayers);
    c.nHeads = c.nKvHeads = r.size("num_attention_heads", kMaxHeads);
    c.vocabSize = r.size("vocab_size", kMaxVocabulary);
    c.nCtx = r.size("max_position_embeddings", 2048, kMaxContext);
    c.normEps = float(r.number("layer_norm_eps", 1e-5));
    c.activation = activationFrom(r, "hidden_act", r.string("hidden_act", "gelu"));
    c.tieEmbeddings = r.boolean("tie_word_embeddings", false);
    c.parallelResidual = r.boolean("use_parallel_residual", true);
    if (!r.boolean("attention_bias", true))
        r.fail("attention_bias", "is false; GPT-NeoX without attention biases is not supported");
    c.ropeTheta = float(r.number("rope_theta", r.number("rotary_emb_base", 10000.0)));
    if (r.has("rope_scaling")) c.ropeScaling = ropeScalingFrom(r.object("rope_scaling"));
    const char* pctKey = r.has("partial_rotary_factor") ? "partial_rotary_factor" : "rotary_pct";
    const double pct = r.number(pctKey, 0.25);
    if (!(pct > 0.0 && pct <= 1.0)) r.fail(pctKey, "must be in (0, 1]");
    if (c.nHeads > 0) c.rotaryDim = int(c.dModel / c.nHeads * pct);  // int() as GPT-NeoX truncates
    if (c.rotaryDim % 2 != 0) r.fail(pctKey, "gives an odd number of rotary dimensions");
}

// The shortest decimal that reads back as the same float, as a double (so that
// config.json says 1e-05 rather than 9.999999747378752e-06).
double plainDouble(float f) {
    char buf[32];
    for (int precision = 1; precision <= 9; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, double(f));
        if (std::strtof(buf, nullptr) == f) return std::strtod(buf, nullptr);
    }
    return double(f);
}

const char* hfActivation(Activation a, bool llama) {
    switch (a) {
        case Activation::GeluTanh:
            return llama ? "gelu_pytorch_tanh" : "gelu_new";
        case Activation::Gelu:
            return "gelu";
        case Activation::Relu:
            return "relu";
        case Activation::Silu:
            return "silu";
    }
    return "?";
}

const char* torchDtype(TensorDtype dtype) {
    switch (dtype) {
        case TensorDtype::F32:
            return "float32";
        case TensorDtype::F16:
            return "float16";
        case TensorDtype::BF16:
            return "bfloat16";
    }
    return "float32";
}

// The transformers class and model_type of a mixture-of-experts model; throws
// InvalidInput when no Hugging Face family has its combination of pieces.
std::pair<const char*, const char*> hfMoeNames(const ModelConfig& c) {
    const bool allSparse = c.moeLayerCount() == c.nLayers, shared = c.dSharedExpert > 0;
    if (c.architecture == Architecture::Llama && !c.qkvBias && !shared && allSparse && c.normTopK)
        return {"MixtralForCausalLM", "mixtral"};
    if (c.architecture == Architecture::Olmoe && !shared && allSparse) return {"OlmoeForCausalLM", "olmoe"};
    if (c.architecture == Architecture::Llama && shared) return {"Qwen2MoeForCausalLM", "qwen2_moe"};
    if (c.architecture == Architecture::Qwen3 && !shared) return {"Qwen3MoeForCausalLM", "qwen3_moe"};
    throw InvalidInput("this " + toString(c.architecture) +
                       " model with experts has no Hugging Face equivalent (mixtral, olmoe, qwen2_moe and qwen3_moe "
                       "are the families with experts that can be written)");
}

void addMoeKeys(const ModelConfig& c, nlohmann::ordered_json& j) {
    const std::string type = j["model_type"];
    j[type == "mixtral" ? "num_local_experts" : "num_experts"] = c.nExperts;
    j["num_experts_per_tok"] = c.nExpertsPerToken;
    if (type == "mixtral" || type == "olmoe") {
        j["intermediate_size"] = c.dExpert;
    } else {
        j["moe_intermediate_size"] = c.dExpert;
        j["decoder_sparse_step"] = c.moeEvery;
        j["mlp_only_layers"] = c.denseLayers;
    }
    if (type != "mixtral") j["norm_topk_prob"] = c.normTopK;
    if (type == "qwen2_moe") {
        j["shared_expert_intermediate_size"] = c.dSharedExpert;
        j["qkv_bias"] = c.qkvBias;
    }
    if (type == "olmoe") j["clip_qkv"] = nullptr;
}

}  // namespace

Json readJsonFile(const fs::path& file) {
    const std::optional<std::string> text = tryReadFile(file);
    if (!text) throw ModelFormatError(file, "", "cannot be opened");
    Json j = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw ModelFormatError(file, "", "is not valid JSON");
    return j;
}

HfConfig readHfConfig(const fs::path& configJson) {
    const Json j = readJsonFile(configJson);
    if (!j.is_object()) throw ModelFormatError(configJson, "", "is not a JSON object");
    const ConfigReader r(configJson, j);
    // model_type decides how every other key is read; guessing it (from "architectures",
    // or as gpt2) would read a config of another family with the wrong meanings.
    if (!r.has("model_type"))
        r.fail("model_type", "is missing; it names the architecture (gpt2, gptj, gpt_neox, llama, mistral, qwen2, "
                             "qwen3, gemma2, phi3, olmo2, mixtral, olmoe, qwen2_moe or qwen3_moe)");
    const std::string type = r.string("model_type", "");
    HfConfig out;
    if (type == "gpt2")
        readGpt2(r, out);
    else if (type == "llama" || type == "mistral")
        readLlama(r, out, Architecture::Llama);
    else if (type == "qwen2")
        readLlama(r, out, Architecture::Llama, true);
    else if (type == "qwen3")
        readLlama(r, out, Architecture::Qwen3);
    else if (type == "phi3")
        readLlama(r, out, Architecture::Phi3);
    else if (type == "olmo2")
        readLlama(r, out, Architecture::Olmo2);
    else if (type == "gemma2")
        readGemma2(r, out);
    else if (type == "gptj")
        readGptJ(r, out);
    else if (type == "gpt_neox")
        readGptNeoX(r, out);
    else if (type == "mixtral" || type == "olmoe" || type == "qwen2_moe" || type == "qwen3_moe")
        readMoe(r, j, out, type);
    else
        r.fail("model_type", "is " + quote(type) +
                                 "; supported are gpt2, gptj, gpt_neox, llama, mistral, qwen2, qwen3, gemma2, "
                                 "phi3, olmo2, mixtral, olmoe, qwen2_moe and qwen3_moe");
    out.bosId = r.tokenId("bos_token_id");
    out.eosId = r.tokenId("eos_token_id");
    if (const std::string name = r.string("_name_or_path", ""); name.find('/') == std::string::npos)
        out.name = name;
    if (const std::string problem = configProblem(out.config); !problem.empty())
        throw ModelFormatError(configJson, "", "describes an unusable model: " + problem);
    return out;
}

nlohmann::ordered_json hfConfigJson(const ModelConfig& c, int bosId, int eosId, TensorDtype dtype) {
    nlohmann::ordered_json j;
    const auto id = [](int v) {
        return v >= 0 ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
    };
    auto ropeScaling = [&]() {
        const RopeScaling& s = c.ropeScaling;
        if (s.type == RopeScalingType::None) return nlohmann::ordered_json(nullptr);
        nlohmann::ordered_json scaling = {{"rope_type", toString(s.type)}, {"factor", s.factor}};
        if (s.type == RopeScalingType::Llama3) {
            scaling["low_freq_factor"] = s.lowFreqFactor;
            scaling["high_freq_factor"] = s.highFreqFactor;
            scaling["original_max_position_embeddings"] = s.originalContext;
        }
        return scaling;
    };
    switch (c.architecture) {
        case Architecture::Gpt2:
        case Architecture::GptJ: {
            const bool gptj = c.architecture == Architecture::GptJ;
            j["architectures"] = {gptj ? "GPTJForCausalLM" : "GPT2LMHeadModel"};
            j["model_type"] = gptj ? "gptj" : "gpt2";
            j["n_layer"] = c.nLayers;
            j["n_head"] = c.nHeads;
            j["n_embd"] = c.dModel;
            j["n_inner"] = c.dFf;
            j["n_positions"] = c.nCtx;
            if (!gptj) j["n_ctx"] = c.nCtx;
            if (gptj) j["rotary_dim"] = c.rotaryDims();
            j["layer_norm_epsilon"] = plainDouble(c.normEps);
            j["activation_function"] = hfActivation(c.activation, false);
            break;
        }
        case Architecture::GptNeoX:
            j["architectures"] = {"GPTNeoXForCausalLM"};
            j["model_type"] = "gpt_neox";
            j["hidden_size"] = c.dModel;
            j["intermediate_size"] = c.dFf;
            j["num_hidden_layers"] = c.nLayers;
            j["num_attention_heads"] = c.nHeads;
            j["max_position_embeddings"] = c.nCtx;
            j["layer_norm_eps"] = plainDouble(c.normEps);
            j["rotary_pct"] = double(c.rotaryDims()) / c.dHead();
            j["rotary_emb_base"] = plainDouble(c.ropeTheta);
            j["rope_scaling"] = ropeScaling();
            j["use_parallel_residual"] = c.parallelResidual;
            j["attention_bias"] = true;
            j["hidden_act"] = hfActivation(c.activation, false);
            break;
        default: {
            static const std::pair<Architecture, std::pair<const char*, const char*>> kNames[] = {
                {Architecture::Llama, {"LlamaForCausalLM", "llama"}},
                {Architecture::Qwen3, {"Qwen3ForCausalLM", "qwen3"}},
                {Architecture::Gemma2, {"Gemma2ForCausalLM", "gemma2"}},
                {Architecture::Phi3, {"Phi3ForCausalLM", "phi3"}},
                {Architecture::Olmo2, {"Olmo2ForCausalLM", "olmo2"}}};
            std::pair<const char*, const char*> names{"LlamaForCausalLM", "llama"};
            for (const auto& [a, n] : kNames)
                if (a == c.architecture) names = n;
            if (c.qkvBias) names = {"Qwen2ForCausalLM", "qwen2"};
            if (c.moe()) names = hfMoeNames(c);
            else if (c.architecture == Architecture::Olmoe)
                throw InvalidInput("an olmoe model without experts has no Hugging Face equivalent");
            j["architectures"] = {names.first};
            j["model_type"] = names.second;
            j["hidden_size"] = c.dModel;
            j["intermediate_size"] = c.dFf;
            j["num_hidden_layers"] = c.nLayers;
            j["num_attention_heads"] = c.nHeads;
            j["num_key_value_heads"] = c.nKvHeads;
            j["head_dim"] = c.dHead();
            j["max_position_embeddings"] = c.nCtx;
            j["rms_norm_eps"] = plainDouble(c.normEps);
            j["rope_theta"] = plainDouble(c.ropeTheta);
            j["rope_scaling"] = ropeScaling();
            if (c.rotaryDim > 0) j["partial_rotary_factor"] = double(c.rotaryDim) / c.dHead();
            j[c.architecture == Architecture::Gemma2 ? "hidden_activation" : "hidden_act"] =
                hfActivation(c.activation, true);
            j["attention_bias"] = false;
            j["mlp_bias"] = false;
            const bool qwen = c.qkvBias || c.architecture == Architecture::Qwen3;
            if (c.architecture == Architecture::Gemma2) {
                j["sliding_window"] = c.slidingWindow > 0 ? nlohmann::ordered_json(c.slidingWindow) : nullptr;
                j["query_pre_attn_scalar"] = c.queryPreAttnScalar > 0 ? plainDouble(c.queryPreAttnScalar) : c.dHead();
                j["attn_logit_softcapping"] = c.attnSoftcap > 0 ? nlohmann::ordered_json(plainDouble(c.attnSoftcap)) : nullptr;
                j["final_logit_softcapping"] = c.finalSoftcap > 0 ? nlohmann::ordered_json(plainDouble(c.finalSoftcap)) : nullptr;
            } else if (qwen) {
                j["use_sliding_window"] = c.slidingWindow > 0;
                j["sliding_window"] = c.slidingWindow > 0 ? nlohmann::ordered_json(c.slidingWindow) : nullptr;
                j["max_window_layers"] = 0;
            } else {
                j["sliding_window"] = c.slidingWindow > 0 ? nlohmann::ordered_json(c.slidingWindow) : nullptr;
            }
            if (c.moe()) addMoeKeys(c, j);
        }
    }
    j["vocab_size"] = c.vocabSize;
    j["tie_word_embeddings"] = c.tieEmbeddings;
    j["bos_token_id"] = id(bosId);
    j["eos_token_id"] = id(eosId);
    j["torch_dtype"] = torchDtype(dtype);
    if (!c.name.empty()) j["_name_or_path"] = c.name;
    return j;
}

}  // namespace mwb
