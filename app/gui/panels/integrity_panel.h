// The Integrity tab: the blind audit of the open model (editing/audit/edit_audit.h) as
// a per-layer score chart with flagged layers marked, the findings table, the
// suspected targets and subjects; Reverse removes what was flagged and compares the
// reversed model with the open one on the prompt and the suspected subjects, as the
// Super weights tab compares.
#pragma once

#include <optional>

#include "analysis/superweights/ablation.h"
#include "app/gui/jobs/run_job.h"
#include "app/gui/panels/tool_panel.h"
#include "editing/audit/edit_audit.h"

class QPlainTextEdit;
class QPushButton;
class QTableWidget;

namespace mwb::gui {

class AblationView;
class FigureView;

class IntegrityPanel : public ToolPanel {
    Q_OBJECT
public:
    explicit IntegrityPanel(Workspace* workspace, QWidget* parent = nullptr);

    QString title() const override { return tr("Integrity"); }
    void runAction() override;  // audit
    bool isRunning() const override { return m_audit.isRunning() || m_reverse.isRunning(); }
    // Compares the model with its flagged findings removed; reverseFinished follows.
    void reverse();

    QTableWidget* table() const { return m_table; }
    QString explanation() const;
    FigureView* chart() const { return m_chart; }
    AblationView* comparison() const { return m_view; }
    const std::optional<AuditResult>& lastAudit() const { return m_result; }

signals:
    void reverseFinished(bool ok);

private:
    void modelChanged();
    void auditFinished();
    void reverseDone();

    QPushButton* m_auditButton;
    QPushButton* m_reverseButton;
    QTableWidget* m_table;
    QPlainTextEdit* m_explanation;  // suspected targets and subjects
    FigureView* m_chart;
    AblationView* m_view;
    std::optional<AuditResult> m_result;
    Job<AuditResult> m_audit;
    Job<AblationResult> m_reverse;
};

}  // namespace mwb::gui
