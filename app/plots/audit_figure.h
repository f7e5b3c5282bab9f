// The audit's figure: per layer the score of mlp/down against the flag threshold,
// flagged layers marked, and the suspected targets and subjects as a table. Pure: no Qt.
#pragma once

#include "app/plots/figure_spec.h"
#include "editing/audit/edit_audit.h"

namespace mwb::plots {

// source = toJson(r).
FigureSpec auditFigure(const AuditResult& r, double flagThreshold);

}  // namespace mwb::plots
