// Figures of super-weight detection (Yu et al. 2024, Figure 3 style): the largest
// mlp/down input and output activation per layer. Pure: no Qt.
#pragma once

#include <string>

#include "analysis/superweights/super_weights.h"
#include "analysis/superweights/superweight_experiments.h"
#include "app/plots/figure_spec.h"

namespace mwb::plots {

// Per layer the largest |input| and |output| of mlp/down (log scale), and the output
// again with every found super weight zeroed. source = toJson(r).
FigureSpec spikesFigure(const SuperWeightResult& r);

// A scale sweep (Yu et al. 2024, Figure 6): perplexity (when the sweep had a text),
// mean KL against the unscaled model and stop-word mass against the factor.
// source = toJson(s).
FigureSpec scaleSweepFigure(const ScaleSweep& s, const std::string& modelName = {});

}  // namespace mwb::plots
