// Top-k next-token bar chart.
#include "app/plots/prediction_figure.h"

#include <algorithm>
#include <tuple>

#include <nlohmann/json.hpp>

namespace mwb::plots {

std::string quotedToken(const std::string& token) { return "'" + token + "'"; }

FigureSpec topTokensFigure(const std::vector<TokenProbability>& top, const std::string& title) {
    BarSpec bars;
    bars.title = title;
    bars.valueTitle = "probability of the next token";
    nlohmann::json source = nlohmann::json::array();
    for (const auto& t : top) {
        bars.labels.push_back(quotedToken(tokenLabel(t.token)));
        bars.values.push_back(t.prob);
        source.push_back({{"id", t.id}, {"token", t.token}, {"prob", t.prob}, {"logit", t.logit}});
    }
    FigureSpec fig;
    fig.panels.push_back(std::move(bars));
    fig.panelWidth = 460;
    fig.panelHeight = 80 + 24 * static_cast<int>(top.size());
    fig.source = {{"top", source}};
    return fig;
}

FigureSpec beforeAfterFigure(const std::vector<TokenProb>& before, const std::vector<TokenProb>& after,
                             const std::string& beforeTitle, const std::string& afterTitle,
                             const std::string& title) {
    FigureSpec fig;
    fig.title = title;
    double top = 0.0;
    for (const auto* list : {&before, &after})
        for (const auto& t : *list) top = std::max(top, t.prob);
    for (const auto& [list, name, palette] : {std::tuple{&before, &beforeTitle, Palette::Blues},
                                              std::tuple{&after, &afterTitle, Palette::Reds}}) {
        BarSpec bars;
        bars.title = *name;
        bars.valueTitle = "probability of the next token";
        bars.valueMax = top;
        bars.palette = palette;
        for (const auto& t : *list) {
            bars.labels.push_back(quotedToken(tokenLabel(t.token)));
            bars.values.push_back(t.prob);
        }
        fig.panels.push_back(std::move(bars));
    }
    fig.columns = 2;
    fig.panelWidth = 380;
    fig.panelHeight = 90 + 24 * static_cast<int>(std::max(before.size(), after.size()));
    fig.source = {{"before", toJson(before)}, {"after", toJson(after)}};
    return fig;
}

}  // namespace mwb::plots
