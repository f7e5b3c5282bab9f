// Window assembly, menus, drag and drop.
#include "app/gui/main_window.h"

#include <QAction>
#include <QCloseEvent>
#include <QApplication>
#include <QDesktopServices>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QUrl>
#include <QVBoxLayout>

#include "app/gui/jobs/job_status.h"
#include "app/gui/panels/attention_panel.h"
#include "app/gui/panels/integrity_panel.h"
#include "app/gui/panels/edit_panel.h"
#include "app/gui/panels/experts_panel.h"
#include "app/gui/panels/lens_panel.h"
#include "app/gui/panels/predict_panel.h"
#include "app/gui/panels/super_weights_panel.h"
#include "app/gui/panels/trace_panel.h"
#include "app/gui/resources.h"
#include "app/gui/widgets/figure_view.h"
#include "app/gui/widgets/file_dialogs.h"
#include "app/gui/widgets/prompt_bar.h"
#include "app/gui/workspace.h"

namespace mwb::gui {
namespace {

QString droppedModel(const QMimeData* mime) {
    if (!mime->hasUrls() || mime->urls().size() != 1) return {};
    const QString file = mime->urls().front().toLocalFile();
    return file.endsWith(QStringLiteral(".h5"), Qt::CaseInsensitive) ? file : QString();
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      m_workspace(new Workspace(this)),
      m_promptBar(new PromptBar(m_workspace, this)),
      m_tabs(new QTabWidget(this)),
      m_jobs(new JobStatus(this)) {
    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_promptBar);
    layout->addWidget(m_tabs, 1);
    setCentralWidget(central);
    statusBar()->addWidget(m_jobs, 1);
    statusBar()->setSizeGripEnabled(true);
    setAcceptDrops(true);

    // Tab order: Predict, Trace, Edit, Super weights, Attention, Lens, Integrity, Experts.
    auto* trace = new TracePanel(m_workspace, this);
    auto* edit = new EditPanel(m_workspace, this);
    addPanel(new PredictPanel(m_workspace, this));
    addPanel(trace);
    addPanel(edit);
    addPanel(new SuperWeightsPanel(m_workspace, this));
    addPanel(new AttentionPanel(m_workspace, this));
    addPanel(new LensPanel(m_workspace, this));
    addPanel(new IntegrityPanel(m_workspace, this));
    addPanel(new ExpertsPanel(m_workspace, this));
    connect(trace, &TracePanel::traced, edit, &EditPanel::suggestFromTrace);

    connect(m_workspace, &Workspace::jobStarted, m_jobs, &JobStatus::track);
    connect(m_workspace, &Workspace::loadFailed, m_jobs, &JobStatus::showError);
    connect(m_workspace, &Workspace::saveFailed, m_jobs, &JobStatus::showError);
    connect(m_workspace, &Workspace::saved, this, [this](const QString& path) {
        m_jobs->showMessage(tr("Saved %1").arg(path));
        updateTitle();
        fillRecentMenu();
    });
    connect(m_workspace, &Workspace::modelChanged, this, [this] {
        updateTitle();
        fillRecentMenu();
        if (m_undoModel) m_undoModel->setEnabled(m_workspace->model() && !m_workspace->model()->edits.empty());
        if (m_workspace->hasUnsavedEdits()) return;
        const auto model = m_workspace->model();
        m_jobs->showMessage(model && model->tensorsWithoutChecksum > 0
                                ? tr("Opened %1; its tensors carry no checksums, so damage to them cannot be "
                                     "detected (saving the model again adds them)")
                                      .arg(m_workspace->modelPath())
                                : tr("Opened %1").arg(m_workspace->modelPath()));
    });
    buildMenus();
    updateTitle();
    resize(1400, 860);
}

void MainWindow::addPanel(ToolPanel* panel) {
    m_panels.push_back(panel);
    m_tabs->addTab(panel, panel->title());
    connect(panel, &ToolPanel::jobStarted, m_jobs, &JobStatus::track);
    connect(panel, &ToolPanel::statusMessage, m_jobs, &JobStatus::showMessage);
    connect(panel, &ToolPanel::errorMessage, m_jobs, &JobStatus::showError);
    for (auto* figure : panel->findChildren<FigureView*>()) {
        connect(figure, &FigureView::exported, m_jobs, [this](const QString& file) {
            m_jobs->showMessage(tr("Exported %1").arg(file));
        });
        connect(figure, &FigureView::exportFailed, m_jobs, &JobStatus::showError);
    }
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open model\u2026"), QKeySequence::Open, this, &MainWindow::openDialog);
    m_recent = file->addMenu(tr("Open &recent"));
    fillRecentMenu();
    file->addAction(tr("&Save model as\u2026"), QKeySequence::Save, this, &MainWindow::saveAsDialog);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    // The model's undo has its own keys: Ctrl+Z belongs to the text fields (the prompt's
    // own undo), so one key never means two things depending on focus.
    QMenu* editMenu = menuBar()->addMenu(tr("&Edit"));
    m_undoModel = editMenu->addAction(tr("&Undo last model edit"), QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_Z), this,
                                      [this] {
                                          if (auto* edit = panel<EditPanel>()) edit->undo();
                                      });
    m_undoModel->setShortcutContext(Qt::ApplicationShortcut);
    m_undoModel->setEnabled(false);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    run->addAction(tr("Run the current tab"), QKeySequence(Qt::CTRL | Qt::Key_Return), this,
                   &MainWindow::runCurrentTab);
    auto* enter = new QAction(this);  // the keypad's Enter too
    enter->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Enter));
    connect(enter, &QAction::triggered, this, &MainWindow::runCurrentTab);
    addAction(enter);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    // The documentation that comes with the program, opened in the system's viewer.
    m_docs = help->addMenu(tr("&Documentation"));
    const QString docs = docsFolder();
    const struct { const char* file; const char* title; } pages[] = {
        {"workbench.md", "The workbench (tabs, keys, figures)"},
        {"causal-tracing.md", "Causal tracing"},
        {"editing.md", "Editing: ROME, MEMIT, AlphaEdit"},
        {"super-weights.md", "Super weights"},
        {"demo-model.md", "The demo model"},
        {"importing.md", "Importing models"},
        {"datasets.md", "Data sets"}};
    for (const auto& page : pages) {
        const QString file = QDir(docs).filePath(QString::fromLatin1(page.file));
        if (docs.isEmpty() || !QFileInfo::exists(file)) continue;
        QAction* a = m_docs->addAction(tr(page.title), this, [file] {
            QDesktopServices::openUrl(QUrl::fromLocalFile(file));
        });
        a->setData(file);
    }
    m_docs->setEnabled(!m_docs->isEmpty());
    help->addAction(tr("&About"), this, [this] {
        QMessageBox::about(this, tr("About the workbench"),
                           tr("<b>Model workbench</b><p>Look inside GPT-2 and Llama models: next-token "
                              "predictions and causal tracing (Meng et al. 2022). Every figure can be "
                              "reproduced with the <tt>mwb</tt> command line.</p>"));
    });
}

void MainWindow::fillRecentMenu() {
    if (!m_recent) return;
    m_recent->clear();
    for (const QString& path : m_workspace->recentFiles())
        m_recent->addAction(path, this, [this, path] { openModel(path); });
    m_recent->setEnabled(!m_recent->isEmpty());
}

void MainWindow::runCurrentTab() {
    if (auto* panel = qobject_cast<ToolPanel*>(m_tabs->currentWidget())) panel->runAction();
}

void MainWindow::openDialog() {
    const QString file = QFileDialog::getOpenFileName(this, tr("Open model"), startFolder(), tr("Model files (*.h5)"));
    if (file.isEmpty()) return;
    rememberFolder(file);
    openModel(file);
}

void MainWindow::openModel(const QString& path) {
    settleUnsavedEdits(tr("The model has edits that are not saved. Save them before opening %1?")
                           .arg(QFileInfo(path).fileName()),
                       [this, path] { m_workspace->openModel(path); });
}

bool MainWindow::settleUnsavedEdits(const QString& question, const std::function<void()>& proceed) {
    if (!m_workspace->hasUnsavedEdits() || m_closeWithoutAsking) {
        proceed();
        return true;
    }
    const auto answer = QMessageBox::question(this, tr("Unsaved edits"), question,
                                              QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel,
                                              QMessageBox::Save);
    if (answer == QMessageBox::Discard) {
        proceed();
        return true;
    }
    if (answer == QMessageBox::Save) {
        auto* context = new QObject(this);  // one shot: whichever of saved / saveFailed comes first
        connect(m_workspace, &Workspace::saved, context, [context, proceed] {
            context->deleteLater();
            proceed();
        });
        connect(m_workspace, &Workspace::saveFailed, context, [context] { context->deleteLater(); });
        if (!saveAsDialog()) context->deleteLater();
    }
    return false;
}

bool MainWindow::saveAsDialog() {
    if (!m_workspace->model()) {
        m_jobs->showError(tr("There is no model to save."));
        return false;
    }
    const QString proposed =
        suggestedFile(m_workspace->fileStem(m_workspace->model()->edits.empty() ? QStringLiteral("copy")
                                                                                 : QStringLiteral("edited")),
                      QStringLiteral(".h5"));
    const QString file = QFileDialog::getSaveFileName(this, tr("Save model as"), proposed, tr("Model files (*.h5)"));
    if (file.isEmpty()) return false;
    rememberFolder(file);
    m_workspace->saveAs(file.endsWith(QStringLiteral(".h5")) ? file : file + QStringLiteral(".h5"));
    return true;
}

void MainWindow::updateTitle() {
    const QString path = m_workspace->modelPath();
    const QString name = path.isEmpty() ? tr("untitled") : QFileInfo(path).fileName();
    setWindowTitle(tr("%1%2 \u2014 Model workbench").arg(name, m_workspace->hasUnsavedEdits() ? "*" : ""));
}

void MainWindow::closeEvent(QCloseEvent* event) {
    // Discard answers while the event is open; a finished save closes the window again.
    bool closeNow = false;
    m_closing = &closeNow;
    const bool settled = settleUnsavedEdits(tr("The model has edits that are not saved. Save it before closing?"),
                                            [this] {
                                                if (m_closing)
                                                    *m_closing = true;
                                                else
                                                    close();
                                            });
    m_closing = nullptr;
    if (settled || closeNow) return event->accept();
    event->ignore();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (!droppedModel(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QString file = droppedModel(event->mimeData());
    if (file.isEmpty()) return;
    event->acceptProposedAction();
    // After the drop has returned: the question must not block the drag source.
    QTimer::singleShot(0, this, [this, file] { openModel(file); });
}

}  // namespace mwb::gui
