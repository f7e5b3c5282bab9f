// Model diff of the non-weight parts: root attributes and the tokenizer.
#include <sstream>

#include "editing/model_diff.h"

namespace mwb {

namespace {

template <typename T>
std::string text(const T& v) {
    std::ostringstream s;
    s.precision(9);
    s << v;
    return s.str();
}

template <typename T>
void field(std::vector<FieldDiff>& out, const char* name, const T& a, const T& b) {
    if (a != b) out.push_back({name, text(a), text(b)});
}

std::string kindName(TokenizerKind k) { return k == TokenizerKind::ByteBpe ? "byte_bpe" : "sentencepiece_bpe"; }

// "3 of 260 entries differ; first at 17: \"a\" vs \"b\"" for lists of equal length.
template <typename T>
void listField(std::vector<FieldDiff>& out, const char* name, const std::vector<T>& a, const std::vector<T>& b) {
    if (a == b) return;
    if (a.size() != b.size()) {
        out.push_back({std::string(name) + " size", text(a.size()), text(b.size())});
        return;
    }
    size_t count = 0, first = a.size();
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) {
            ++count;
            if (first == a.size()) first = i;
        }
    out.push_back({std::string(name) + "[" + std::to_string(first) + "] (" + std::to_string(count) + " of " +
                       std::to_string(a.size()) + " entries differ)",
                   text(a[first]), text(b[first])});
}

}  // namespace

std::vector<FieldDiff> diffConfigs(const ModelConfig& a, const ModelConfig& b) {
    std::vector<FieldDiff> out;
    field(out, "architecture", toString(a.architecture), toString(b.architecture));
    field(out, "n_layer", a.nLayers, b.nLayers);
    field(out, "n_head", a.nHeads, b.nHeads);
    field(out, "n_kv_head", a.nKvHeads, b.nKvHeads);
    field(out, "d_model", a.dModel, b.dModel);
    field(out, "d_ff", a.dFf, b.dFf);
    field(out, "vocab_size", a.vocabSize, b.vocabSize);
    field(out, "n_ctx", a.nCtx, b.nCtx);
    field(out, "norm_eps", a.normEps, b.normEps);
    field(out, "activation", toString(a.activation), toString(b.activation));
    if (a.rotary() || b.rotary()) {
        field(out, "rope_theta", a.ropeTheta, b.ropeTheta);
        const RopeScaling &ra = a.ropeScaling, &rb = b.ropeScaling;
        field(out, "rope_scaling", toString(ra.type), toString(rb.type));
        field(out, "rope_scaling_factor", ra.factor, rb.factor);
        field(out, "rope_scaling_low_freq_factor", ra.lowFreqFactor, rb.lowFreqFactor);
        field(out, "rope_scaling_high_freq_factor", ra.highFreqFactor, rb.highFreqFactor);
        field(out, "rope_scaling_original_context", ra.originalContext, rb.originalContext);
        field(out, "qkv_bias", int(a.qkvBias), int(b.qkvBias));
        field(out, "rotary_dim", a.rotaryDims(), b.rotaryDims());
    }
    field(out, "head_dim", a.dHead(), b.dHead());
    field(out, "parallel_residual", int(a.parallelBlock()), int(b.parallelBlock()));
    field(out, "sliding_window", a.slidingWindow, b.slidingWindow);
    field(out, "sliding_window_layers", toString(a.slidingLayers), toString(b.slidingLayers));
    field(out, "attn_logit_softcapping", a.attnSoftcap, b.attnSoftcap);
    field(out, "final_logit_softcapping", a.finalSoftcap, b.finalSoftcap);
    field(out, "query_pre_attn_scalar", a.queryPreAttnScalar, b.queryPreAttnScalar);
    field(out, "tie_embeddings", int(a.tieEmbeddings), int(b.tieEmbeddings));
    field(out, "name", a.name, b.name);
    return out;
}

std::vector<FieldDiff> diffTokenizers(const TokenizerSpec& a, const TokenizerSpec& b) {
    std::vector<FieldDiff> out;
    field(out, "kind", kindName(a.kind), kindName(b.kind));
    field(out, "bos_id", a.bosId, b.bosId);
    field(out, "eos_id", a.eosId, b.eosId);
    field(out, "add_bos", int(a.addBos), int(b.addBos));
    listField(out, "vocab", a.vocab, b.vocab);
    listField(out, "merges", a.merges, b.merges);
    listField(out, "scores", a.scores, b.scores);
    return out;
}

}  // namespace mwb
