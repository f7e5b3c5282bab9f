// The status bar's job area: the current operation's name, a progress bar and a
// Cancel button, following whichever tracked job started last.
#pragma once

#include <QPointer>
#include <QString>
#include <QWidget>
#include <vector>

class QFutureWatcherBase;
class QLabel;
class QProgressBar;
class QPushButton;

namespace mwb::gui {

class JobStatus : public QWidget {
    Q_OBJECT
public:
    explicit JobStatus(QWidget* parent = nullptr);

    // Shows `watcher`'s progress until it finishes; Cancel cancels it. Earlier jobs
    // still running come back into view when it ends.
    void track(const QString& operation, QFutureWatcherBase* watcher);

    // One sentence, in red, until the next operation starts.
    void showError(const QString& sentence);
    void showMessage(const QString& text);

    QString currentText() const;
    bool isShowingError() const { return m_error; }
    bool isBusy() const;

signals:
    void errorShown(const QString& sentence);

private:
    struct Tracked {
        QString operation;
        QPointer<QFutureWatcherBase> watcher;
    };
    void refresh();
    void cancelCurrent();

    std::vector<Tracked> m_jobs;
    QLabel* m_label;
    QProgressBar* m_progress;
    QPushButton* m_cancel;
    bool m_error = false;
};

}  // namespace mwb::gui
