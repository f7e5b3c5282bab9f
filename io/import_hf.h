// Import of a Hugging Face model folder (GPT-2, Llama, Mistral, TinyLlama): config.json,
// model.safetensors or a sharded model.safetensors.index.json (F32, F16, BF16 tensors),
// and the tokenizer files.
#pragma once

#include <filesystem>

#include "io/imported_model.h"
#include "model/weights.h"
#include "tensor/progress.h"

namespace mwb {

// Reads the folder into an in-memory Model (weights in float32, converted tensor by tensor
// while reading; `precision` Float16 keeps every linear weight in float16 instead, each
// staged in float32 only while it is read: the model is for writing to a float16 file,
// and mlp/down, which weights.h keeps in float32 for editing, would otherwise take a
// third of the memory of a Llama. Load the written file again to edit it). GPT-2's Conv1D weights are transposed into the [out, in] layout and
// c_attn is split into q, k and v. A tokenizer smaller than vocab_size is padded with
// placeholder pieces (with a warning). Throws ModelFormatError naming the file and the
// tensor or key for anything wrong: no config.json, no weights, malformed safetensors,
// missing tensors, shapes that disagree with config.json, NaN/Inf weights, an unusable
// tokenizer; Cancelled when `progress` returns false.
ImportedModel importHf(const std::filesystem::path& dir, const ProgressFn& progress = {},
                       WeightPrecision precision = WeightPrecision::Float32);

}  // namespace mwb
