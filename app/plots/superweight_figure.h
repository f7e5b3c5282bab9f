// Figures of super-weight detection (Yu et al. 2024, Figure 3 style): the largest
// mlp/down input and output activation per layer. Pure: no Qt.
#pragma once

#include "analysis/superweights/super_weights.h"
#include "app/plots/figure_spec.h"

namespace mwb::plots {

// Per layer the largest |input| and |output| of mlp/down (log scale), and the output
// again with every found super weight zeroed. source = toJson(r).
FigureSpec spikesFigure(const SuperWeightResult& r);

}  // namespace mwb::plots
