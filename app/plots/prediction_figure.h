// Bar charts of next-token predictions. Pure: no Qt.
#pragma once

#include <string>
#include <vector>

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

// Quote a token for axis labels so that leading spaces stay visible: ' Paris'.
std::string quotedToken(const std::string& token);

}  // namespace mwb::plots
