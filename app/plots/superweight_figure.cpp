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

}  // namespace mwb::plots
