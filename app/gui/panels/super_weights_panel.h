// The Super weights tab: detect super weights on the prompt (table and per-layer
// activation plot), choose weights to zero or scale (check boxes, a scale slider,
// or any "layer:row:col" typed in), and compare the changed model with the original.
#pragma once

#include <optional>
#include <vector>

#include "analysis/superweights/superweight_experiments.h"
#include "analysis/superweights/ablation.h"
#include "analysis/superweights/super_weights.h"
#include "analysis/superweights/weight_activation.h"
#include "app/gui/jobs/run_job.h"
#include "app/gui/panels/tool_panel.h"

class QLabel;
class QLineEdit;
class QPushButton;
class QSlider;
class QTableWidget;

namespace mwb::gui {

class AblationView;
class FigureView;

class SuperWeightsPanel : public ToolPanel {
    Q_OBJECT
public:
    explicit SuperWeightsPanel(Workspace* workspace, QWidget* parent = nullptr);

    QString title() const override { return tr("Super weights"); }
    void runAction() override;  // detect
    bool isRunning() const override { return m_detect.isRunning() || m_compare.isRunning() || m_sweep.isRunning(); }
    // Runs the ablation of the checked weights; compareFinished follows.
    void compare();
    // Perplexity, KL and stop-word mass with the checked single weights scaled by 0, 0.25, ..., 3
    // (Yu et al. 2024, Figure 6), drawn in place of the per-layer plot.
    void sweep();

    // The checked weights with the slider's factor.
    std::vector<WeightChange> selectedChanges() const;
    // Adds a row (checked) for one weight "L:R:C" or a whole row or column of mlp/down
    // ("L:R:*", "L:*:C"); false with an error message when the text is bad. Its input
    // and output activations on the prompt follow from a background pass.
    bool addWeight(const QString& text);
    void setScale(double factor);
    // Adds W[output channel, input channel] of the layer with the largest |output|
    // of the last detection (a candidate when no super weight passes the thresholds).
    bool addStrongestSpike();

    QTableWidget* table() const { return m_table; }
    FigureView* spikes() const { return m_spikes; }
    AblationView* comparison() const { return m_view; }
    const std::optional<AblationResult>& lastAblation() const { return m_ablation; }

signals:
    void compareFinished(bool ok);
    void sweepFinished(bool ok);
    // The activation columns of added rows are filled in.
    void activationsShown();

private:
    void modelChanged();
    void detectFinished();
    void compareDone();
    void addRow(const WeightCoord& w, const SuperWeight* found, const QString& status = {}, bool checked = true);
    void sweepDone();
    // Fills the activation columns of rows that have none (a background pass).
    void measureAddedRows();
    void activationsDone();
    void updateScaleLabel();

    QPushButton* m_detectButton;
    QTableWidget* m_table;
    QLineEdit* m_addEdit;
    QSlider* m_scale;
    QLabel* m_scaleLabel;
    QPushButton* m_compareButton;
    QPushButton* m_sweepButton;
    FigureView* m_spikes;
    AblationView* m_view;
    std::optional<AblationResult> m_ablation;
    std::optional<SuperWeightResult> m_detection;
    Job<SuperWeightResult> m_detect;
    Job<AblationResult> m_compare;
    Job<ScaleSweep> m_sweep;
    Job<std::vector<WeightActivation>> m_activations;
};

}  // namespace mwb::gui
