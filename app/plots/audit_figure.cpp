#include "app/plots/audit_figure.h"

#include <algorithm>
#include <cstdio>

namespace mwb::plots {

FigureSpec auditFigure(const AuditResult& r, double flagThreshold) {
    std::vector<const AuditFinding*> byLayer;
    for (const AuditFinding& f : r.findings) byLayer.push_back(&f);
    std::sort(byLayer.begin(), byLayer.end(), [](const AuditFinding* a, const AuditFinding* b) { return a->layer < b->layer; });
    BarSpec bars;
    char title[96];
    std::snprintf(title, sizeof title, "Edit score of mlp/down per layer (flagged from %.1f)", flagThreshold);
    bars.title = title;
    bars.valueTitle = "robust z against the other layers";
    double top = flagThreshold;
    for (const AuditFinding* f : byLayer) {
        bars.labels.push_back("layer " + std::to_string(f->layer) + (f->flagged ? "  FLAGGED" : ""));
        bars.values.push_back(std::max(f->score, 0.0));
        top = std::max(top, f->score);
    }
    bars.valueMax = top * 1.1;
    bars.palette = r.edited ? Palette::Reds : Palette::Blues;
    FigureSpec fig;
    std::string flagged;
    for (const AuditFinding* f : byLayer)
        if (f->flagged) flagged += (flagged.empty() ? "" : ", ") + std::to_string(f->layer);
    fig.title = flagged.empty() ? "No layer stands out" : "Probably edited: layer " + flagged;
    fig.panels.push_back(std::move(bars));
    fig.panelWidth = 560;
    fig.panelHeight = std::max(200, 26 * int(byLayer.size()) + 80);
    TableSpec table;
    table.title = "What the top finding would inject, and the keys it answers";
    table.header = {"suspected target", "score", "candidate subject", "in context", "z"};
    const size_t rows = std::min<size_t>(10, std::max(r.suspectedTargets.size(), r.suspectedSubjects.size()));
    for (size_t i = 0; i < rows; ++i) {
        std::vector<std::string> row(5);
        char num[32];
        if (i < r.suspectedTargets.size()) {
            row[0] = tokenLabel(r.suspectedTargets[i].token);
            std::snprintf(num, sizeof num, "%.2f", r.suspectedTargets[i].score);
            row[1] = num;
        }
        if (i < r.suspectedSubjects.size()) {
            row[2] = tokenLabel(r.suspectedSubjects[i].token);
            row[3] = "..." + r.suspectedSubjects[i].context;
            std::snprintf(num, sizeof num, "%.1f", r.suspectedSubjects[i].score);
            row[4] = num;
        }
        table.rows.push_back(std::move(row));
    }
    if (!table.rows.empty()) fig.table = std::move(table);
    fig.source = toJson(r);
    return fig;
}

}  // namespace mwb::plots
