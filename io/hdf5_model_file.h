// Reading and writing model files (docs/file-format.md). The only part of the
// project that talks to HDF5: hdf5_reader.cpp, hdf5_writer.cpp, edit_record_schema.cpp.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"

namespace mwb {

struct LoadOptions {
    // How to keep the linear weights other than mlp/down (weights.h). Unset: in
    // float16 when the file stores them so and their float32 copy would take more
    // than half of the physical memory; float32 otherwise.
    std::optional<WeightPrecision> precision;
};

// Throws ModelFormatError naming the file and the HDF5 path for anything wrong:
// not HDF5, truncated, missing attribute or dataset, wrong shape or type, NaN/Inf,
// inconsistent sizes. Never allocates more than a declared shape that was checked.
Model loadModel(const std::filesystem::path& file, const LoadOptions& options = {});

// Only the root attributes (fast; for `mwb info` and file dialogs).
ModelConfig loadConfig(const std::filesystem::path& file);

// What verifyModelFile found. Every float dataset (weights, tokenizer scores, edit
// records) carries a checksum in files written by this program (docs/file-format.md).
struct ChecksumReport {
    int checked = 0;                       // float datasets whose checksum matched
    std::vector<std::string> unchecked;    // HDF5 paths of float datasets without one
    std::vector<std::string> damaged;      // one sentence per damaged dataset
};

// Reads every float dataset of a model file and compares it with its checksum, without
// building the model (no weights kept, memory of one block). Throws ModelFormatError
// when the file is not a readable model file at all (its root attributes).
ChecksumReport verifyModelFile(const std::filesystem::path& file);

enum class StorageType { Float32, Float16, Float64 };

// Writes to a temporary file in the same folder and renames it into place, so a
// crash never leaves a half-written model. Refuses to overwrite an existing file
// unless `overwrite` is true. Weights kept in float16 in memory are written as
// float16 whatever `storage` says.
void saveModel(const Model& model, const std::filesystem::path& file,
               StorageType storage = StorageType::Float32, bool overwrite = false);

// Throws InvalidInput unless saveModel could write `file`: its folder exists, it is
// not a folder, and it does not exist yet unless `overwrite`. Commands call it before
// long work, so that a bad output path fails at once instead of after the edit.
void checkSaveTarget(const std::filesystem::path& file, bool overwrite);

}  // namespace mwb
