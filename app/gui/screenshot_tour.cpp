// Screenshot tour of the tabs.
#include "app/gui/screenshot_tour.h"

#include <QComboBox>
#include <QDir>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QRadioButton>
#include <QSpinBox>
#include <QCheckBox>
#include <QTabWidget>
#include <QTableWidget>
#include <QTimer>

#include "app/gui/jobs/job_status.h"
#include "app/gui/main_window.h"
#include "app/gui/panels/attention_panel.h"
#include "app/gui/panels/edit_panel.h"
#include "app/gui/panels/experts_panel.h"
#include "app/gui/panels/integrity_panel.h"
#include "app/gui/panels/predict_panel.h"
#include "app/gui/panels/super_weights_panel.h"
#include "app/gui/panels/tool_panel.h"
#include "app/gui/panels/trace_panel.h"
#include "app/gui/widgets/attention_text_view.h"
#include "app/gui/widgets/figure_view.h"
#include "app/gui/workspace.h"

namespace mwb::gui {
namespace {

constexpr int kSettleMs = 400;  // let the last repaint and status text land

// The tour's sample edit when the form is still empty after the trace filled it.
void fillSampleEdit(EditPanel* edit) {
    if (edit->targetEdit()->text().isEmpty()) edit->targetEdit()->setText(QStringLiteral("Rome"));
    if (edit->trueEdit()->text().isEmpty()) edit->trueEdit()->setText(QStringLiteral("Paris"));
    if (edit->paraphrasesEdit()->toPlainText().isEmpty() && edit->neighboursEdit()->toPlainText().isEmpty()) {
        edit->paraphrasesEdit()->setPlainText(QStringLiteral("The Eiffel Tower is in the city of\n"
                                                             "The Eiffel Tower can be found in the city of"));
        edit->neighboursEdit()->setPlainText(QStringLiteral("The Louvre is located in the city of\n"
                                                            "Big Ben is located in the city of"));
    }
}

}  // namespace

ScreenshotTour::ScreenshotTour(MainWindow* window, QString dir, QObject* parent)
    : QObject(parent), m_window(window), m_dir(std::move(dir)) {}

void ScreenshotTour::start() {
    QDir().mkpath(m_dir);
    m_window->setCloseWithoutAsking(true);
    Workspace* w = m_window->workspace();
    if (w->model() && !w->isLoading()) {
        visit(0);
        return;
    }
    connect(w, &Workspace::modelChanged, this, [this] { visit(0); }, Qt::SingleShotConnection);
    connect(w, &Workspace::loadFailed, this, [this] { emit finished(false); }, Qt::SingleShotConnection);
}

void ScreenshotTour::visit(int index) {
    const auto& panels = m_window->panels();
    if (index >= static_cast<int>(panels.size())) {
        emit finished(m_ok);
        return;
    }
    ToolPanel* panel = panels[index];
    m_window->tabs()->setCurrentWidget(panel);
    QString name = panel->title().toLower();
    name.replace(QLatin1Char(' '), QLatin1Char('_'));
    name = QStringLiteral("%1_%2").arg(index + 1, 2, 10, QLatin1Char('0')).arg(name);
    auto shoot = [this, index, name](bool ok) {
        if (!ok) m_ok = false;
        QTimer::singleShot(kSettleMs, this, [this, index, name] { grab(index, name); });
    };
    if (auto* predict = qobject_cast<PredictPanel*>(panel)) {
        // Generate first, then predict: the screenshot shows both.
        connect(predict, &PredictPanel::generationFinished, predict, [predict] { predict->runAction(); },
                Qt::SingleShotConnection);
        connect(panel, &ToolPanel::actionFinished, this, shoot, Qt::SingleShotConnection);
        predict->generate();
    } else if (auto* weights = qobject_cast<SuperWeightsPanel*>(panel)) {
        // Detect, make sure one weight is checked, then compare with it zeroed.
        connect(panel, &ToolPanel::actionFinished, weights, [weights](bool ok) {
            if (ok && weights->selectedChanges().empty()) weights->addStrongestSpike();
            weights->compare();
        }, Qt::SingleShotConnection);
        connect(weights, &SuperWeightsPanel::compareFinished, this, shoot, Qt::SingleShotConnection);
        weights->runAction();
    } else if (auto* experts = qobject_cast<ExpertsPanel*>(panel)) {
        // A model with experts: route the prompt (load over held-out text), find the
        // super experts, then compare without them (or the expert of largest peak).
        const auto model = m_window->workspace()->model();
        if (!model || !model->config.moe()) {
            shoot(true);
        } else {
            experts->loadOverText()->setChecked(true);
            connect(panel, &ToolPanel::actionFinished, experts, [experts] { experts->findSuperExperts(); },
                    Qt::SingleShotConnection);
            connect(experts, &ExpertsPanel::superFinished, experts, [experts] { experts->compare(); },
                    Qt::SingleShotConnection);
            connect(experts, &ExpertsPanel::compareFinished, experts, [experts] {
                if (!experts->subjectField()->text().isEmpty()) experts->traceExperts();
            }, Qt::SingleShotConnection);
            connect(experts, experts->subjectField()->text().isEmpty() ? &ExpertsPanel::compareFinished
                                                                        : &ExpertsPanel::traceFinished,
                    this, shoot, Qt::SingleShotConnection);
            experts->runAction();
        }
    } else if (auto* integrity = qobject_cast<IntegrityPanel*>(panel)) {
        // Audit; when something is flagged, also compare the model with it removed.
        connect(panel, &ToolPanel::actionFinished, integrity, [this, integrity, shoot](bool ok) {
            if (ok && integrity->lastAudit() && integrity->lastAudit()->edited) {
                connect(integrity, &IntegrityPanel::reverseFinished, this, shoot, Qt::SingleShotConnection);
                integrity->reverse();
            } else {
                shoot(ok);
            }
        }, Qt::SingleShotConnection);
        integrity->runAction();
    } else if (auto* trace = qobject_cast<TracePanel*>(panel)) {
        // The attribution estimate first (its own screenshot), then the exact trace,
        // whose edit layer the later tabs take.
        trace->methodBox()->setCurrentIndex(1);
        connect(panel, &ToolPanel::actionFinished, this, [this, trace, name, shoot](bool ok) {
            if (!ok) m_ok = false;
            QTimer::singleShot(kSettleMs, this, [this, trace, name, shoot] {
                save(name + QStringLiteral("_attribution"));
                trace->methodBox()->setCurrentIndex(0);
                connect(trace, &ToolPanel::actionFinished, this, shoot, Qt::SingleShotConnection);
                trace->runAction();
            });
        }, Qt::SingleShotConnection);
        trace->runAction();
    } else if (auto* attention = qobject_cast<AttentionPanel*>(panel)) {
        // The heatmaps of every head, then the token view with the last token hovered.
        attention->allHeadsMode()->setChecked(true);
        connect(panel, &ToolPanel::actionFinished, this, [this, attention, name, shoot](bool ok) {
            if (!ok) m_ok = false;
            QTimer::singleShot(kSettleMs, this, [this, attention, name, shoot] {
                save(name);
                attention->textMode()->setChecked(true);
                attention->layerBox()->setValue(attention->layerBox()->maximum() / 2);
                attention->textView()->setQuery(attention->textView()->tokenCount() - 1);
                QTimer::singleShot(kSettleMs, this, [this, attention, name, shoot] {
                    save(name + QStringLiteral("_tokens"));
                    attention->allHeadsMode()->setChecked(true);
                    shoot(true);
                });
            });
        }, Qt::SingleShotConnection);
        panel->runAction();
    } else {
        if (auto* edit = qobject_cast<EditPanel*>(panel)) fillSampleEdit(edit);
        connect(panel, &ToolPanel::actionFinished, this, shoot, Qt::SingleShotConnection);
        panel->runAction();
    }
}

void ScreenshotTour::save(const QString& name) {
    const QString file = QDir(m_dir).filePath(name + QStringLiteral(".png"));
    if (m_window->grab().save(file))
        m_saved << file;
    else
        m_ok = false;
}

void ScreenshotTour::grab(int index, const QString& name) {
    save(name);
    // The Edit figure as exported: the bar charts with the prompts' table below them.
    if (auto* edit = qobject_cast<EditPanel*>(m_window->panels()[index]); edit && edit->figure()->hasFigure()) {
        const QString file = QDir(m_dir).filePath(name + QStringLiteral("_export.png"));
        try {
            edit->figure()->exportTo(file);
            m_saved << file;
        } catch (const std::exception&) {
            m_ok = false;
        }
    }
    // Undo the sample edit so that the later tabs show the model as it was loaded.
    auto* edit = qobject_cast<EditPanel*>(m_window->panels()[index]);
    if (edit && !m_window->workspace()->model()->edits.empty()) {
        connect(edit, &EditPanel::undoFinished, this, [this, index] { visit(index + 1); }, Qt::SingleShotConnection);
        edit->undo();
        return;
    }
    visit(index + 1);
}

}  // namespace mwb::gui
