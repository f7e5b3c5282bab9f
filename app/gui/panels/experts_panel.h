// The Experts tab of a mixture-of-experts model: the routing map of the prompt (token x
// layer, each cell the top expert, the full choice on hover), the expert load over the
// prompt or the held-out text, the causal trace of single experts at the subject's last
// token, expert removal compared with the open model as the Super weights tab compares,
// and the super-expert search (Su et al. 2025).
#pragma once

#include <optional>

#include "analysis/experts/expert_routing.h"
#include "analysis/experts/expert_trace.h"
#include "analysis/experts/super_experts.h"
#include "analysis/superweights/ablation.h"
#include "app/gui/jobs/run_job.h"
#include "app/gui/panels/tool_panel.h"

class QCheckBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace mwb::gui {

class AblationView;
class FigureView;

class ExpertsPanel : public ToolPanel {
    Q_OBJECT
public:
    explicit ExpertsPanel(Workspace* workspace, QWidget* parent = nullptr);

    QString title() const override { return tr("Experts"); }
    void runAction() override;  // routing map and load
    bool isRunning() const override {
        return m_route.isRunning() || m_compare.isRunning() || m_super.isRunning() || m_trace.isRunning();
    }
    // Removes the experts typed in the field and compares; compareFinished follows.
    void compare();
    // Profiles the experts over the held-out text; the super experts (or, without
    // any, the expert of largest peak) fill the field; superFinished follows.
    void findSuperExperts();
    // Traces every expert of every sparse layer at the subject's last token (the
    // subject field, a part of the prompt); traceFinished follows.
    void traceExperts();

    FigureView* routingMap() const { return m_map; }
    FigureView* loadChart() const { return m_load; }
    FigureView* superChart() const { return m_superChart; }
    FigureView* traceChart() const { return m_traceChart; }
    QLineEdit* subjectField() const { return m_subject; }
    AblationView* comparison() const { return m_view; }
    QLineEdit* expertsField() const { return m_experts; }
    QCheckBox* loadOverText() const { return m_overText; }
    const std::optional<SuperExpertResult>& lastSuperExperts() const { return m_superResult; }

signals:
    void compareFinished(bool ok);
    void superFinished(bool ok);
    void traceFinished(bool ok);

private:
    struct Routing {
        ExpertRoutingResult routing;
        ExpertLoad load;
        std::string over;
    };
    void modelChanged();
    void routeDone();
    void compareDone();
    void superDone();
    void traceDone();

    QLabel* m_notice;  // why the tab is idle for a dense model
    QPushButton* m_routeButton;
    QCheckBox* m_overText;
    QLineEdit* m_experts;
    QPushButton* m_compareButton;
    QPushButton* m_superButton;
    QLineEdit* m_subject;
    QPushButton* m_traceButton;
    FigureView* m_traceChart;
    FigureView* m_map;
    FigureView* m_load;
    FigureView* m_superChart;
    AblationView* m_view;
    std::optional<SuperExpertResult> m_superResult;
    Job<Routing> m_route;
    Job<AblationResult> m_compare;
    Job<SuperExpertResult> m_super;
    Job<ExpertTraceResult> m_trace;
};

}  // namespace mwb::gui
