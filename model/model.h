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
// store one factor pair per layer (left: [dModel x r], right: [dFf x r]). An edit of
// an expert changes that expert's down projection instead (right: [dExpert x r]).
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
    // Per entry of `layers`, the expert whose down projection the entry changed (its
    // factors' `right` then has d_expert rows), or -1 for the layer's MLP; empty: every
    // entry is an MLP's. Stored as the attribute expert or experts.
    std::vector<int> experts;

    int expertAt(size_t j) const { return j < experts.size() ? experts[j] : -1; }
};

// What an edit entry changes: mlp/down of `layer` (expert -1), or the down projection
// of one expert of a sparse layer (docs/mixture-of-experts.md, "Editing experts").
inline Matrix& editedDown(Weights& w, int layer, int expert) {
    auto& b = w.blocks.at(size_t(layer));
    return expert < 0 ? b.down.weight : b.moe.experts.at(size_t(expert)).down.weight;
}
inline const Matrix& editedDown(const Weights& w, int layer, int expert) {
    const auto& b = w.blocks.at(size_t(layer));
    return expert < 0 ? b.down.weight : b.moe.experts.at(size_t(expert)).down.weight;
}
// Its path in the model file.
inline std::string editedDownPath(int layer, int expert) {
    return "/blocks/" + std::to_string(layer) +
           (expert < 0 ? std::string("/mlp/down/weight") : "/moe/experts/" + std::to_string(expert) + "/down/weight");
}
// The width of its keys: d_ff, or d_expert.
inline int editedKeyWidth(const ModelConfig& c, int expert) { return expert < 0 ? c.dFf : c.dExpert; }
// Why (layer, expert) names nothing an edit can change in a model of this shape (one
// sentence), or empty: a layer out of range, an expert of a dense layer, the MLP of a
// sparse one, an expert the layer does not have.
inline std::string editTargetProblem(const ModelConfig& c, int layer, int expert) {
    const std::string l = "layer " + std::to_string(layer);
    if (layer < 0 || layer >= c.nLayers)
        return l + " is out of range (the model has " + std::to_string(c.nLayers) + " layers)";
    if (expert >= 0 && !c.moeLayer(layer)) return l + " is dense: it has no expert " + std::to_string(expert);
    if (expert < 0 && c.moeLayer(layer)) return l + " is a mixture of experts: name the expert to edit";
    if (expert >= c.nExperts)
        return l + " has experts 0 to " + std::to_string(c.nExperts - 1) + ", not " + std::to_string(expert);
    return {};
}

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
