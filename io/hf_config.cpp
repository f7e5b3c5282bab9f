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
           "is '" + name + "'; supported are gelu_new, gelu_pytorch_tanh, gelu, relu and silu");
}

void readGpt2(const ConfigReader& r, HfConfig& out) {
    ModelConfig& c = out.config;
    c.architecture = Architecture::Gpt2;
    c.nLayers = r.integer("n_layer");
    c.nHeads = c.nKvHeads = r.integer("n_head");
    c.dModel = r.integer("n_embd");
    c.dFf = r.integer("n_inner", 4 * c.dModel);
    c.nCtx = r.integer("n_positions", r.integer("n_ctx", 0));
    if (c.nCtx == 0) r.fail("n_positions", "is missing");
    c.vocabSize = r.integer("vocab_size");
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
               "is \"" + type + "\"; this program computes linear and llama3 rotary scaling only");
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

// Llama, Mistral and Qwen 2 / 2.5 (qwen2: Llama's block with biases on q, k and v, and
// a sliding window only when use_sliding_window is true).
void readLlama(const ConfigReader& r, HfConfig& out, bool qwen2 = false) {
    ModelConfig& c = out.config;
    c.architecture = Architecture::Llama;
    c.dModel = r.integer("hidden_size");
    c.dFf = r.integer("intermediate_size");
    c.nLayers = r.integer("num_hidden_layers");
    c.nHeads = r.integer("num_attention_heads");
    c.nKvHeads = r.integer("num_key_value_heads", c.nHeads);
    c.vocabSize = r.integer("vocab_size");
    c.nCtx = r.integer("max_position_embeddings", 2048);
    c.normEps = float(r.number("rms_norm_eps", 1e-6));
    c.ropeTheta = float(r.number("rope_theta", 10000.0));
    c.tieEmbeddings = r.boolean("tie_word_embeddings", false);
    c.activation = activationFrom(r, "hidden_act", r.string("hidden_act", "silu"));
    if (c.nHeads > 0 && r.has("head_dim") && r.integer("head_dim") * c.nHeads != c.dModel)
        r.fail("head_dim",
               "is " + std::to_string(r.integer("head_dim")) +
                   ", but this program needs head_dim = hidden_size / num_attention_heads (" +
                   std::to_string(c.dModel / c.nHeads) + ")");
    if (r.boolean("attention_bias", false))
        r.fail("attention_bias", "is true; Llama attention biases are not supported");
    if (r.boolean("mlp_bias", false))
        r.fail("mlp_bias", "is true; Llama MLP biases are not supported");
    if (r.has("rope_scaling")) c.ropeScaling = ropeScalingFrom(r.object("rope_scaling"));
    c.qkvBias = qwen2;
    const bool windowed = qwen2 ? r.boolean("use_sliding_window", false) : r.has("sliding_window");
    if (windowed && r.integer("sliding_window", INT_MAX) < c.nCtx)
        out.warnings.push_back(
            "config.json sets sliding_window " + std::to_string(r.integer("sliding_window")) +
            "; this program attends to the whole context, so prompts longer than "
            "the window give different results");
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
    std::string type = r.string("model_type", "");
    if (type.empty() && j.contains("architectures") && j["architectures"].is_array() &&
        !j["architectures"].empty() && j["architectures"][0].is_string()) {
        const std::string arch = j["architectures"][0];
        type = arch.starts_with("GPT2") ? "gpt2" : arch.starts_with("Llama") ? "llama" : arch;
    }
    HfConfig out;
    if (type == "gpt2")
        readGpt2(r, out);
    else if (type == "llama" || type == "mistral")
        readLlama(r, out);
    else if (type == "qwen2")
        readLlama(r, out, true);
    else
        r.fail("model_type", "is '" + type + "'; supported are gpt2, llama, mistral and qwen2");
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
    if (c.isLlama()) {
        j["architectures"] = {c.qkvBias ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
        j["model_type"] = c.qkvBias ? "qwen2" : "llama";
        j["hidden_size"] = c.dModel;
        j["intermediate_size"] = c.dFf;
        j["num_hidden_layers"] = c.nLayers;
        j["num_attention_heads"] = c.nHeads;
        j["num_key_value_heads"] = c.nKvHeads;
        j["head_dim"] = c.dHead();
        j["max_position_embeddings"] = c.nCtx;
        j["rms_norm_eps"] = plainDouble(c.normEps);
        j["rope_theta"] = plainDouble(c.ropeTheta);
        if (const RopeScaling& s = c.ropeScaling; s.type == RopeScalingType::None) {
            j["rope_scaling"] = nullptr;
        } else {
            nlohmann::ordered_json scaling = {{"rope_type", toString(s.type)}, {"factor", s.factor}};
            if (s.type == RopeScalingType::Llama3) {
                scaling["low_freq_factor"] = s.lowFreqFactor;
                scaling["high_freq_factor"] = s.highFreqFactor;
                scaling["original_max_position_embeddings"] = s.originalContext;
            }
            j["rope_scaling"] = scaling;
        }
        j["hidden_act"] = hfActivation(c.activation, true);
        j["attention_bias"] = false;
        j["mlp_bias"] = false;
    } else {
        j["architectures"] = {"GPT2LMHeadModel"};
        j["model_type"] = "gpt2";
        j["n_layer"] = c.nLayers;
        j["n_head"] = c.nHeads;
        j["n_embd"] = c.dModel;
        j["n_inner"] = c.dFf;
        j["n_positions"] = c.nCtx;
        j["n_ctx"] = c.nCtx;
        j["layer_norm_epsilon"] = plainDouble(c.normEps);
        j["activation_function"] = hfActivation(c.activation, false);
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
