// Top-k next-token bar chart.
#include "app/plots/prediction_figure.h"

#include <nlohmann/json.hpp>

namespace mwb::plots {

std::string quotedToken(const std::string& token) { return "'" + token + "'"; }

FigureSpec topTokensFigure(const std::vector<TokenProbability>& top, const std::string& title) {
    BarSpec bars;
    bars.title = title;
    bars.valueTitle = "probability of the next token";
    nlohmann::json source = nlohmann::json::array();
    for (const auto& t : top) {
        bars.labels.push_back(quotedToken(t.token));
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

}  // namespace mwb::plots
