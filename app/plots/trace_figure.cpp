// Causal-trace heatmaps: three panels (hidden, MLP, attention) in the ROME layout.
#include "app/plots/trace_figure.h"

#include <algorithm>
#include <cstdio>

namespace mwb::plots {
namespace {

std::string kindTitle(TraceKind kind) {
    switch (kind) {
        case TraceKind::Hidden: return "Impact of restoring state\nafter corrupted input";
        case TraceKind::Mlp: return "Impact of restoring MLP\nafter corrupted input";
        case TraceKind::Attn: return "Impact of restoring Attn\nafter corrupted input";
    }
    return {};
}

std::string kindAxis(TraceKind kind, int window, const std::string& modelName) {
    const std::string within = modelName.empty() ? "" : " within " + modelName;
    if (kind == TraceKind::Hidden) return "single restored layer" + within;
    const std::string module = kind == TraceKind::Mlp ? "MLP" : "Attn";
    if (window <= 1) return "single restored " + module + " layer" + within;
    return "center of interval of " + std::to_string(window) + " restored " + module + " layers";
}

std::vector<std::string> layerLabels(int nLayers) {
    std::vector<std::string> labels;
    for (int l = 0; l < nLayers; ++l) labels.push_back(std::to_string(l));
    return labels;
}

HeatmapSpec gridHeatmap(const MatrixD& grid) {
    HeatmapSpec h;
    h.rows = static_cast<int>(grid.rows());
    h.cols = static_cast<int>(grid.cols());
    h.values.reserve(static_cast<size_t>(h.rows) * h.cols);
    for (int r = 0; r < h.rows; ++r)
        for (int c = 0; c < h.cols; ++c) h.values.push_back(grid(r, c));
    h.xLabels = layerLabels(h.cols);
    h.xLabelEvery = labelStride(h.cols, 12);
    h.xName = "layer";
    h.yName = "token";
    return h;
}

std::string trimmed(const std::string& s) {
    const auto b = s.find_first_not_of(' ');
    if (b == std::string::npos) return s;
    return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

std::string percent(double p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * p);
    return buf;
}

}  // namespace

Palette tracePalette(TraceKind kind) {
    switch (kind) {
        case TraceKind::Hidden: return Palette::Purples;
        case TraceKind::Mlp: return Palette::Greens;
        case TraceKind::Attn: return Palette::Reds;
    }
    return Palette::Purples;
}

std::vector<std::string> traceTokenLabels(const CausalTraceResult& r) {
    std::vector<std::string> labels;
    for (int i = 0; i < static_cast<int>(r.tokens.size()); ++i) {
        const bool subject = i >= r.subjectBegin && i < r.subjectEnd;
        labels.push_back(tokenLabel(r.tokens[i]) + (subject ? "*" : ""));
    }
    return labels;
}

FigureSpec traceFigure(const CausalTraceResult& r, const std::string& modelName) {
    FigureSpec fig;
    std::string prompt;
    for (const auto& t : r.tokens) prompt += t;
    fig.title = "\"" + prompt + "\" \u2192 " + trimmed(r.answer) + "    p(clean) " + percent(r.probClean) +
                ", p(corrupted) " + percent(r.probCorrupted);
    if (r.params.method == TraceMethod::Attribution) fig.title += "    (attribution estimate)";
    const std::string zLabel = "p(" + trimmed(r.answer) + ")";
    for (const auto& [kind, grid] : r.probRestored) {
        HeatmapSpec h = gridHeatmap(grid);
        h.title = kindTitle(kind);
        h.xTitle = kindAxis(kind, r.params.window, modelName);
        h.yLabels = traceTokenLabels(r);
        for (size_t t = 0; t < h.yLabels.size(); ++t)
            h.yHover.push_back("token " + std::to_string(t) + " '" + h.yLabels[t] + "'");
        h.palette = tracePalette(kind);
        h.zLabel = zLabel;
        h.zMin = r.probCorrupted;
        h.zMax = std::max(grid.size() ? grid.maxCoeff() : 0.0, h.zMin + 1e-9);
        fig.panels.push_back(std::move(h));
    }
    fig.columns = static_cast<int>(fig.panels.size());
    fig.panelWidth = 380;
    fig.panelHeight = 110 + 22 * static_cast<int>(r.tokens.size());
    fig.source = toJson(r);
    return fig;
}

FigureSpec averageTraceFigure(const AverageTraceResult& r, const std::string& modelName) {
    FigureSpec fig;
    fig.title = "Average indirect effect over " + std::to_string(r.factsUsed) + " facts (" +
                std::to_string(r.factsSkipped) + " skipped)    mean p(clean) " +
                percent(r.meanProbClean) + ", mean p(corrupted) " + percent(r.meanProbCorrupted);
    if (r.params.method == TraceMethod::Attribution) fig.title += "    (attribution estimate)";
    const std::vector<std::string> categories(AverageTraceResult::kCategories.begin(),
                                              AverageTraceResult::kCategories.end());
    for (const auto& [kind, grid] : r.indirectEffect) {
        HeatmapSpec h = gridHeatmap(grid);
        h.title = kindTitle(kind);
        h.xTitle = kindAxis(kind, r.params.window, modelName);
        h.yLabels = categories;
        h.yName = "position";
        h.palette = tracePalette(kind);
        h.zLabel = "AIE";
        h.zMin = std::min(0.0, grid.size() ? grid.minCoeff() : 0.0);
        h.zMax = std::max(grid.size() ? grid.maxCoeff() : 0.0, h.zMin + 1e-9);
        fig.panels.push_back(std::move(h));
    }
    fig.columns = static_cast<int>(fig.panels.size());
    fig.panelWidth = 400;
    fig.panelHeight = 260;
    fig.source = toJson(r);
    return fig;
}

}  // namespace mwb::plots
