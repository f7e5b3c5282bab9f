// Massive activations (Sun et al. 2024, "Massive Activations in Large Language
// Models", section 2): a few residual-stream values, at fixed dimensions and mostly
// at the first token or delimiters, that are orders of magnitude larger than the
// rest. The paper calls an activation massive when its magnitude exceeds 100 and
// about 1,000 times the median magnitude of its layer's hidden states.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "model/transformer.h"

namespace mwb {

struct MassiveActivationParams {
    double minMagnitude = 100.0;  // |value| above this ...
    double minRatio = 1000.0;     // ... and above this multiple of the layer's median |value|
    int topPerLayer = 4;          // largest activations reported per layer
};

// One residual-stream value: block `layer`'s output (resid_post) at (pos, dim).
struct ResidualPeak {
    int layer = 0;
    int pos = 0;
    int dim = 0;
    float value = 0.0f;
    double ratio = 0.0;  // |value| / median |resid_post| of the layer
};

struct LayerResidualStats {
    int layer = 0;
    double median = 0.0;            // median |value| over all positions and dimensions
    std::vector<ResidualPeak> top;  // largest |value| first
};

struct MassiveActivationResult {
    MassiveActivationParams params;
    std::vector<int> ids;
    std::vector<std::string> tokens;
    std::vector<LayerResidualStats> layers;  // one per block
    std::vector<ResidualPeak> massive;       // every value meeting both thresholds
    std::vector<int> dims;                   // distinct dimensions of `massive`, most frequent first

    bool isMassiveDim(int dim) const;
};

// One forward pass of `ids` (validated by the transformer: InvalidInput on an empty or
// too long prompt).
MassiveActivationResult findMassiveActivations(const Model& model, const std::vector<int>& ids,
                                               const MassiveActivationParams& params = {});

// From an existing run of the model (its residual stream at every block boundary).
MassiveActivationResult massiveActivationsOf(const Model& model, const RunState& state,
                                             const MassiveActivationParams& params = {});

// Median of |values| (copies; values may be any Eigen expression's evaluation).
double medianAbs(const Eigen::Ref<const Matrix>& values);

nlohmann::json toJson(const ResidualPeak& p);
nlohmann::json toJson(const MassiveActivationResult& r);

}  // namespace mwb
