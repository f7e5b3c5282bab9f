// How the project's tensors are named and laid out in a Hugging Face checkpoint
// (GPT2LMHeadModel, LlamaForCausalLM). The importer and the exporter both walk this
// one list, so the two directions cannot drift apart.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/config.h"

namespace mwb {

struct HfTensor {
    std::string name;            // as transformers' save_pretrained writes it
    // As stored in the checkpoint. A tensor of more than two dimensions [a, b, ..., in]
    // (the packed experts) holds rows [a * b * ..., in].
    std::vector<int64_t> shape;
    // GPT-2's Conv1D stores its weight [in, out]; the project stores [out, in].
    bool transposed = false;
    // Project paths (docs/file-format.md) stacked along the output dimension: one for
    // most tensors, three for fused ones (GPT-2's c_attn and Phi-3's qkv_proj: q, k, v;
    // Phi-3's gate_up_proj: gate, up).
    std::vector<std::string> parts;
    // > 0: the parts are interleaved in chunks of this many rows instead of stacked
    // (GPT-NeoX's query_key_value holds q, k, v of head 0, then of head 1, ...).
    int64_t chunk = 0;
};

// The tensor as rows of the project's [out, in] layout: {out, in} (a vector: {n, 1};
// more than two dimensions: all but the last make the rows).
std::pair<int64_t, int64_t> hfRowsAndColumns(const HfTensor& t);

// The checkpoint's output row (dimension 0, or 1 when transposed) of row r of part
// `part`, whose parts before it have `rowsBefore` rows in all.
int64_t checkpointRow(const HfTensor& t, size_t part, int64_t rowsBefore, int64_t r);

// Whether a checkpoint tensor that hfTensors does not list is a buffer that holds no
// weights (causal masks, rotary frequencies), safe to skip.
bool isHfBuffer(const std::string& name);

// How a checkpoint stores the experts of a mixture: one module per expert
// ("experts.3.gate_proj.weight"; Mixtral "experts.3.w1.weight"), as the published
// checkpoints do, or packed per layer ("experts.gate_up_proj" [E, 2 * width, d_model]
// with each expert's gate rows before its up rows, "experts.down_proj" [E, d_model,
// width]), as newer transformers versions save them.
enum class HfExpertLayout { PerExpert, Packed };

// Every tensor of a checkpoint of shape `c`, in the order transformers writes them.
// GPT-2 names carry the "transformer." prefix; lm_head.weight appears only when the
// embeddings are untied. Throws InvalidInput for a GPT-2, GPT-J or GPT-NeoX with
// grouped-query attention, which their Hugging Face classes cannot express.
std::vector<HfTensor> hfTensors(const ModelConfig& c, HfExpertLayout experts = HfExpertLayout::PerExpert);

// Whether a checkpoint tensor name belongs to packed experts (see HfExpertLayout).
bool isPackedExpertName(const std::string& name);

// The names a checkpoint may use instead of `name` (GPT-2 files written by older code
// omit the "transformer." prefix; Mixtral's experts are under "mlp." instead of
// "block_sparse_moe." in newer transformers versions).
std::vector<std::string> hfNameCandidates(const std::string& name);

}  // namespace mwb
