// Screenshot tour of the tabs.
#include "app/gui/screenshot_tour.h"

#include <QDir>
#include <QTabWidget>
#include <QTimer>

#include "app/gui/jobs/job_status.h"
#include "app/gui/main_window.h"
#include "app/gui/panels/predict_panel.h"
#include "app/gui/panels/tool_panel.h"
#include "app/gui/workspace.h"

namespace mwb::gui {
namespace {
constexpr int kSettleMs = 400;  // let the last repaint and status text land
}

ScreenshotTour::ScreenshotTour(MainWindow* window, QString dir, QObject* parent)
    : QObject(parent), m_window(window), m_dir(std::move(dir)) {}

void ScreenshotTour::start() {
    QDir().mkpath(m_dir);
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
    const QString name = QStringLiteral("%1_%2").arg(index + 1, 2, 10, QLatin1Char('0')).arg(panel->title().toLower());
    connect(panel, &ToolPanel::actionFinished, this, [this, index, name](bool ok) {
        if (!ok) m_ok = false;
        QTimer::singleShot(kSettleMs, this, [this, index, name] { grab(index, name); });
    }, Qt::SingleShotConnection);
    if (auto* predict = qobject_cast<PredictPanel*>(panel)) {
        connect(predict, &PredictPanel::generationFinished, predict, [predict] { predict->runAction(); },
                Qt::SingleShotConnection);
        predict->generate();
    } else {
        panel->runAction();
    }
}

void ScreenshotTour::grab(int index, const QString& name) {
    const QString file = QDir(m_dir).filePath(name + QStringLiteral(".png"));
    if (m_window->grab().save(file))
        m_saved << file;
    else
        m_ok = false;
    visit(index + 1);
}

}  // namespace mwb::gui
