// Logit-lens grid.
#include "app/plots/lens_figure.h"

#include <algorithm>

namespace mwb::plots {
namespace {

// Characters (code points) of UTF-8 text.
size_t utf8Length(const std::string& text) {
    size_t n = 0;
    for (unsigned char c : text) n += (c & 0xC0) != 0x80;
    return n;
}

}  // namespace

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
    h.xHover = tokenHovers("position", r.tokens);
    h.rotateXLabels = nPos > 8;
    // Cells as wide as the longest top token (up to 14 characters), so that words are
    // neither cut nor run into each other.
    size_t longest = 1;
    for (const auto& layerTop : r.top)
        for (const auto& cell : layerTop)
            if (!cell.empty()) longest = std::max(longest, utf8Length(tokenLabel(cell.front().token)));
    const int maxChars = static_cast<int>(std::min<size_t>(longest, 14));
    for (int row = 0; row < nLayers; ++row) {
        const int layer = nLayers - 1 - row;
        h.yLabels.push_back(std::to_string(layer));
        h.yHover.push_back("layer " + std::to_string(layer));
        for (int pos = 0; pos < nPos; ++pos) {
            const auto& top = r.top[layer][pos];
            h.values.push_back(target ? r.targetProb[layer][pos] : (top.empty() ? 0.0 : top.front().prob));
            h.cellText.push_back(top.empty() ? "" : shortToken(tokenLabel(top.front().token), maxChars));
        }
    }
    h.zLabel = target ? "p(" + r.target + ")" : "p(top token)";
    h.palette = target ? Palette::Greens : Palette::Blues;
    h.zMin = 0.0;
    h.zMax = 1.0;
    FigureSpec fig;
    fig.panels.push_back(std::move(h));
    fig.panelWidth = std::max(500, 170 + (12 + 7 * maxChars) * nPos);
    fig.panelHeight = std::max(300, 120 + 22 * nLayers);
    fig.source = toJson(r);
    return fig;
}

}  // namespace mwb::plots
