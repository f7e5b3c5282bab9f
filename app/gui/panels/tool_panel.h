// Base of the tabs: each tab has one main action (Ctrl+Enter runs it), runs its work
// as background jobs and reports through signals that the main window routes to the
// status bar.
#pragma once

#include <QString>
#include <QWidget>

#include "app/gui/workspace.h"

#include "app/plots/figure_spec.h"

class QFutureWatcherBase;

namespace mwb::gui {

class FigureView;

class ToolPanel : public QWidget {
    Q_OBJECT
public:
    ToolPanel(Workspace* workspace, QWidget* parent = nullptr);

    virtual QString title() const = 0;
    // Starts the tab's main action; actionFinished follows (also on failure or cancel).
    virtual void runAction() = 0;
    virtual bool isRunning() const = 0;

signals:
    void jobStarted(const QString& operation, QFutureWatcherBase* watcher);
    void actionFinished(bool ok);
    void statusMessage(const QString& text);
    void errorMessage(const QString& sentence);

protected:
    // Emits errorMessage and actionFinished(false) unless a model is open and the
    // prompt is not empty.
    bool requireModelAndPrompt();
    // Shows a result figure named after the model it came from (in its title and its
    // JSON), exported by default as "<model>-<analysis>.png" etc.
    void showFigure(FigureView* view, plots::FigureSpec figure, const QString& analysis);
    // Reports a failed or cancelled outcome; true when there is a value to show.
    template <class Outcome>
    bool accept(const std::optional<Outcome>& outcome) {
        if (!outcome) {
            emit actionFinished(false);
            return false;
        }
        if (!outcome->value) {
            emit errorMessage(outcome->error);
            emit actionFinished(false);
            return false;
        }
        return true;
    }

    Workspace* m_workspace;
};

}  // namespace mwb::gui
