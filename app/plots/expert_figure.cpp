#include "app/plots/expert_figure.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mwb::plots {

namespace {

std::vector<std::string> layerLabels(const std::vector<int>& layers) {
    std::vector<std::string> out;
    for (int l : layers) out.push_back(std::to_string(l));
    return out;
}

// An empty grid of sparse layers (rows) by experts (columns).
HeatmapSpec layerExpertGrid(std::string title, const std::vector<int>& layers, int nExperts) {
    HeatmapSpec h;
    h.title = std::move(title);
    h.xTitle = h.xName = "expert";
    h.yTitle = h.yName = "layer";
    h.yLabels = layerLabels(layers);
    for (int e = 0; e < nExperts; ++e) h.xLabels.push_back(std::to_string(e));
    h.rows = int(layers.size());
    h.cols = nExperts;
    return h;
}

// A figure of one layer x expert grid, sized to it.
FigureSpec gridFigure(std::string title, HeatmapSpec h, nlohmann::json source) {
    FigureSpec fig;
    fig.title = std::move(title);
    fig.panelWidth = std::max(360, 30 * h.cols + 120);
    fig.panelHeight = std::max(200, 26 * h.rows + 110);
    fig.panels.push_back(std::move(h));
    fig.source = std::move(source);
    return fig;
}

}  // namespace

FigureSpec routingMapFigure(const ExpertRoutingResult& r) {
    HeatmapSpec h;
    h.title = "Top expert per token and layer (colour: its mixing weight)";
    h.xTitle = h.xName = "token";
    h.yTitle = h.yName = "layer";
    std::vector<int> layers;
    for (const LayerRoutingResult& l : r.layers) layers.push_back(l.layer);
    h.yLabels = layerLabels(layers);
    for (const std::string& t : r.tokens) h.xLabels.push_back(tokenLabel(t));
    h.xHover = tokenHovers("token", r.tokens);
    h.rows = int(r.layers.size());
    h.cols = int(r.tokens.size());
    for (const LayerRoutingResult& l : r.layers)
        for (const TokenRouting& t : l.tokens) {
            h.values.push_back(t.weights.empty() ? 0.0 : t.weights[0]);
            h.cellText.push_back(t.experts.empty() ? "" : std::to_string(t.experts[0]));
            std::string choice = "experts";
            for (size_t j = 0; j < t.experts.size(); ++j) {
                char buf[48];
                std::snprintf(buf, sizeof buf, "%s %d (%.3f)", j ? "," : "", t.experts[j], double(t.weights[j]));
                choice += buf;
            }
            h.cellHover.push_back(choice);
        }
    h.zMin = 0.0;
    h.zMax = 1.0;
    h.zLabel = "top expert's weight";
    h.palette = Palette::Blues;
    h.rotateXLabels = true;
    h.xLabelEvery = labelStride(h.cols, 40);
    FigureSpec fig;
    fig.title = "Routing";
    fig.panels.push_back(std::move(h));
    fig.panelWidth = std::max(360, 26 * int(r.tokens.size()) + 120);
    fig.panelHeight = std::max(200, 26 * int(r.layers.size()) + 110);
    fig.source = toJson(r);
    return fig;
}

FigureSpec expertLoadFigure(const ExpertLoad& load, const std::string& over) {
    HeatmapSpec h = layerExpertGrid("Share of routing choices over " + over + " (even: " +
                                        std::to_string(int(std::lround(100.0 / std::max(1, load.nExperts)))) + "%)",
                                    load.layers, load.nExperts);
    double top = 0;
    for (size_t i = 0; i < load.share.size(); ++i)
        for (int e = 0; e < load.nExperts; ++e) {
            const double s = load.share[i][size_t(e)];
            top = std::max(top, s);
            h.values.push_back(s);
            h.cellText.push_back(std::to_string(int(std::lround(100 * s))));
            char buf[64];
            std::snprintf(buf, sizeof buf, "mean weight where chosen %.3f", load.meanWeight[i][size_t(e)]);
            h.cellHover.push_back(buf);
        }
    h.zMin = 0.0;
    h.zMax = std::max(top, 1e-9);
    h.zLabel = "share";
    h.palette = Palette::Greens;
    return gridFigure("Expert load", std::move(h), toJson(load));
}

FigureSpec superExpertFigure(const SuperExpertResult& r) {
    char title[160];
    std::snprintf(title, sizeof title, "log10 peak |expert output|, %ld tokens (largest %.3g)", r.tokens,
                  r.largestPeak);
    std::vector<int> layers;
    int nExperts = 0;
    for (const ExpertPeak& p : r.experts) {
        if (layers.empty() || layers.back() != p.layer) layers.push_back(p.layer);
        nExperts = std::max(nExperts, p.expert + 1);
    }
    HeatmapSpec h = layerExpertGrid(title, layers, nExperts);
    double lo = 1e300, hi = -1e300;
    for (const ExpertPeak& p : r.experts) {
        const double v = std::log10(std::max(double(p.peak), 1e-12));
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        h.values.push_back(v);
        const bool super = std::any_of(r.superExperts.begin(), r.superExperts.end(), [&](const ExpertPeak& s) {
            return s.layer == p.layer && s.expert == p.expert;
        });
        h.cellText.push_back(super ? "SE" : "");
        char buf[160];
        std::snprintf(buf, sizeof buf, "peak %.4g at channel %d, token '%s'; %ld tokens routed", double(p.peak),
                      p.channel, p.token.c_str(), p.tokensRouted);
        h.cellHover.push_back(buf);
    }
    h.zMin = lo;
    h.zMax = hi > lo ? hi : lo + 1;
    h.zLabel = "log10 peak";
    h.palette = Palette::Reds;
    std::string supers;
    for (const ExpertPeak& p : r.superExperts)
        supers += (supers.empty() ? "" : ", ") + std::to_string(p.layer) + ":" + std::to_string(p.expert);
    return gridFigure(supers.empty() ? "No super expert" : "Super experts: " + supers, std::move(h), toJson(r));
}

FigureSpec expertTraceFigure(const ExpertTraceResult& r) {
    const std::string token = r.subjectEnd > 0 ? tokenLabel(r.tokens[size_t(r.subjectEnd - 1)]) : "";
    HeatmapSpec h = layerExpertGrid("p(" + tokenLabel(r.answer) + ") with one expert restored at '" + token + "'",
                                    r.layers, r.nExperts);
    double top = r.probCorrupted;
    for (size_t i = 0; i < r.layers.size(); ++i)
        for (int e = 0; e < r.nExperts; ++e) {
            const double v = r.probRestored(Eigen::Index(i), e);
            top = std::max(top, v);
            h.values.push_back(v);
            const bool routed = std::find(r.cleanExperts[i].begin(), r.cleanExperts[i].end(), e) != r.cleanExperts[i].end();
            h.cellText.push_back(routed ? "*" : "");
        }
    h.zMin = r.probCorrupted;
    h.zMax = top > h.zMin ? top : h.zMin + 1e-6;
    h.zLabel = "p(answer)";
    h.palette = Palette::Purples;
    char title[128];
    std::snprintf(title, sizeof title, "Experts traced: p clean %.3f, corrupted %.3f (* chosen)", r.probClean,
                  r.probCorrupted);
    return gridFigure(title, std::move(h), toJson(r));
}

}  // namespace mwb::plots
