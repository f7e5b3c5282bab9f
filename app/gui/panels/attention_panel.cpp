// Attention maps tab.
#include "app/gui/panels/attention_panel.h"

#include <QButtonGroup>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QRadioButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QStackedWidget>
#include <QVBoxLayout>

#include "app/gui/widgets/attention_text_view.h"
#include "app/gui/widgets/figure_view.h"
#include "app/plots/attention_figure.h"

namespace mwb::gui {

AttentionPanel::AttentionPanel(Workspace* workspace, QWidget* parent)
    : ToolPanel(workspace, parent),
      m_layer(new QSpinBox(this)),
      m_head(new QSpinBox(this)),
      m_oneHead(new QRadioButton(tr("One head"), this)),
      m_allHeads(new QRadioButton(tr("All heads of the layer"), this)),
      m_textMode(new QRadioButton(tr("Tokens (hover)"), this)),
      m_run(new QPushButton(tr("Show attention"), this)),
      m_figure(new FigureView(tr("Show the attention weights of the prompt."), this)),
      m_text(new AttentionTextView(this)),
      m_views(new QStackedWidget(this)),
      m_job(this) {
    auto* modes = new QButtonGroup(this);
    modes->addButton(m_oneHead);
    modes->addButton(m_allHeads);
    modes->addButton(m_textMode);
    m_allHeads->setChecked(true);
    m_textMode->setToolTip(tr("The prompt as text: hover a token to shade the tokens it attends to "
                              "(the selected layer and head); readable at any length"));
    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Layer"), this));
    controls->addWidget(m_layer);
    controls->addSpacing(12);
    controls->addWidget(m_oneHead);
    controls->addWidget(new QLabel(tr("head"), this));
    controls->addWidget(m_head);
    controls->addSpacing(12);
    controls->addWidget(m_allHeads);
    controls->addSpacing(12);
    controls->addWidget(m_textMode);
    controls->addStretch(1);
    controls->addWidget(m_run);
    auto* textScroll = new QScrollArea(this);
    textScroll->setWidgetResizable(true);
    textScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    textScroll->setWidget(m_text);
    m_views->addWidget(m_figure);
    m_views->addWidget(textScroll);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(m_views, 1);

    connect(m_run, &QPushButton::clicked, this, &AttentionPanel::runAction);
    connect(m_layer, &QSpinBox::valueChanged, this, &AttentionPanel::redraw);
    connect(m_head, &QSpinBox::valueChanged, this, [this] {
        if (m_allHeads->isChecked()) m_oneHead->setChecked(true);
        redraw();
    });
    connect(m_oneHead, &QRadioButton::toggled, this, &AttentionPanel::redraw);
    connect(m_textMode, &QRadioButton::toggled, this, &AttentionPanel::redraw);
    connect(workspace, &Workspace::modelChanged, this, &AttentionPanel::modelChanged);
    connect(m_job.watcher(), &QFutureWatcherBase::finished, this, &AttentionPanel::finished);
    modelChanged();
}

void AttentionPanel::modelChanged() {
    const auto model = m_workspace->model();
    m_layer->setRange(0, model ? model->config.nLayers - 1 : 0);
    m_head->setRange(0, model ? model->config.nHeads - 1 : 0);
    m_maps.reset();
    m_figure->clear();
    m_text->clear();
}

void AttentionPanel::runAction() {
    if (!requireModelAndPrompt()) return;
    const auto model = m_workspace->model();
    const std::string prompt = m_workspace->prompt().toStdString();
    m_job.start([model, prompt](const ProgressFn&) {
        return attentionMaps(*model, model->tokenizer.encodeIds(prompt));
    });
    emit jobStarted(tr("Computing attention"), m_job.watcher());
}

void AttentionPanel::finished() {
    const auto outcome = m_job.outcome();
    if (!accept(outcome)) return;
    m_maps = std::move(*outcome->value);
    redraw();
    emit statusMessage(tr("Attention of %1 layers x %2 heads over %n token(s)", nullptr,
                          static_cast<int>(m_maps->tokens.size()))
                           .arg(m_maps->nLayers)
                           .arg(m_maps->nHeads));
    emit actionFinished(true);
}

void AttentionPanel::redraw() {
    m_views->setCurrentIndex(m_textMode->isChecked() ? 1 : 0);
    if (!m_maps || m_layer->value() >= m_maps->nLayers || m_head->value() >= m_maps->nHeads) return;
    const int layer = m_layer->value(), head = m_head->value();
    if (m_textMode->isChecked()) {
        QStringList tokens;
        for (const auto& t : m_maps->tokens) tokens << QString::fromStdString(t);
        m_text->setAttention(tokens, m_maps->weights[layer][head],
                             tr("Layer %1, head %2 (model: %3)").arg(layer).arg(head).arg(m_workspace->modelLabel()));
        return;
    }
    showFigure(m_figure,
               m_oneHead->isChecked() ? plots::attentionHeadFigure(*m_maps, layer, head)
                                      : plots::attentionLayerFigure(*m_maps, layer),
               m_oneHead->isChecked() ? QStringLiteral("attention-L%1H%2").arg(layer).arg(head)
                                      : QStringLiteral("attention-L%1").arg(layer));
}

}  // namespace mwb::gui
