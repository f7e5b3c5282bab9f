// Per-layer mlp/down activation spikes.
#include "app/plots/superweight_figure.h"

#include <algorithm>
#include <cmath>

namespace mwb::plots {
namespace {

// |value| kept above zero for the log scale.
double magnitude(float v) { return std::max(1e-6, static_cast<double>(std::fabs(v))); }

}  // namespace

FigureSpec spikesFigure(const SuperWeightResult& r) {
    LineSpec l;
    l.title = "Largest mlp/down activations per layer";
    l.xTitle = "layer";
    l.yTitle = "max |activation| (log scale)";
    l.logY = true;
    LineSeries in{"input (max |x|)", {}, {}}, out{"output (max |y|)", {}, {}}, after{"output, super weights zeroed", {}, {}};
    for (const auto& s : r.layers) {
        in.x.push_back(s.layer);
        in.y.push_back(magnitude(s.inputMax));
        out.x.push_back(s.layer);
        out.y.push_back(magnitude(s.outputMax));
    }
    for (const auto& s : r.layersAfter) {
        after.x.push_back(s.layer);
        after.y.push_back(magnitude(s.outputMax));
    }
    l.series = {in, out};
    if (!r.superWeights.empty() && !after.x.empty()) l.series.push_back(after);
    FigureSpec fig;
    fig.panels.push_back(std::move(l));
    fig.panelWidth = 560;
    fig.panelHeight = 270;
    fig.source = toJson(r);
    return fig;
}

FigureSpec scaleSweepFigure(const ScaleSweep& s, const std::string& modelName) {
    auto panel = [&](const std::string& title, const std::string& yTitle, auto value) {
        LineSpec l;
        l.title = title;
        l.xTitle = "scale factor of the weight(s)";
        l.yTitle = yTitle;
        LineSeries series{yTitle, {}, {}};
        for (const auto& p : s.points) {
            series.x.push_back(p.factor);
            series.y.push_back(value(p));
        }
        l.series = {series};
        return l;
    };
    FigureSpec fig;
    std::string weights;
    for (const auto& w : s.weights)
        weights += (weights.empty() ? "" : ", ") + std::to_string(w.layer) + ":" + std::to_string(w.row) + ":" +
                   std::to_string(w.col);
    fig.title = (modelName.empty() ? std::string() : modelName + ": ") + "scaling " + weights;
    if (!s.points.empty() && s.points.front().perplexity)
        fig.panels.push_back(panel("Perplexity", "perplexity", [](const ScalePoint& p) { return *p.perplexity; }));
    fig.panels.push_back(panel("KL against the unscaled model", "mean KL", [](const ScalePoint& p) { return p.meanKl; }));
    fig.panels.push_back(
        panel("Stop-word mass", "stop-word probability", [](const ScalePoint& p) { return p.stopWordMass; }));
    fig.columns = int(fig.panels.size());
    fig.panelWidth = 360;
    fig.panelHeight = 280;
    fig.source = toJson(s);
    return fig;
}

}  // namespace mwb::plots
