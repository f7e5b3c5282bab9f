// How the project's tensors are named and laid out in a Hugging Face checkpoint
// (GPT2LMHeadModel, LlamaForCausalLM). The importer and the exporter both walk this
// one list, so the two directions cannot drift apart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace mwb {

struct HfTensor {
    std::string name;            // as transformers' save_pretrained writes it
    std::vector<int64_t> shape;  // as stored in the checkpoint
    // GPT-2's Conv1D stores its weight [in, out]; the project stores [out, in].
    bool transposed = false;
    // Project paths (docs/file-format.md) stacked along the output dimension: one for
    // most tensors, three for GPT-2's fused c_attn (q, k, v).
    std::vector<std::string> parts;
};

// Every tensor of a checkpoint of shape `c`, in the order transformers writes them.
// GPT-2 names carry the "transformer." prefix; lm_head.weight appears only when the
// embeddings are untied. Throws InvalidInput for a GPT-2 with grouped-query attention,
// which Hugging Face's GPT-2 cannot express.
std::vector<HfTensor> hfTensors(const ModelConfig& c);

// The names a checkpoint may use instead of `name` (GPT-2 files written by older code
// omit the "transformer." prefix).
std::vector<std::string> hfNameCandidates(const std::string& name);

}  // namespace mwb
