// The Lens tab: the logit-lens grid (layers x positions, top token and its
// probability), optionally coloured by one target token's probability.
#pragma once

#include <optional>

#include "analysis/logit_lens.h"
#include "app/gui/jobs/run_job.h"
#include "app/gui/panels/tool_panel.h"

class QCheckBox;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace mwb::gui {

class FigureView;

class LensPanel : public ToolPanel {
    Q_OBJECT
public:
    explicit LensPanel(Workspace* workspace, QWidget* parent = nullptr);

    QString title() const override { return tr("Lens"); }
    void runAction() override;
    bool isRunning() const override { return m_job.isRunning(); }

    QLineEdit* targetEdit() const { return m_target; }
    FigureView* figure() const { return m_figure; }
    const std::optional<LogitLensResult>& result() const { return m_result; }

private:
    void finished();
    void redraw();

    QLineEdit* m_target;
    QCheckBox* m_colourByTarget;
    QPushButton* m_run;
    FigureView* m_figure;
    std::optional<LogitLensResult> m_result;
    Job<LogitLensResult> m_job;
};

}  // namespace mwb::gui
