// The Predict tab: the top-k next tokens (table and bar chart) and generation of a
// continuation with sampling options.
#pragma once

#include <string>
#include <vector>

#include "app/gui/jobs/run_job.h"
#include "app/gui/panels/tool_panel.h"
#include "app/plots/prediction_figure.h"

class QDoubleSpinBox;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace mwb::gui {

class FigureView;

struct Prediction {
    int nTokens = 0;
    std::vector<plots::TokenProbability> top;
};

struct Continuation {
    std::string prompt, text;
    int newTokens = 0;
    bool stoppedAtEos = false, stoppedAtContext = false;
};

// The k most likely next tokens after `prompt` (ties by id). Throws InvalidInput on
// an empty or too long prompt.
Prediction predictNext(const Model& model, const std::string& prompt, int k);

class PredictPanel : public ToolPanel {
    Q_OBJECT
public:
    explicit PredictPanel(Workspace* workspace, QWidget* parent = nullptr);

    QString title() const override { return tr("Predict"); }
    void runAction() override;  // predict
    bool isRunning() const override { return m_predict.isRunning() || m_generate.isRunning(); }
    void generate();

    QTableWidget* table() const { return m_table; }
    FigureView* figure() const { return m_figure; }
    QPlainTextEdit* output() const { return m_output; }
    const Prediction& lastPrediction() const { return m_last; }

signals:
    void generationFinished(bool ok);

private:
    void predictionFinished();
    void generationDone();

    QSpinBox* m_topK;
    QPushButton* m_predictButton;
    QTableWidget* m_table;
    FigureView* m_figure;
    QSpinBox* m_maxTokens;
    QDoubleSpinBox* m_temperature;
    QDoubleSpinBox* m_topP;
    QSpinBox* m_seed;
    QPushButton* m_generateButton;
    QPlainTextEdit* m_output;
    Prediction m_last;
    Job<Prediction> m_predict;
    Job<Continuation> m_generate;
};

}  // namespace mwb::gui
