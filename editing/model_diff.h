// Model diff: which tensors two models differ in, how large and of what rank each
// difference is, and which recorded edits explain it — an edited model should not
// hide its edits (docs/editing.md, "Model diff").
//
// The difference of a tensor is D = B − A, computed exactly in double from the float
// weights. Edit records (EditRecord, /edits) are compared between the models: the
// records B has and A lacks ("new") and those A has and B lacks ("removed", e.g. an
// undone edit) predict for layer L the change
//     E_L = Σ_new left·rightᵀ − Σ_removed left·rightᵀ   of /blocks/L/mlp/down/weight.
// A difference is explained when ||D − E||_F <= explainTol·||D||_F + 2·floor, where
// floor = u·||B||_F over the changed elements bounds the float rounding of B = A + ΔW
// (u = 2⁻²⁴, or 2⁻¹¹ when every changed value of B is a float16 value, as in a model
// stored in float16), times the number of records concerned (sequential edits round
// once each). A difference that is only float16 rounding (a float32 model
// saved in float16) is reported as such. Any other difference is "weights changed
// without an edit record".
// The same floor is the rank's absolute tolerance (editing/spectrum.h), so rounding
// noise does not count as rank.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

struct DiffOptions {
    int topSingularValues = 8;
    double rankTol = 1e-6;     // relative to the largest singular value (see SpectrumOptions)
    double explainTol = 1e-3;  // residual allowed, relative to ||D||_F
    bool exactSpectrum = false;  // exact SVD for every difference (slow for big matrices)
};

struct TensorDiff {
    std::string path;              // "/blocks/7/mlp/down/weight"
    long rows = 0, cols = 0;       // cols = 1 for vectors
    long changedElements = 0;
    double norm = 0.0;             // ||B − A||_F
    double relativeNorm = 0.0;     // ||B − A||_F / ||A||_F (inf when A is zero)
    double maxAbs = 0.0;           // largest |B − A| element
    int rank = 0;
    bool rankIsLowerBound = false;
    std::vector<double> singularValues;  // largest first
    // Records that explain the difference: indices into B's edits (new records) and
    // into A's edits (records B no longer has). Empty when none concerns this tensor.
    std::vector<int> edits;
    std::vector<int> removedEdits;
    bool explained = false;
    // ||D − E||_F / ||D||_F for the recorded change E (1 when no record concerns it).
    double residual = 1.0;
    // Not explained by records, but B holds float16 values and A does not, and the
    // difference is within float16 rounding of B: a float32 model saved as float16.
    // Reported, not flagged as unexplained.
    bool float16Rounding = false;
};

// A configuration or tokenizer field that differs: values as text.
struct FieldDiff {
    std::string field;
    std::string a, b;
};

struct ModelDiff {
    bool identical = true;
    std::vector<TensorDiff> tensors;     // differing tensors, in file order
    std::vector<std::string> unexplained;  // paths of differences no record explains
    std::vector<FieldDiff> config;
    std::vector<FieldDiff> tokenizer;
    std::vector<int> newEdits;       // indices into B's edits that A lacks
    std::vector<int> removedEdits;   // indices into A's edits that B lacks
    // New or removed records whose change does not appear in the weights:
    // "B's /edits/3 (layer 7)" style descriptions.
    std::vector<std::string> editsWithoutChange;
};

// Throws InvalidInput (one sentence naming both models) when the models have
// different shapes (architecture, layer count, any tensor's shape) or an edit record
// whose factors do not fit the model. Cancelled when progress returns false.
ModelDiff diffModels(const Model& a, const Model& b, const DiffOptions& options = {},
                     const ProgressFn& progress = {});

// The fields that differ, named as in docs/file-format.md (n_layer, norm_eps, ...;
// vocab, merges, scores with the count of differing entries and the first one).
std::vector<FieldDiff> diffConfigs(const ModelConfig& a, const ModelConfig& b);
std::vector<FieldDiff> diffTokenizers(const TokenizerSpec& a, const TokenizerSpec& b);

// The message flagged for an unexplained difference.
inline constexpr const char* kUnrecordedChange = "weights changed without an edit record";

// {"identical": ..., "tensors": [{"path", "norm", "relative_norm", "rank",
//  "singular_values", "edit" (first explaining index into B's edits, or null), ...}],
//  "unexplained": [paths], "config": [...], "tokenizer": [...], "edits": {...}}
nlohmann::json toJson(const ModelDiff& d);

}  // namespace mwb
