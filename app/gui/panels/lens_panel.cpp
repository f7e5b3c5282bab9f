// Logit lens tab.
#include "app/gui/panels/lens_panel.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "app/gui/widgets/figure_view.h"
#include "app/plots/lens_figure.h"
#include "tokenizer/continuation.h"

namespace mwb::gui {
namespace {
constexpr int kTopK = 5;
}

LensPanel::LensPanel(Workspace* workspace, QWidget* parent)
    : ToolPanel(workspace, parent),
      m_target(new QLineEdit(this)),
      m_colourByTarget(new QCheckBox(tr("Colour by the target's probability"), this)),
      m_run(new QPushButton(tr("Run logit lens"), this)),
      m_figure(new FigureView(tr("Read the residual stream out at every layer and position."), this)),
      m_job(this) {
    m_target->setPlaceholderText(tr("optional, e.g. Paris (its first token)"));
    m_target->setMinimumWidth(240);
    m_colourByTarget->setChecked(true);
    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Target token"), this));
    controls->addWidget(m_target);
    controls->addWidget(m_colourByTarget);
    controls->addStretch(1);
    controls->addWidget(m_run);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(m_figure, 1);
    connect(m_run, &QPushButton::clicked, this, &LensPanel::runAction);
    connect(m_colourByTarget, &QCheckBox::toggled, this, &LensPanel::redraw);
    connect(workspace, &Workspace::modelChanged, this, [this] {
        m_result.reset();
        m_figure->clear();
    });
    connect(m_job.watcher(), &QFutureWatcherBase::finished, this, &LensPanel::finished);
}

void LensPanel::runAction() {
    if (!requireModelAndPrompt()) return;
    const auto model = m_workspace->model();
    const std::string prompt = m_workspace->prompt().toStdString();
    const std::string target = m_target->text().toStdString();
    m_job.start([model, prompt, target](const ProgressFn&) {
        // As `mwb lens --target`: the first token of the target as the prompt's continuation.
        const int targetId = target.empty() ? -1 : continuationIds(model->tokenizer, prompt, target).front();
        return logitLens(*model, model->tokenizer.encodeIds(prompt), kTopK, targetId);
    });
    emit jobStarted(tr("Running the logit lens"), m_job.watcher());
}

void LensPanel::finished() {
    const auto outcome = m_job.outcome();
    if (!accept(outcome)) return;
    m_result = std::move(*outcome->value);
    redraw();
    const auto& last = m_result->top.back().back();
    if (!last.empty())
        emit statusMessage(tr("Output layer predicts '%1' (%2 %)")
                               .arg(QString::fromStdString(last.front().token))
                               .arg(100.0 * last.front().prob, 0, 'f', 1));
    emit actionFinished(true);
}

void LensPanel::redraw() {
    if (m_result) showFigure(m_figure, plots::lensFigure(*m_result, m_colourByTarget->isChecked()), QStringLiteral("lens"));
}

}  // namespace mwb::gui
