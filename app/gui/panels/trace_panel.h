// The Trace tab: causal tracing of the prompt (three heatmaps: hidden, MLP,
// attention) or the average indirect effect over a facts file, with the tracing
// parameters in a side panel.
#pragma once

#include <optional>

#include "analysis/causal_trace.h"
#include "app/gui/jobs/run_job.h"
#include "app/gui/panels/tool_panel.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QRadioButton;
class QSpinBox;

namespace mwb::gui {

class FigureView;

class TracePanel : public ToolPanel {
    Q_OBJECT
public:
    explicit TracePanel(Workspace* workspace, QWidget* parent = nullptr);

    QString title() const override { return tr("Trace"); }
    void runAction() override;
    bool isRunning() const override { return m_trace.isRunning() || m_average.isRunning(); }
    void cancel();

    // The parameters as the side panel sets them.
    CausalTraceParams params() const;

    QLineEdit* subjectEdit() const { return m_subject; }
    QLineEdit* answerEdit() const { return m_answer; }
    QSpinBox* samplesBox() const { return m_samples; }
    // Exact restorations, the attribution estimate, or the estimate with AtP*'s
    // recomputation of the next attention layer (index 0, 1, 2).
    QComboBox* methodBox() const { return m_method; }
    QRadioButton* averageMode() const { return m_averageMode; }
    QLineEdit* factsFileEdit() const { return m_factsFile; }
    QSpinBox* maxFactsBox() const { return m_maxFacts; }
    QCheckBox* skipWrongBox() const { return m_skipWrong; }
    FigureView* figure() const { return m_figure; }
    const std::optional<CausalTraceResult>& lastTrace() const { return m_last; }

signals:
    // After a trace: its prompt and subject, and the layer ROME would edit (the peak
    // MLP window at the subject's last token, then its strongest single layer:
    // editLayerAfterTrace, as `mwb edit --layer auto`).
    void traced(const QString& prompt, const QString& subject, int editLayer);

private:
    void modelChanged();
    void updateMode();
    void chooseFactsFile();
    void runSingle();
    void runAverage();
    void traceFinished();
    void averageFinished();

    QRadioButton* m_singleMode;
    QRadioButton* m_averageMode;
    QLineEdit* m_subject;
    QLineEdit* m_answer;
    QLineEdit* m_factsFile;
    QPushButton* m_browse;
    QSpinBox* m_maxFacts;
    QCheckBox* m_skipWrong;
    QComboBox* m_method;
    QSpinBox* m_samples;
    QSpinBox* m_window;
    QDoubleSpinBox* m_noise;
    QSpinBox* m_seed;
    QPushButton* m_run;
    QLabel* m_summary;
    FigureView* m_figure;
    std::optional<CausalTraceResult> m_last;
    struct TracedFact {
        CausalTraceResult trace;
        int editLayer = -1;  // -1: the trace has no MLP kind
    };
    Job<TracedFact> m_trace;
    Job<AverageTraceResult> m_average;
};

}  // namespace mwb::gui
