// The Edit tab: write a new fact with ROME or MEMIT (layer defaulting to the last
// trace's MLP peak), compare predictions and target probabilities on the rewrite,
// paraphrase and neighbourhood prompts before and after, list the applied edits and
// undo the last one. Edits replace the workspace's model with an edited copy.
#pragma once

#include <optional>
#include <vector>

#include "app/gui/jobs/run_job.h"
#include "app/gui/panels/edit_job.h"
#include "app/gui/panels/tool_panel.h"
#include "data/datasets.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace mwb::gui {

class FigureView;

class EditPanel : public ToolPanel {
    Q_OBJECT
public:
    explicit EditPanel(Workspace* workspace, QWidget* parent = nullptr);

    QString title() const override { return tr("Edit"); }
    void runAction() override;  // apply the edit
    bool isRunning() const override { return m_edit.isRunning() || m_undo.isRunning(); }
    void undo();                // undoFinished follows
    // From a causal trace: the layer (unless the user chose one) and, when the form
    // is empty, the subject and the prompt with the subject replaced by {}.
    void suggestFromTrace(const QString& prompt, const QString& subject, int layer);
    // Loads a CounterFact file into the case selector (in the background).
    void loadCases(const QString& file);
    void useCase(int index);

    EditSettings settings() const;
    QLineEdit* subjectEdit() const { return m_subject; }
    QLineEdit* promptEdit() const { return m_prompt; }
    QLineEdit* targetEdit() const { return m_targetNew; }
    QLineEdit* trueEdit() const { return m_targetTrue; }
    QSpinBox* layerBox() const { return m_layer; }
    QLineEdit* corpusEdit() const { return m_corpus; }
    QPlainTextEdit* paraphrasesEdit() const { return m_paraphrases; }
    QPlainTextEdit* neighboursEdit() const { return m_neighbours; }
    QSpinBox* statsTokensBox() const { return m_statsTokens; }
    QSpinBox* stepsBox() const { return m_steps; }
    QComboBox* stopRuleBox() const { return m_stopRule; }
    QDoubleSpinBox* clampBox() const { return m_clamp; }
    QDoubleSpinBox* momentWeightBox() const { return m_momentWeight; }
    QSpinBox* memitPassesBox() const { return m_memitPasses; }
    QCheckBox* nullSpaceBox() const { return m_nullSpace; }
    QComboBox* keyContextBox() const { return m_keyContext; }
    QComboBox* methodBox() const { return m_method; }
    QComboBox* caseBox() const { return m_cases; }
    QSpinBox* memitLayersBox() const { return m_memitLayers; }
    // ROME in a mixture-of-experts layer: the expert (-1, shown "auto": the subject's top one).
    QSpinBox* expertBox() const { return m_expert; }
    QPushButton* applyButton() const { return m_apply; }
    QPushButton* undoButton() const { return m_undoButton; }
    // "Will edit layer 3 (ROME)", or in red why the layers cannot be edited.
    QLabel* planLabel() const { return m_plan; }
    QListWidget* editList() const { return m_edits; }
    QTableWidget* probabilities() const { return m_table; }
    FigureView* figure() const { return m_figure; }
    const std::optional<EditMeasurement>& lastMeasurement() const { return m_measurement; }

signals:
    void undoFinished(bool ok);
    void casesLoaded(int count);

private:
    void modelChanged();
    void updatePlan();
    // The layers the form asks for; throws InvalidInput when they do not exist.
    std::vector<int> plannedLayers() const;
    void clearResult();
    void editFinished();
    void undoDone();
    void showMeasurement(const EditMeasurement& m);
    QWidget* buildForm();

    QComboBox* m_cases;
    QLineEdit* m_subject;
    QLineEdit* m_prompt;
    QLineEdit* m_targetNew;
    QLineEdit* m_targetTrue;
    QComboBox* m_method;
    QSpinBox* m_layer;
    QSpinBox* m_memitLayers;
    QSpinBox* m_expert;
    QLineEdit* m_corpus;
    QSpinBox* m_statsTokens;
    QSpinBox* m_steps;
    QComboBox* m_stopRule;
    QDoubleSpinBox* m_learningRate;
    QDoubleSpinBox* m_clamp;
    QDoubleSpinBox* m_klFactor;
    QDoubleSpinBox* m_weightDecay;
    QDoubleSpinBox* m_momentWeight;
    QSpinBox* m_memitPasses;
    QCheckBox* m_nullSpace;
    QComboBox* m_keyContext;
    QPlainTextEdit* m_paraphrases;
    QPlainTextEdit* m_neighbours;
    QPushButton* m_apply;
    QLabel* m_plan;
    QPushButton* m_undoButton;
    QListWidget* m_edits;
    FigureView* m_figure;
    QTableWidget* m_table;
    bool m_layerChosen = false;
    bool m_ownModelChange = false;  // the model changes to this tab's own edit: keep its result
    std::optional<EditMeasurement> m_measurement;
    std::vector<CounterFactCase> m_caseList;
    Job<EditOutcomeData> m_edit;
    Job<std::shared_ptr<const Model>> m_undo;
    Job<std::vector<CounterFactCase>> m_load;
};

}  // namespace mwb::gui
