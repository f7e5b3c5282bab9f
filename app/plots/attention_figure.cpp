// Attention heatmaps: one head, or all heads of a layer.
#include "app/plots/attention_figure.h"

#include <cmath>

namespace mwb::plots {
namespace {

std::vector<std::string> tokenLabels(const std::vector<std::string>& tokens) {
    std::vector<std::string> out;
    for (const auto& t : tokens) out.push_back(tokenLabel(t));
    return out;
}

HeatmapSpec headHeatmap(const AttentionMaps& maps, int layer, int head, bool labels) {
    const Matrix& w = maps.weights[layer][head];
    HeatmapSpec h;
    h.rows = static_cast<int>(w.rows());
    h.cols = static_cast<int>(w.cols());
    for (int q = 0; q < h.rows; ++q)
        for (int k = 0; k < h.cols; ++k) h.values.push_back(w(q, k));
    if (labels) {
        h.xLabels = tokenLabels(maps.tokens);
        h.yLabels = h.xLabels;
        h.xTitle = "key";
        h.yTitle = "query";
    }
    h.xName = "key";
    h.yName = "query";
    h.xHover = tokenHovers("key", maps.tokens);
    h.yHover = tokenHovers("query", maps.tokens);
    h.zLabel = "attention weight";
    h.palette = Palette::Viridis;
    h.zMin = 0.0;
    h.zMax = 1.0;
    return h;
}

}  // namespace

FigureSpec attentionHeadFigure(const AttentionMaps& maps, int layer, int head) {
    validateSelection(maps, layer, head);
    FigureSpec fig;
    HeatmapSpec h = headHeatmap(maps, layer, head, true);
    h.title = "Layer " + std::to_string(layer) + ", head " + std::to_string(head);
    const int n = static_cast<int>(maps.tokens.size());
    // Up to 64 tokens every label at 14 px a row; beyond, every n-th so that they stay apart.
    h.xLabelEvery = h.yLabelEvery = labelStride(n, 64);
    h.rotateXLabels = true;
    fig.panels.push_back(std::move(h));
    fig.panelWidth = std::max(420, 200 + 16 * std::min(n, 64));
    fig.panelHeight = std::max(340, 160 + 15 * std::min(n, 64));
    fig.source = toJson(maps, layer, head);
    return fig;
}

FigureSpec attentionLayerFigure(const AttentionMaps& maps, int layer) {
    validateSelection(maps, layer, std::nullopt);
    FigureSpec fig;
    fig.title = "Attention of every head in layer " + std::to_string(layer) + " (queries down, keys across)";
    const int n = static_cast<int>(maps.tokens.size());
    fig.columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(maps.nHeads))));
    // Token labels on the outer edges (queries on the first column, keys on the last
    // row), thinned to at most 24 per axis so that they stay readable; the hover names
    // every token.
    const int lastRow = (maps.nHeads - 1) / fig.columns;
    const int every = labelStride(n, 24);
    for (int head = 0; head < maps.nHeads; ++head) {
        HeatmapSpec h = headHeatmap(maps, layer, head, false);
        h.title = "head " + std::to_string(head);
        h.xLabelEvery = h.yLabelEvery = every;
        h.rotateXLabels = true;
        if (head % fig.columns == 0) h.yLabels = tokenLabels(maps.tokens);
        if (head / fig.columns == lastRow) h.xLabels = tokenLabels(maps.tokens);
        h.showScale = head == maps.nHeads - 1 || (head + 1) % fig.columns == 0;
        fig.panels.push_back(std::move(h));
    }
    // Room for the labels: the first column's queries and the last row's keys.
    fig.panelWidth = std::max(200, 60 + 12 * std::min(n, 48)) + 40 + 40;
    fig.panelHeight = std::max(170, 40 + 12 * std::min(n, 48)) + 50;
    fig.source = toJson(maps, layer);
    return fig;
}

}  // namespace mwb::plots
