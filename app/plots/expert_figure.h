// Figures of a mixture-of-experts model: the routing map of a prompt (token x layer,
// each cell the top expert, the full choice on hover), the expert load per layer, and
// the super-expert profile (peak |down-projection output| per layer and expert, super
// experts marked). Pure: no Qt.
#pragma once

#include "analysis/experts/expert_routing.h"
#include "analysis/experts/expert_trace.h"
#include "analysis/experts/super_experts.h"
#include "app/plots/figure_spec.h"

namespace mwb::plots {

// Rows the sparse layers, columns the tokens; value the top expert's mixing weight,
// cell text its index. source = toJson(r).
FigureSpec routingMapFigure(const ExpertRoutingResult& r);

// Rows the sparse layers, columns the experts; value the share of the (token, choice)
// pairs routed to the expert, as a percentage in the cell. `over` names the text
// ("the prompt", "4,096 tokens of held-out text"). source = toJson(load).
FigureSpec expertLoadFigure(const ExpertLoad& load, const std::string& over);

// Rows the sparse layers, columns the experts; value log10 of the peak, "SE" in the
// cells of super experts. source = toJson(r).
FigureSpec superExpertFigure(const SuperExpertResult& r);

// Rows the sparse layers, columns the experts; value p(answer) with that expert's clean
// contribution restored at the subject's last token, "*" in the cells of the experts the
// clean run routes it to. source = toJson(r).
FigureSpec expertTraceFigure(const ExpertTraceResult& r);

}  // namespace mwb::plots
