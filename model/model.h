// A loaded model: configuration, weights, tokenizer and the record of edits.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "model/config.h"
#include "tokenizer/tokenizer.h"
#include "model/weights.h"

namespace mwb {

// One applied edit, as stored in /edits/{n} (docs/file-format.md). For a rank-one
// edit of mlp/down: ΔW = left · rightᵀ with left [dModel], right [dFf]. MEMIT edits
// store one factor pair per layer (left: [dModel x r], right: [dFf x r]).
struct EditRecord {
    std::string method;          // "rome", "memit", ...
    std::vector<int> layers;     // one entry for ROME
    std::string subject;
    std::string prompt;
    std::string targetNew;
    std::string targetTrue;
    std::string created;         // ISO 8601
    std::vector<Matrix> left;    // per layer: [dModel x r]
    std::vector<Matrix> right;   // per layer: [dFf x r]
    // The exact mlp/down weights of each layer before the edit, so that undo is
    // bit-for-bit (W + ΔW − ΔW is not W in floating point). Stored as
    // /edits/{n}/before/{i} when present.
    std::vector<Matrix> before;
    // Per layer, the keys k* the edit wrote new values for, [dFf x n] (n requests;
    // empty when the record has none, the keys being optional). A later
    // AlphaEdit edit keeps them where this edit put them (its K_p, memit.h). Stored as
    // /edits/{n}/keys/{i}.
    std::vector<Matrix> keys;
};

struct Model {
    ModelConfig config;
    Weights weights;
    Tokenizer tokenizer;
    std::vector<EditRecord> edits;
    std::filesystem::path path;  // where it was loaded from; empty for a model made in memory
    // Tensors of the file that carried no checksum (a file written before checksums or
    // by another program); damage to those cannot be detected on load.
    int tensorsWithoutChecksum = 0;
};

}  // namespace mwb
