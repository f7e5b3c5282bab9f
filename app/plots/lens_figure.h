// The logit-lens grid built from LogitLensResult. Pure: no Qt.
#pragma once

#include "analysis/logit_lens.h"
#include "app/plots/figure_spec.h"

namespace mwb::plots {

// Layers down (the output layer on top), positions across labelled with the input
// tokens; each cell shows the top token read out there, coloured by its probability
// — or, with showTarget and a target in the result, by the target's probability.
FigureSpec lensFigure(const LogitLensResult& r, bool showTarget = false);

// A token shortened for a grid cell (at most `maxChars` characters, UTF-8 aware).
std::string shortToken(const std::string& token, int maxChars = 8);

}  // namespace mwb::plots
