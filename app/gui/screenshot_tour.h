// Drives the window through every tab for the documentation's screenshots: switch
// to the tab, run its action, wait for it, grab the window into DIR/NN_tab.png.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>

namespace mwb::gui {

class MainWindow;

class ScreenshotTour : public QObject {
    Q_OBJECT
public:
    ScreenshotTour(MainWindow* window, QString dir, QObject* parent = nullptr);
    // Waits for the model to be open, then visits every tab; emits finished.
    void start();
    QStringList saved() const { return m_saved; }

signals:
    void finished(bool ok);

private:
    void visit(int index);
    // Saves the window as DIR/name.png.
    void save(const QString& name);
    // Saves, then goes on to the tab after `index`.
    void grab(int index, const QString& name);

    MainWindow* m_window;
    QString m_dir;
    QStringList m_saved;
    bool m_ok = true;
};

}  // namespace mwb::gui
