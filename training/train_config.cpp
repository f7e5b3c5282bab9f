// Parsing and validation of the training configuration (train.json).
#include "training/train_config.h"

#include <cmath>
#include <fstream>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "tensor/errors.h"
#include "tensor/json_read.h"

namespace mwb {

namespace {

using nlohmann::json;

// Reads the keys of one JSON object, remembering which were used so that the rest
// can be reported as unknown.
class KeyReader {
public:
    KeyReader(const json& obj, std::string where) : m_obj(obj), m_where(std::move(where)) {
        if (!obj.is_object()) fail("", "must be a JSON object");
    }

    [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
        throw InvalidInput(m_where + (key.empty() ? "" : ": '" + key + "'") + " " + problem);
    }

    bool has(const std::string& key) const { return m_obj.contains(key); }

    const json* find(const std::string& key) {
        m_used.insert(key);
        auto it = m_obj.find(key);
        return it == m_obj.end() ? nullptr : &*it;
    }

    // int, int64_t, uint64_t, double, bool and std::string (see jsonAs); an absent key
    // leaves `out` as it is.
    template <typename T>
    void read(const std::string& key, T& out) {
        if (const json* v = find(key)) {
            std::optional<T> x = jsonAs<T>(*v);
            if (!x) fail(key, std::string("must be ") + jsonTypeName<T>());
            out = std::move(*x);
        }
    }
    void read(const std::string& key, float& out) {
        double d = out;
        read(key, d);
        out = float(d);
    }
    // true, false, or an integer (non-zero is true).
    void read(const std::string& key, bool& out) {
        if (const json* v = find(key); v && v->is_number_integer())
            out = v->get<int>() != 0;
        else
            read<bool>(key, out);
    }
    // A path or a list of paths, made absolute against baseDir.
    void read(const std::string& key, std::vector<std::filesystem::path>& out,
              const std::filesystem::path& baseDir) {
        const json* v = find(key);
        if (!v) return;
        out.clear();
        const json list = v->is_array() ? *v : json::array({*v});
        for (const json& item : list) {
            if (!item.is_string() || item.get<std::string>().empty())
                fail(key, "must be a file name or a list of file names");
            out.push_back(baseDir / item.get<std::string>());
        }
    }
    void read(const std::string& key, std::filesystem::path& out,
              const std::filesystem::path& baseDir) {
        std::string s;
        read(key, s);
        if (has(key)) {
            if (s.empty()) fail(key, "must not be empty");
            out = baseDir / s;
        }
    }

    void require(const std::string& key) const {
        if (!has(key)) fail(key, "is required");
    }

    // Throws on the first key that was never read.
    void finish() const {
        for (auto it = m_obj.begin(); it != m_obj.end(); ++it)
            if (!m_used.count(it.key())) fail(it.key(), "is not a known key");
    }

private:
    const json& m_obj;
    std::string m_where;
    std::set<std::string> m_used;
};

void readModel(const json& j, const std::string& where, ModelConfig& c) {
    KeyReader r(j, where + ": model");
    for (const char* key : {"architecture", "n_layer", "n_head", "d_model", "d_ff", "n_ctx"})
        r.require(key);
    std::string arch, activation;
    r.read("architecture", arch);
    try {
        c.architecture = parseArchitecture(arch);
    } catch (const InvalidInput&) {
        r.fail("architecture", "must be one of gpt2, llama, gptj, gpt_neox, qwen3, gemma2, phi3 and olmo2");
    }
    r.read("n_layer", c.nLayers);
    r.read("n_head", c.nHeads);
    c.nKvHeads = c.nHeads;
    r.read("n_kv_head", c.nKvHeads);
    r.read("d_model", c.dModel);
    r.read("d_ff", c.dFf);
    r.read("n_ctx", c.nCtx);
    c.activation = defaultActivation(c.architecture);
    if (r.has("activation")) {
        r.read("activation", activation);
        try {
            c.activation = parseActivation(activation);
        } catch (const InvalidInput&) {
            r.fail("activation", "must be gelu_tanh, gelu, relu or silu");
        }
    }
    r.read("norm_eps", c.normEps);
    r.read("rope_theta", c.ropeTheta);
    c.tieEmbeddings = !c.gatedMlp();
    r.read("tie_embeddings", c.tieEmbeddings);
    r.read("name", c.name);
    // A mixture of experts (docs/mixture-of-experts.md): configProblem checks the rest.
    r.read("n_experts", c.nExperts);
    r.read("n_experts_per_token", c.nExpertsPerToken);
    r.read("d_expert", c.dExpert);
    r.read("d_shared_expert", c.dSharedExpert);
    r.read("norm_topk_prob", c.normTopK);
    r.read("moe_every", c.moeEvery);
    if (const json* v = r.find("dense_layers")) {
        if (!v->is_array()) r.fail("dense_layers", "must be a list of layer numbers");
        for (const json& x : *v) {
            if (!x.is_number_integer()) r.fail("dense_layers", "must be a list of layer numbers");
            c.denseLayers.push_back(x.get<int>());
        }
    }
    r.finish();
}

}  // namespace

TrainConfig parseTrainConfig(const nlohmann::json& j, const std::filesystem::path& baseDir,
                             const std::string& source) {
    TrainConfig t;
    KeyReader r(j, source);
    r.require("corpus");
    r.require("out");
    r.read("init", t.init, baseDir);
    if (r.has("init")) {
        // The shape and the vocabulary are the starting model's.
        if (r.has("model")) r.fail("model", "must be absent with 'init' (the shape is the model file's)");
        if (r.has("tokenizer"))
            r.fail("tokenizer", "must be absent with 'init' (the tokenizer is the model file's)");
    } else {
        r.require("model");
        r.require("tokenizer");
        readModel(*r.find("model"), source, t.model);
        KeyReader tok(*r.find("tokenizer"), source + ": tokenizer");
        tok.read("vocab_size", t.tokenizerVocab);
        tok.read("train_bytes", t.tokenizerTrainBytes);
        tok.read("from", t.tokenizerFrom, baseDir);
        tok.finish();
        if (tok.has("from") == tok.has("vocab_size"))
            tok.fail("", "needs exactly one of 'vocab_size' (learn a vocabulary) and 'from' "
                         "(reuse the tokenizer of a model file)");
        if (tok.has("vocab_size") && t.tokenizerVocab < 257)
            tok.fail("vocab_size", "must be at least 257 (256 bytes and <|endoftext|>)");
        if (t.tokenizerTrainBytes < 0) tok.fail("train_bytes", "must not be negative");
    }

    r.read("corpus", t.corpus, baseDir);
    if (t.corpus.empty()) r.fail("corpus", "must name at least one file");
    r.read("document_separator", t.documentSeparator);
    r.read("eval_text", t.evalText, baseDir);
    r.read("eval_fraction", t.evalFraction);
    r.read("route_subjects", t.routeSubjects, baseDir);
    r.read("route_fraction", t.routeFraction);
    r.read("route_hidden_layers", t.routeHiddenLayers);
    r.read("eval_every", t.evalEvery);
    r.read("eval_batches", t.evalBatches);
    r.read("seq_len", t.seqLen);
    r.read("batch_size", t.batchSize);
    r.read("grad_accum", t.gradAccum);
    r.read("steps", t.steps);
    r.read("stop_at", t.stopAt);
    r.read("lr", t.lr);
    t.minLr = t.lr * 0.1;
    r.read("min_lr", t.minLr);
    r.read("warmup", t.warmup);
    r.read("weight_decay", t.weightDecay);
    r.read("beta1", t.beta1);
    r.read("beta2", t.beta2);
    r.read("adam_eps", t.adamEps);
    r.read("grad_clip", t.gradClip);
    r.read("seed", t.seed);
    r.read("router_aux_loss_coef", t.routerAuxLossCoef);
    r.read("out", t.out, baseDir);
    r.read("checkpoint", t.checkpoint, baseDir);
    if (t.checkpoint.empty()) t.checkpoint = std::filesystem::path(t.out).replace_extension(".ckpt");
    r.read("checkpoint_every", t.checkpointEvery);
    r.read("log_every", t.logEvery);
    r.finish();

    if (t.init.empty()) {
        ModelConfig check = t.model;
        check.vocabSize = std::max(t.tokenizerVocab, 1);
        if (const std::string problem = configProblem(check); !problem.empty())
            r.fail("model", "is not a valid shape: " + problem);
        if (t.seqLen > t.model.nCtx) r.fail("seq_len", "must not exceed the model's n_ctx");
    }
    auto positive = [&](const char* key, double v) {
        if (!(v > 0) || !std::isfinite(v)) r.fail(key, "must be positive");
    };
    positive("seq_len", t.seqLen);
    positive("batch_size", t.batchSize);
    positive("grad_accum", t.gradAccum);
    positive("steps", t.steps);
    positive("lr", t.lr);
    positive("adam_eps", t.adamEps);
    positive("eval_batches", t.evalBatches);
    positive("log_every", t.logEvery);
    if (!(t.minLr >= 0 && t.minLr <= t.lr)) r.fail("min_lr", "must be between 0 and lr");
    if (t.warmup < 0) r.fail("warmup", "must not be negative");
    if (t.stopAt < 0 || t.stopAt > t.steps) r.fail("stop_at", "must be between 0 (all steps) and steps");
    if (!(t.weightDecay >= 0)) r.fail("weight_decay", "must not be negative");
    if (!(t.beta1 >= 0 && t.beta1 < 1)) r.fail("beta1", "must be in [0, 1)");
    if (!(t.beta2 >= 0 && t.beta2 < 1)) r.fail("beta2", "must be in [0, 1)");
    if (!(t.gradClip >= 0)) r.fail("grad_clip", "must not be negative");
    if (!(t.routerAuxLossCoef >= 0) || !std::isfinite(t.routerAuxLossCoef))
        r.fail("router_aux_loss_coef", "must not be negative");
    if (!(t.evalFraction >= 0 && t.evalFraction < 1)) r.fail("eval_fraction", "must be in [0, 1)");
    if (!(t.routeFraction > 0 && t.routeFraction <= 1))
        r.fail("route_fraction", "must be in (0, 1]");
    if (t.routeHiddenLayers < 0) r.fail("route_hidden_layers", "must not be negative");
    if (t.routeHiddenLayers > 0 && t.routeSubjects.empty())
        r.fail("route_hidden_layers", "needs route_subjects");
    if (t.init.empty() && t.routeHiddenLayers > t.model.nLayers)
        r.fail("route_hidden_layers", "must not exceed the model's n_layer");
    if (t.evalEvery < 0) r.fail("eval_every", "must not be negative");
    if (t.checkpointEvery < 0) r.fail("checkpoint_every", "must not be negative");
    return t;
}

bool sameShape(const ModelConfig& a, const ModelConfig& b) {
    return a.architecture == b.architecture && a.nLayers == b.nLayers && a.nHeads == b.nHeads &&
           a.nKvHeads == b.nKvHeads && a.dModel == b.dModel && a.dFf == b.dFf &&
           a.nCtx == b.nCtx && a.activation == b.activation &&
           a.tieEmbeddings == b.tieEmbeddings && a.normEps == b.normEps &&
           (!a.rotary() || a.ropeTheta == b.ropeTheta) && a.nExperts == b.nExperts &&
           a.nExpertsPerToken == b.nExpertsPerToken && a.dExpert == b.dExpert &&
           a.dSharedExpert == b.dSharedExpert && a.normTopK == b.normTopK &&
           a.moeEvery == b.moeEvery && a.denseLayers == b.denseLayers;
}

TrainConfig loadTrainConfig(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw InvalidInput("cannot read the training configuration " + file.string());
    json j;
    try {
        j = json::parse(in);
    } catch (const json::parse_error& e) {
        throw InvalidInput(file.string() + " is not valid JSON: " + e.what());
    }
    return parseTrainConfig(j, file.parent_path(), file.string());
}

}  // namespace mwb
