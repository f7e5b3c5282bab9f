// The super-weight paper's experiments (Yu et al. 2024, Table 1, Figures 5-6):
// remove the super weights; remove them but restore the super activation; the
// control that removes the N largest other weights of the same matrices instead;
// and a sweep that scales the super weights by factors from 0 to 3, measuring
// perplexity and stop-word mass per factor.
#pragma once

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/superweights/ablation.h"

namespace mwb {

struct SuperWeightExperiments {
    std::vector<WeightCoord> superWeights;
    AblationResult zeroed;                 // "Prune SW"
    AblationResult zeroedRestored;         // "Prune SW, +SA"
    std::optional<AblationResult> control; // "Prune non-SW": the N largest other weights zeroed
};

// controlCount 0 leaves out the control. Throws InvalidInput for no super weight, a
// weight outside the model or bad inputs (see runAblation).
SuperWeightExperiments runSuperWeightExperiments(const Model& model, const std::vector<WeightCoord>& superWeights,
                                                 const AblationInputs& inputs, int controlCount = 0,
                                                 const ProgressFn& progress = {});

struct ScalePoint {
    double factor = 1.0;
    std::optional<double> perplexity;  // with a corpus
    double stopWordMass = 0.0;         // mean over the prompts
    double meanKl = 0.0;               // mean over the prompts, against the unscaled model
    std::vector<TokenProb> top;        // first prompt's top tokens
};

struct ScaleSweep {
    std::vector<WeightCoord> weights;
    std::optional<double> perplexityOriginal;
    double stopWordMassOriginal = 0.0;
    std::vector<ScalePoint> points;
};

// Every weight multiplied by each factor in turn (the paper sweeps 0 to 3).
ScaleSweep runScaleSweep(const Model& model, const std::vector<WeightCoord>& weights, const std::vector<double>& factors,
                         const AblationInputs& inputs, const ProgressFn& progress = {});

// 0, 0.25, ..., 3
std::vector<double> defaultScaleFactors();

// start, start + step, ... up to stop (included when the steps reach it to within
// rounding). Throws InvalidInput unless step > 0, start <= stop and there are at most
// 1,000 factors.
std::vector<double> scaleFactorRange(double start, double stop, double step);

nlohmann::json toJson(const SuperWeightExperiments& e);
nlohmann::json toJson(const ScaleSweep& s);

}  // namespace mwb
