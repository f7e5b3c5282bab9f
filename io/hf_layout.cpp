// The Hugging Face tensor names of GPT-2 and Llama checkpoints (see hf_layout.h).
#include "io/hf_layout.h"

#include "tensor/errors.h"

namespace mwb {

namespace {

void addGpt2(const ModelConfig& c, std::vector<HfTensor>& out) {
    if (c.nKvHeads != c.nHeads)
        throw InvalidInput("a GPT-2 model with grouped-query attention (n_kv_head " +
                           std::to_string(c.nKvHeads) + " < n_head " + std::to_string(c.nHeads) +
                           ") has no Hugging Face GPT-2 equivalent");
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

void addLlama(const ModelConfig& c, std::vector<HfTensor>& out) {
    const int64_t d = c.dModel, f = c.dFf;
    const int64_t q = int64_t(c.nHeads) * c.dHead(), kv = int64_t(c.nKvHeads) * c.dHead();
    out.push_back({"model.embed_tokens.weight", {c.vocabSize, d}, false, {"/embed/token"}});
    for (int i = 0; i < c.nLayers; ++i) {
        const std::string h = "model.layers." + std::to_string(i) + ".";
        const std::string p = "/blocks/" + std::to_string(i) + "/";
        out.push_back({h + "input_layernorm.weight", {d}, false, {p + "norm1/weight"}});
        out.push_back({h + "self_attn.q_proj.weight", {q, d}, false, {p + "attn/q/weight"}});
        out.push_back({h + "self_attn.k_proj.weight", {kv, d}, false, {p + "attn/k/weight"}});
        out.push_back({h + "self_attn.v_proj.weight", {kv, d}, false, {p + "attn/v/weight"}});
        if (c.qkvBias) {
            out.push_back({h + "self_attn.q_proj.bias", {q}, false, {p + "attn/q/bias"}});
            out.push_back({h + "self_attn.k_proj.bias", {kv}, false, {p + "attn/k/bias"}});
            out.push_back({h + "self_attn.v_proj.bias", {kv}, false, {p + "attn/v/bias"}});
        }
        out.push_back({h + "self_attn.o_proj.weight", {d, q}, false, {p + "attn/o/weight"}});
        out.push_back({h + "post_attention_layernorm.weight", {d}, false, {p + "norm2/weight"}});
        out.push_back({h + "mlp.gate_proj.weight", {f, d}, false, {p + "mlp/gate/weight"}});
        out.push_back({h + "mlp.up_proj.weight", {f, d}, false, {p + "mlp/up/weight"}});
        out.push_back({h + "mlp.down_proj.weight", {d, f}, false, {p + "mlp/down/weight"}});
    }
    out.push_back({"model.norm.weight", {d}, false, {"/final_norm/weight"}});
}

}  // namespace

std::vector<HfTensor> hfTensors(const ModelConfig& c) {
    std::vector<HfTensor> out;
    if (c.isLlama())
        addLlama(c, out);
    else
        addGpt2(c, out);
    if (!c.tieEmbeddings)
        out.push_back({"lm_head.weight", {c.vocabSize, c.dModel}, false, {"/lm_head/weight"}});
    return out;
}

std::vector<std::string> hfNameCandidates(const std::string& name) {
    const std::string prefix = "transformer.";
    if (name.starts_with(prefix)) return {name, name.substr(prefix.size())};
    return {name};
}

}  // namespace mwb
