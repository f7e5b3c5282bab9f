// Model loading off the GUI thread, and the recent-files list.
#include "app/gui/workspace.h"

#include <QFileInfo>
#include <QSettings>

#include "editing/second_moments.h"
#include "io/hdf5_model_file.h"

namespace mwb::gui {
namespace {
constexpr int kMaxRecent = 8;
const char* const kRecentKey = "recentFiles";
}  // namespace

Workspace::Workspace(QObject* parent) : QObject(parent), m_load(this), m_save(this) {
    connect(m_load.watcher(), &QFutureWatcherBase::finished, this, &Workspace::loadFinished);
    connect(m_save.watcher(), &QFutureWatcherBase::finished, this, &Workspace::saveFinished);
}

Workspace::~Workspace() = default;

QString Workspace::modelSummary() const {
    if (!m_model) return tr("no model open");
    const ModelConfig& c = m_model->config;
    const QString name = c.name.empty() ? QFileInfo(m_path).completeBaseName() : QString::fromStdString(c.name);
    QString shape = tr("%1, %2 layers, d_model %3, %4 heads")
                        .arg(QString::fromStdString(toString(c.architecture)))
                        .arg(c.nLayers)
                        .arg(c.dModel)
                        .arg(c.nHeads);
    if (c.nKvHeads != c.nHeads) shape += tr(" (%1 kv)").arg(c.nKvHeads);
    shape += tr(", vocab %1, ctx %2").arg(c.vocabSize).arg(c.nCtx);
    return name + QStringLiteral(" \u2014 ") + shape;
}

void Workspace::setPrompt(const QString& prompt) {
    if (prompt == m_prompt) return;
    m_prompt = prompt;
    emit promptChanged(prompt);
}

void Workspace::openModel(const QString& path) {
    m_loadingPath = path;
    const std::filesystem::path file = path.toStdString();
    m_load.start([file](const ProgressFn&) { return std::make_shared<const Model>(loadModel(file)); });
    emit jobStarted(tr("Opening %1").arg(QFileInfo(path).fileName()), m_load.watcher());
}

void Workspace::loadFinished() {
    const auto outcome = m_load.outcome();
    if (!outcome) return;
    if (!outcome->value) {
        emit loadFailed(outcome->error);
        return;
    }
    setModel(*outcome->value, m_loadingPath);
}

void Workspace::setModel(std::shared_ptr<const Model> model, const QString& path, bool edited) {
    m_model = std::move(model);
    m_unsaved = edited;
    if (!edited && !path.isEmpty()) remember(path);
    m_path = path;
    emit modelChanged();
}

void Workspace::saveAs(const QString& path) {
    if (!m_model) {
        emit saveFailed(tr("There is no model to save."));
        return;
    }
    auto model = m_model;
    const std::string source = m_path.toStdString();
    m_save.start([model, path, source](const ProgressFn&) {
        saveModel(*model, path.toStdString(), StorageType::Float32, /*overwrite=*/true);
        linkCachedStatistics(source, path.toStdString());
        return path;
    });
    emit jobStarted(tr("Saving %1").arg(QFileInfo(path).fileName()), m_save.watcher());
}

void Workspace::saveFinished() {
    const auto outcome = m_save.outcome();
    if (!outcome) return;
    if (!outcome->value) {
        emit saveFailed(outcome->error);
        return;
    }
    remember(*outcome->value);
    m_path = *outcome->value;
    m_unsaved = false;
    emit saved(*outcome->value);
}

QStringList Workspace::recentFiles() const {
    return QSettings().value(kRecentKey).toStringList();
}

void Workspace::remember(const QString& path) {
    const QString absolute = QFileInfo(path).absoluteFilePath();
    QStringList recent = recentFiles();
    recent.removeAll(absolute);
    recent.prepend(absolute);
    while (recent.size() > kMaxRecent) recent.removeLast();
    QSettings().setValue(kRecentKey, recent);
}

}  // namespace mwb::gui
