// What the panels share: the open model (immutable once loaded; replaced, never
// mutated, so running jobs can keep reading their copy), the prompt, recent files.
#pragma once

#include <memory>

#include <QObject>
#include <QString>
#include <QStringList>

#include "app/gui/jobs/run_job.h"
#include "model/model.h"

class QFutureWatcherBase;

namespace mwb::gui {

class Workspace : public QObject {
    Q_OBJECT
public:
    explicit Workspace(QObject* parent = nullptr);
    ~Workspace() override;

    // The model, or null before one is open. Jobs take this pointer by value.
    std::shared_ptr<const Model> model() const { return m_model; }
    QString modelPath() const { return m_path; }
    // "demo — gpt2, 8 layers, d_model 128, 4 heads, vocab 4096, ctx 64"
    QString modelSummary() const;
    // The model as results name it: the file's name, with the number of edits it
    // carries ("demo.h5", "demo.h5 + 1 edit").
    QString modelLabel() const;
    // A file name stem from the model and an analysis: "demo-trace".
    QString fileStem(const QString& analysis) const;

    QString prompt() const { return m_prompt; }
    void setPrompt(const QString& prompt);

    // Loads in the background; on success replaces the model and emits modelChanged,
    // on failure emits loadFailed with one sentence and keeps the current model.
    void openModel(const QString& path);
    bool isLoading() const { return m_load.isRunning(); }
    // Replaces the model; the previous one stays valid for jobs that hold it. `edited`:
    // the new model is an edited version of the one at `path`; it counts as unsaved
    // unless its edits are those of the file as last opened or saved (an edit undone).
    void setModel(std::shared_ptr<const Model> model, const QString& path, bool edited = false);
    bool hasUnsavedEdits() const { return m_unsaved; }

    // Writes the model to `path` in the background (temporary file renamed into
    // place); emits saved or saveFailed. Overwrites: the caller has asked the user.
    void saveAs(const QString& path);
    bool isSaving() const { return m_save.isRunning(); }

    QStringList recentFiles() const;

signals:
    void modelChanged();
    void loadFailed(const QString& sentence);
    void promptChanged(const QString& prompt);
    // The user asked to use this text (a selection of the prompt) as the subject.
    void subjectChosen(const QString& text);
    void saved(const QString& path);
    void saveFailed(const QString& sentence);
    void jobStarted(const QString& operation, QFutureWatcherBase* watcher);

private:
    void loadFinished();
    void saveFinished();
    void remember(const QString& path);

    std::shared_ptr<const Model> m_model;
    QString m_path;
    QString m_loadingPath;
    QString m_prompt;
    bool m_unsaved = false;
    std::vector<EditRecord> m_savedEdits;   // the edits of the file as last opened or saved
    std::vector<EditRecord> m_savingEdits;  // those of the model being saved
    Job<std::shared_ptr<const Model>> m_load;
    Job<QString> m_save;
};

}  // namespace mwb::gui
