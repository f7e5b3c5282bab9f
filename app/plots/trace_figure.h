// Figures of causal traces (ROME paper, Figures 1 and 2), built from the analysis
// library's result structs. Pure: no Qt.
#pragma once

#include <string>

#include "analysis/causal_trace.h"
#include "app/plots/figure_spec.h"

namespace mwb::plots {

// The colour map of a kind: hidden purple, MLP green, attention red.
Palette tracePalette(TraceKind kind);

// Tokens as row labels, subject tokens marked with a trailing '*'.
std::vector<std::string> traceTokenLabels(const CausalTraceResult& r);

// One heatmap per traced kind, side by side: tokens down, layers across, cell =
// probability of the answer with that (token, layer) restored (probRestored, exactly),
// colour scale from probCorrupted up, labelled "p(answer)". source = toJson(r).
FigureSpec traceFigure(const CausalTraceResult& r, const std::string& modelName = {});

// The average indirect effect over a facts file: per kind a [6 categories x layers] grid.
FigureSpec averageTraceFigure(const AverageTraceResult& r, const std::string& modelName = {});

}  // namespace mwb::plots
