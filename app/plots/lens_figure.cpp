// Logit-lens grid.
#include "app/plots/lens_figure.h"

namespace mwb::plots {

std::string shortToken(const std::string& token, int maxChars) {
    std::string out;
    int chars = 0;
    for (size_t i = 0; i < token.size();) {
        size_t len = 1;
        const auto c = static_cast<unsigned char>(token[i]);
        if (c >= 0xF0) len = 4;
        else if (c >= 0xE0) len = 3;
        else if (c >= 0xC0) len = 2;
        if (chars == maxChars) return out + "\u2026";
        out += token.substr(i, len);
        i += len;
        ++chars;
    }
    return out;
}

FigureSpec lensFigure(const LogitLensResult& r, bool showTarget) {
    const bool target = showTarget && r.targetId >= 0 && !r.targetProb.empty();
    const int nLayers = static_cast<int>(r.top.size());
    const int nPos = static_cast<int>(r.tokens.size());
    HeatmapSpec h;
    h.rows = nLayers;
    h.cols = nPos;
    h.title = target ? "Logit lens: probability of '" + r.target + "' (cells: top token)"
                     : "Logit lens: top token and its probability";
    h.xTitle = "input token (position)";
    h.yTitle = "layer (block output)";
    h.xName = "position";
    h.yName = "layer";
    for (const auto& t : r.tokens) h.xLabels.push_back(tokenLabel(t));
    for (int row = 0; row < nLayers; ++row) {
        const int layer = nLayers - 1 - row;
        h.yLabels.push_back(std::to_string(layer));
        for (int pos = 0; pos < nPos; ++pos) {
            const auto& top = r.top[layer][pos];
            h.values.push_back(target ? r.targetProb[layer][pos] : (top.empty() ? 0.0 : top.front().prob));
            h.cellText.push_back(top.empty() ? "" : shortToken(tokenLabel(top.front().token), nPos > 16 ? 7 : 10));
        }
    }
    h.zLabel = target ? "p(" + r.target + ")" : "p(top token)";
    h.palette = target ? Palette::Greens : Palette::Blues;
    h.zMin = 0.0;
    h.zMax = 1.0;
    FigureSpec fig;
    fig.panels.push_back(std::move(h));
    fig.panelWidth = std::max(500, 150 + 66 * nPos);
    fig.panelHeight = std::max(300, 120 + 22 * nLayers);
    fig.source = toJson(r);
    return fig;
}

}  // namespace mwb::plots
