// The workbench window: prompt bar on top, one tab per tool, the job status in the
// status bar, and the menus. It only assembles panels and routes their signals.
#pragma once

#include <functional>

#include <QMainWindow>
#include <vector>

class QAction;
class QMenu;
class QTabWidget;

namespace mwb::gui {

class JobStatus;
class PromptBar;
class ToolPanel;
class Workspace;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);

    Workspace* workspace() const { return m_workspace; }
    JobStatus* jobStatus() const { return m_jobs; }
    PromptBar* promptBar() const { return m_promptBar; }
    QTabWidget* tabs() const { return m_tabs; }
    const std::vector<ToolPanel*>& panels() const { return m_panels; }
    // The panel of type P, or null.
    template <class P>
    P* panel() const {
        for (auto* p : m_panels)
            if (auto* cast = qobject_cast<P*>(p)) return cast;
        return nullptr;
    }
    void runCurrentTab();
    // Opens `path`, first asking Save / Discard / Cancel when the model has unsaved edits
    // (File > Open, Open recent and a dropped file all come here).
    void openModel(const QString& path);
    // Edit > Undo last model edit (Ctrl+Alt+Z: Ctrl+Z stays the text fields' undo).
    QAction* undoModelAction() const { return m_undoModel; }
    QMenu* docsMenu() const { return m_docs; }
    // Close without the unsaved-edits question (tests, screenshot tour).
    void setCloseWithoutAsking(bool on) { m_closeWithoutAsking = on; }

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    // Asks whether to save unsaved edits (Save / Discard / Cancel).
    void closeEvent(QCloseEvent* event) override;
    // With unsaved edits: asks Save / Discard / Cancel and runs `proceed` after a
    // discard or a finished save; false when the user cancelled (or a save is pending).
    bool settleUnsavedEdits(const QString& question, const std::function<void()>& proceed);

private:
    void addPanel(ToolPanel* panel);
    void buildMenus();
    void fillRecentMenu();
    void openDialog();
    bool saveAsDialog();  // false when the user chose no file
    void updateTitle();

    Workspace* m_workspace;
    PromptBar* m_promptBar;
    QTabWidget* m_tabs;
    JobStatus* m_jobs;
    QMenu* m_recent = nullptr;
    QMenu* m_docs = nullptr;
    QAction* m_undoModel = nullptr;
    std::vector<ToolPanel*> m_panels;
    bool m_closeWithoutAsking = false;
    bool* m_closing = nullptr;  // set while closeEvent asks
};

}  // namespace mwb::gui
