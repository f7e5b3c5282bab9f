// The Attention tab: attention weights of the prompt, one head large or every head
// of a layer as small multiples; the maps are computed once per prompt and the
// selectors only redraw.
#pragma once

#include <optional>

#include "analysis/attention_maps.h"
#include "app/gui/jobs/run_job.h"
#include "app/gui/panels/tool_panel.h"

class QRadioButton;
class QSpinBox;
class QPushButton;
class QStackedWidget;

namespace mwb::gui {

class AttentionTextView;
class FigureView;

class AttentionPanel : public ToolPanel {
    Q_OBJECT
public:
    explicit AttentionPanel(Workspace* workspace, QWidget* parent = nullptr);

    QString title() const override { return tr("Attention"); }
    void runAction() override;
    bool isRunning() const override { return m_job.isRunning(); }

    QSpinBox* layerBox() const { return m_layer; }
    QSpinBox* headBox() const { return m_head; }
    QRadioButton* allHeadsMode() const { return m_allHeads; }
    // The tokens as text, hover a token to see what it attends to (layer and head
    // from the selectors).
    QRadioButton* textMode() const { return m_textMode; }
    AttentionTextView* textView() const { return m_text; }
    FigureView* figure() const { return m_figure; }
    const std::optional<AttentionMaps>& maps() const { return m_maps; }

private:
    void modelChanged();
    void finished();
    void redraw();

    QSpinBox* m_layer;
    QSpinBox* m_head;
    QRadioButton* m_oneHead;
    QRadioButton* m_allHeads;
    QRadioButton* m_textMode;
    QPushButton* m_run;
    FigureView* m_figure;
    AttentionTextView* m_text;
    QStackedWidget* m_views;
    std::optional<AttentionMaps> m_maps;
    Job<AttentionMaps> m_job;
};

}  // namespace mwb::gui
