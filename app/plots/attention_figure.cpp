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
    fig.panels.push_back(std::move(h));
    const int n = static_cast<int>(maps.tokens.size());
    fig.panelWidth = std::max(420, 160 + 26 * n);
    fig.panelHeight = std::max(340, 120 + 22 * n);
    fig.source = toJson(maps, layer, head);
    return fig;
}

FigureSpec attentionLayerFigure(const AttentionMaps& maps, int layer) {
    validateSelection(maps, layer, std::nullopt);
    FigureSpec fig;
    fig.title = "Attention of every head in layer " + std::to_string(layer) + " (queries down, keys across)";
    const int n = static_cast<int>(maps.tokens.size());
    fig.columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(maps.nHeads))));
    // Token labels only where they can be read: few tokens, queries on the first column,
    // keys on the last row.
    const int lastRow = (maps.nHeads - 1) / fig.columns;
    for (int head = 0; head < maps.nHeads; ++head) {
        HeatmapSpec h = headHeatmap(maps, layer, head, false);
        h.title = "head " + std::to_string(head);
        if (head % fig.columns == 0 && n <= 24) h.yLabels = tokenLabels(maps.tokens);
        if (head / fig.columns == lastRow && n <= 24) h.xLabels = tokenLabels(maps.tokens);
        h.showScale = head == maps.nHeads - 1 || (head + 1) % fig.columns == 0;
        fig.panels.push_back(std::move(h));
    }
    fig.panelWidth = std::max(200, 60 + 12 * n) + 40;
    fig.panelHeight = std::max(170, 40 + 12 * n);
    fig.source = toJson(maps, layer);
    return fig;
}

}  // namespace mwb::plots
