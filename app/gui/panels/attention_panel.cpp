// Attention maps tab.
#include "app/gui/panels/attention_panel.h"

#include <QButtonGroup>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "app/gui/widgets/figure_view.h"
#include "app/plots/attention_figure.h"

namespace mwb::gui {

AttentionPanel::AttentionPanel(Workspace* workspace, QWidget* parent)
    : ToolPanel(workspace, parent),
      m_layer(new QSpinBox(this)),
      m_head(new QSpinBox(this)),
      m_oneHead(new QRadioButton(tr("One head"), this)),
      m_allHeads(new QRadioButton(tr("All heads of the layer"), this)),
      m_run(new QPushButton(tr("Show attention"), this)),
      m_figure(new FigureView(tr("Show the attention weights of the prompt."), this)),
      m_job(this) {
    auto* modes = new QButtonGroup(this);
    modes->addButton(m_oneHead);
    modes->addButton(m_allHeads);
    m_allHeads->setChecked(true);
    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Layer"), this));
    controls->addWidget(m_layer);
    controls->addSpacing(12);
    controls->addWidget(m_oneHead);
    controls->addWidget(new QLabel(tr("head"), this));
    controls->addWidget(m_head);
    controls->addSpacing(12);
    controls->addWidget(m_allHeads);
    controls->addStretch(1);
    controls->addWidget(m_run);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(m_figure, 1);

    connect(m_run, &QPushButton::clicked, this, &AttentionPanel::runAction);
    connect(m_layer, &QSpinBox::valueChanged, this, &AttentionPanel::redraw);
    connect(m_head, &QSpinBox::valueChanged, this, [this] {
        m_oneHead->setChecked(true);
        redraw();
    });
    connect(m_oneHead, &QRadioButton::toggled, this, &AttentionPanel::redraw);
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
    if (!m_maps || m_layer->value() >= m_maps->nLayers || m_head->value() >= m_maps->nHeads) return;
    m_figure->setFigure(m_oneHead->isChecked() ? plots::attentionHeadFigure(*m_maps, m_layer->value(), m_head->value())
                                               : plots::attentionLayerFigure(*m_maps, m_layer->value()));
}

}  // namespace mwb::gui
