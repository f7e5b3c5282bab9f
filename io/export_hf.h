// Export of a model to a Hugging Face folder: config.json, model.safetensors and the
// tokenizer files, such that importHf gives back the same tensors.
#pragma once

#include <filesystem>

#include "model/model.h"
#include "tensor/progress.h"
#include "io/safetensors.h"

namespace mwb {

struct ExportOptions {
    TensorDtype dtype = TensorDtype::F32;  // F32 round-trips exactly
    bool force = false;                    // write into an existing non-empty folder
};

// Writes config.json, model.safetensors, tokenizer.json and tokenizer_config.json (plus
// vocab.json and merges.txt for byte_bpe), each through a temporary file renamed into
// place. Edits recorded in the model are exported as part of the weights. Throws
// InvalidInput when `dir` is a non-empty folder and !force, when `dir` is a file, or when
// the model has no Hugging Face equivalent (GPT-2 with grouped-query attention, a vocabulary
// with a piece twice); Error when a file cannot be written; Cancelled via `progress`.
void exportHf(const Model& model, const std::filesystem::path& dir,
              const ExportOptions& options = {}, const ProgressFn& progress = {});

}  // namespace mwb
