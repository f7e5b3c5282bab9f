// The Hugging Face tensor names of each architecture's checkpoints (see hf_layout.h),
// as the transformers classes GPT2LMHeadModel, LlamaForCausalLM (also Mistral and
// Qwen 2), GPTJForCausalLM, GPTNeoXForCausalLM, Qwen3ForCausalLM, Gemma2ForCausalLM,
// Phi3ForCausalLM, Olmo2ForCausalLM and the mixtures of experts MixtralForCausalLM,
// OlmoeForCausalLM, Qwen2MoeForCausalLM and Qwen3MoeForCausalLM name them.
#include "io/hf_layout.h"

#include "tensor/errors.h"

namespace mwb {

namespace {

void requireFullAttention(const ModelConfig& c) {
    if (c.nKvHeads != c.nHeads)
        throw InvalidInput("a " + toString(c.architecture) + " model with grouped-query attention (n_kv_head " +
                           std::to_string(c.nKvHeads) + " < n_head " + std::to_string(c.nHeads) +
                           ") has no Hugging Face equivalent");
}

void addGpt2(const ModelConfig& c, std::vector<HfTensor>& out) {
    requireFullAttention(c);
    const int64_t d = c.dModel, f = c.dFf;
    out.push_back({"transformer.wte.weight", {c.vocabSize, d}, false, {"/embed/token"}});
    out.push_back({"transformer.wpe.weight", {c.nCtx, d}, false, {"/embed/position"}});
    for (int i = 0; i < c.nLayers; ++i) {
        const std::string h = "transformer.h." + std::to_string(i) + ".";
        const std::string p = "/blocks/" + std::to_string(i) + "/";
        out.push_back({h + "ln_1.weight", {d}, false, {p + "norm1/weight"}});
        out.push_back({h + "ln_1.bias", {d}, false, {p + "norm1/bias"}});
        out.push_back({h + "attn.c_attn.weight",
                       {d, 3 * d},
                       true,
                       {p + "attn/q/weight", p + "attn/k/weight", p + "attn/v/weight"}});
        out.push_back({h + "attn.c_attn.bias",
                       {3 * d},
                       false,
                       {p + "attn/q/bias", p + "attn/k/bias", p + "attn/v/bias"}});
        out.push_back({h + "attn.c_proj.weight", {d, d}, true, {p + "attn/o/weight"}});
        out.push_back({h + "attn.c_proj.bias", {d}, false, {p + "attn/o/bias"}});
        out.push_back({h + "ln_2.weight", {d}, false, {p + "norm2/weight"}});
        out.push_back({h + "ln_2.bias", {d}, false, {p + "norm2/bias"}});
        out.push_back({h + "mlp.c_fc.weight", {d, f}, true, {p + "mlp/up/weight"}});
        out.push_back({h + "mlp.c_fc.bias", {f}, false, {p + "mlp/up/bias"}});
        out.push_back({h + "mlp.c_proj.weight", {f, d}, true, {p + "mlp/down/weight"}});
        out.push_back({h + "mlp.c_proj.bias", {d}, false, {p + "mlp/down/bias"}});
    }
    out.push_back({"transformer.ln_f.weight", {d}, false, {"/final_norm/weight"}});
    out.push_back({"transformer.ln_f.bias", {d}, false, {"/final_norm/bias"}});
}

// The MLP of sparse layer h ("model.layers.N.") with project prefix p ("/blocks/N/"):
// the router, the experts and the shared expert with its gate, named as
// MixtralForCausalLM (block_sparse_moe, w1 = gate, w3 = up, w2 = down) or as
// OlmoeForCausalLM, Qwen2MoeForCausalLM and Qwen3MoeForCausalLM (mlp, gate_proj,
// up_proj, down_proj) name them.
void addExperts(const ModelConfig& c, const std::string& h, const std::string& p, HfExpertLayout layout,
                std::vector<HfTensor>& out) {
    const int64_t d = c.dModel, w = c.dExpert, n = c.nExperts;
    const bool mixtral = c.architecture == Architecture::Llama && !c.qkvBias && c.dSharedExpert == 0;
    const std::string m = h + (mixtral ? "block_sparse_moe." : "mlp.");
    out.push_back({m + "gate.weight", {n, d}, false, {p + "moe/router/weight"}});
    if (layout == HfExpertLayout::Packed) {
        HfTensor gateUp{m + "experts.gate_up_proj", {n, 2 * w, d}, false, {}};
        HfTensor down{m + "experts.down_proj", {n, d, w}, false, {}};
        for (int e = 0; e < n; ++e) {
            const std::string x = p + "moe/experts/" + std::to_string(e) + "/";
            gateUp.parts.push_back(x + "gate/weight");
            gateUp.parts.push_back(x + "up/weight");
            down.parts.push_back(x + "down/weight");
        }
        out.push_back(std::move(gateUp));
        out.push_back(std::move(down));
    } else {
        for (int e = 0; e < n; ++e) {
            const std::string name = m + "experts." + std::to_string(e) + ".";
            const std::string x = p + "moe/experts/" + std::to_string(e) + "/";
            out.push_back({name + (mixtral ? "w1" : "gate_proj") + ".weight", {w, d}, false, {x + "gate/weight"}});
            out.push_back({name + (mixtral ? "w3" : "up_proj") + ".weight", {w, d}, false, {x + "up/weight"}});
            out.push_back({name + (mixtral ? "w2" : "down_proj") + ".weight", {d, w}, false, {x + "down/weight"}});
        }
    }
    if (c.dSharedExpert > 0) {
        const int64_t s = c.dSharedExpert;
        out.push_back({m + "shared_expert.gate_proj.weight", {s, d}, false, {p + "moe/shared/gate/weight"}});
        out.push_back({m + "shared_expert.up_proj.weight", {s, d}, false, {p + "moe/shared/up/weight"}});
        out.push_back({m + "shared_expert.down_proj.weight", {d, s}, false, {p + "moe/shared/down/weight"}});
        out.push_back({m + "shared_expert_gate.weight", {1, d}, false, {p + "moe/shared_gate/weight"}});
    }
}

// The decoder families named like Llama ("model.layers.N.self_attn.q_proj"): llama,
// qwen3, gemma2, phi3, olmo2. Their norms differ in name and place.
void addLlamaLike(const ModelConfig& c, HfExpertLayout experts, std::vector<HfTensor>& out) {
    const int64_t d = c.dModel, f = c.dFf, q = c.qDim(), kv = c.kvDim();
    const Architecture a = c.architecture;
    out.push_back({"model.embed_tokens.weight", {c.vocabSize, d}, false, {"/embed/token"}});
    for (int i = 0; i < c.nLayers; ++i) {
        const std::string h = "model.layers." + std::to_string(i) + ".";
        const std::string p = "/blocks/" + std::to_string(i) + "/";
        if (c.preNorms()) out.push_back({h + "input_layernorm.weight", {d}, false, {p + "norm1/weight"}});
        if (a == Architecture::Phi3) {
            out.push_back({h + "self_attn.qkv_proj.weight",
                           {q + 2 * kv, d},
                           false,
                           {p + "attn/q/weight", p + "attn/k/weight", p + "attn/v/weight"}});
        } else {
            out.push_back({h + "self_attn.q_proj.weight", {q, d}, false, {p + "attn/q/weight"}});
            out.push_back({h + "self_attn.k_proj.weight", {kv, d}, false, {p + "attn/k/weight"}});
            out.push_back({h + "self_attn.v_proj.weight", {kv, d}, false, {p + "attn/v/weight"}});
        }
        if (c.qkvBiases()) {
            out.push_back({h + "self_attn.q_proj.bias", {q}, false, {p + "attn/q/bias"}});
            out.push_back({h + "self_attn.k_proj.bias", {kv}, false, {p + "attn/k/bias"}});
            out.push_back({h + "self_attn.v_proj.bias", {kv}, false, {p + "attn/v/bias"}});
        }
        out.push_back({h + "self_attn.o_proj.weight", {d, q}, false, {p + "attn/o/weight"}});
        if (c.qkNorm() != QkNorm::None) {
            const bool perHead = c.qkNorm() == QkNorm::PerHead;
            out.push_back({h + "self_attn.q_norm.weight", {perHead ? c.dHead() : q}, false, {p + "attn/q_norm/weight"}});
            out.push_back({h + "self_attn.k_norm.weight", {perHead ? c.dHead() : kv}, false, {p + "attn/k_norm/weight"}});
        }
        // "post_attention_layernorm" is the MLP's pre-norm in Llama, but the attention's
        // post-norm in Gemma 2 and OLMo 2.
        if (c.postNorms()) {
            out.push_back({h + "post_attention_layernorm.weight", {d}, false, {p + "post_attn_norm/weight"}});
            if (c.preNorms())
                out.push_back({h + "pre_feedforward_layernorm.weight", {d}, false, {p + "norm2/weight"}});
            out.push_back({h + "post_feedforward_layernorm.weight", {d}, false, {p + "post_mlp_norm/weight"}});
        } else {
            out.push_back({h + "post_attention_layernorm.weight", {d}, false, {p + "norm2/weight"}});
        }
        if (c.moeLayer(i)) {
            addExperts(c, h, p, experts, out);
        } else if (a == Architecture::Phi3) {
            out.push_back({h + "mlp.gate_up_proj.weight", {2 * f, d}, false, {p + "mlp/gate/weight", p + "mlp/up/weight"}});
        } else {
            out.push_back({h + "mlp.gate_proj.weight", {f, d}, false, {p + "mlp/gate/weight"}});
            out.push_back({h + "mlp.up_proj.weight", {f, d}, false, {p + "mlp/up/weight"}});
        }
        if (!c.moeLayer(i)) out.push_back({h + "mlp.down_proj.weight", {d, f}, false, {p + "mlp/down/weight"}});
    }
    out.push_back({"model.norm.weight", {d}, false, {"/final_norm/weight"}});
}

void addGptJ(const ModelConfig& c, std::vector<HfTensor>& out) {
    requireFullAttention(c);
    const int64_t d = c.dModel, f = c.dFf;
    out.push_back({"transformer.wte.weight", {c.vocabSize, d}, false, {"/embed/token"}});
    for (int i = 0; i < c.nLayers; ++i) {
        const std::string h = "transformer.h." + std::to_string(i) + ".";
        const std::string p = "/blocks/" + std::to_string(i) + "/";
        out.push_back({h + "ln_1.weight", {d}, false, {p + "norm1/weight"}});
        out.push_back({h + "ln_1.bias", {d}, false, {p + "norm1/bias"}});
        for (const char* proj : {"q", "k", "v"})
            out.push_back({h + "attn." + proj + "_proj.weight", {d, d}, false, {p + "attn/" + proj + "/weight"}});
        out.push_back({h + "attn.out_proj.weight", {d, d}, false, {p + "attn/o/weight"}});
        out.push_back({h + "mlp.fc_in.weight", {f, d}, false, {p + "mlp/up/weight"}});
        out.push_back({h + "mlp.fc_in.bias", {f}, false, {p + "mlp/up/bias"}});
        out.push_back({h + "mlp.fc_out.weight", {d, f}, false, {p + "mlp/down/weight"}});
        out.push_back({h + "mlp.fc_out.bias", {d}, false, {p + "mlp/down/bias"}});
    }
    out.push_back({"transformer.ln_f.weight", {d}, false, {"/final_norm/weight"}});
    out.push_back({"transformer.ln_f.bias", {d}, false, {"/final_norm/bias"}});
}

void addGptNeoX(const ModelConfig& c, std::vector<HfTensor>& out) {
    requireFullAttention(c);
    const int64_t d = c.dModel, f = c.dFf, hd = c.dHead();
    out.push_back({"gpt_neox.embed_in.weight", {c.vocabSize, d}, false, {"/embed/token"}});
    for (int i = 0; i < c.nLayers; ++i) {
        const std::string h = "gpt_neox.layers." + std::to_string(i) + ".";
        const std::string p = "/blocks/" + std::to_string(i) + "/";
        out.push_back({h + "input_layernorm.weight", {d}, false, {p + "norm1/weight"}});
        out.push_back({h + "input_layernorm.bias", {d}, false, {p + "norm1/bias"}});
        out.push_back({h + "post_attention_layernorm.weight", {d}, false, {p + "norm2/weight"}});
        out.push_back({h + "post_attention_layernorm.bias", {d}, false, {p + "norm2/bias"}});
        out.push_back({h + "attention.query_key_value.weight",
                       {3 * d, d},
                       false,
                       {p + "attn/q/weight", p + "attn/k/weight", p + "attn/v/weight"},
                       hd});
        out.push_back({h + "attention.query_key_value.bias",
                       {3 * d},
                       false,
                       {p + "attn/q/bias", p + "attn/k/bias", p + "attn/v/bias"},
                       hd});
        out.push_back({h + "attention.dense.weight", {d, d}, false, {p + "attn/o/weight"}});
        out.push_back({h + "attention.dense.bias", {d}, false, {p + "attn/o/bias"}});
        out.push_back({h + "mlp.dense_h_to_4h.weight", {f, d}, false, {p + "mlp/up/weight"}});
        out.push_back({h + "mlp.dense_h_to_4h.bias", {f}, false, {p + "mlp/up/bias"}});
        out.push_back({h + "mlp.dense_4h_to_h.weight", {d, f}, false, {p + "mlp/down/weight"}});
        out.push_back({h + "mlp.dense_4h_to_h.bias", {d}, false, {p + "mlp/down/bias"}});
    }
    out.push_back({"gpt_neox.final_layer_norm.weight", {d}, false, {"/final_norm/weight"}});
    out.push_back({"gpt_neox.final_layer_norm.bias", {d}, false, {"/final_norm/bias"}});
}

}  // namespace

std::vector<HfTensor> hfTensors(const ModelConfig& c, HfExpertLayout experts) {
    std::vector<HfTensor> out;
    switch (c.architecture) {
        case Architecture::Gpt2: addGpt2(c, out); break;
        case Architecture::GptJ: addGptJ(c, out); break;
        case Architecture::GptNeoX: addGptNeoX(c, out); break;
        default: addLlamaLike(c, experts, out); break;
    }
    if (!c.tieEmbeddings) {
        const char* name = c.architecture == Architecture::GptNeoX ? "embed_out.weight" : "lm_head.weight";
        out.push_back({name, {c.vocabSize, c.dModel}, false, {"/lm_head/weight"}});
    }
    if (c.lmHeadBias()) out.push_back({"lm_head.bias", {c.vocabSize}, false, {"/lm_head/bias"}});
    return out;
}

std::pair<int64_t, int64_t> hfRowsAndColumns(const HfTensor& t) {
    if (t.shape.size() == 1) return {t.shape[0], 1};
    if (t.shape.size() == 2) return t.transposed ? std::pair{t.shape[1], t.shape[0]} : std::pair{t.shape[0], t.shape[1]};
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < t.shape.size(); ++i) rows *= t.shape[i];
    return {rows, t.shape.back()};
}

int64_t checkpointRow(const HfTensor& t, size_t part, int64_t rowsBefore, int64_t r) {
    if (t.chunk <= 0) return rowsBefore + r;
    const int64_t parts = int64_t(t.parts.size());
    return (r / t.chunk) * parts * t.chunk + int64_t(part) * t.chunk + r % t.chunk;
}

bool isHfBuffer(const std::string& name) {
    // GPT-2, GPT-J and GPT-NeoX checkpoints carry their causal mask ("attn.bias",
    // "attn.masked_bias", "attention.bias", "attention.masked_bias") and older
    // rotary checkpoints the inverse frequencies, which follow from config.json.
    for (const char* suffix : {".attn.bias", ".attn.masked_bias", ".attention.bias", ".attention.masked_bias",
                               ".rotary_emb.inv_freq"})
        if (name.ends_with(suffix)) return true;
    return false;
}

bool isPackedExpertName(const std::string& name) {
    return name.ends_with(".experts.gate_up_proj") || name.ends_with(".experts.down_proj");
}

std::vector<std::string> hfNameCandidates(const std::string& name) {
    const std::string prefix = "transformer.";
    if (name.starts_with(prefix)) return {name, name.substr(prefix.size())};
    const std::string mixtral = ".block_sparse_moe.";
    if (const size_t at = name.find(mixtral); at != std::string::npos)
        return {name, name.substr(0, at) + ".mlp." + name.substr(at + mixtral.size())};
    return {name};
}

}  // namespace mwb
