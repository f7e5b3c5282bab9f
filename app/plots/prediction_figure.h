// Bar charts of next-token predictions. Pure: no Qt.
#pragma once

#include <string>
#include <vector>

#include "metrics/next_token_metrics.h"
#include "app/plots/figure_spec.h"

namespace mwb::plots {

struct TokenProbability {
    int id = -1;
    std::string token;  // display form
    double prob = 0.0;
    double logit = 0.0;
};

// Horizontal bars, most likely first, labelled with the quoted tokens; values are
// probabilities.
FigureSpec topTokensFigure(const std::vector<TokenProbability>& top, const std::string& title);

// Two top-token bar charts side by side on one value scale (before / after an edit or
// an ablation). source: both lists.
FigureSpec beforeAfterFigure(const std::vector<TokenProb>& before, const std::vector<TokenProb>& after,
                             const std::string& beforeTitle, const std::string& afterTitle,
                             const std::string& title = {});

// Quote a token for axis labels so that leading spaces stay visible: ' Paris'.
std::string quotedToken(const std::string& token);

}  // namespace mwb::plots
