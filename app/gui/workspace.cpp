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

QString Workspace::modelLabel() const {
    if (!m_model) return tr("no model");
    QString name = m_path.isEmpty() ? QString::fromStdString(m_model->config.name) : QFileInfo(m_path).fileName();
    if (name.isEmpty()) name = tr("unnamed model");
    const int edits = static_cast<int>(m_model->edits.size());
    if (edits == 0) return name;
    return edits == 1 ? tr("%1 + 1 edit").arg(name) : tr("%1 + %2 edits").arg(name).arg(edits);
}

QString Workspace::fileStem(const QString& analysis) const {
    QString model = m_path.isEmpty() ? (m_model ? QString::fromStdString(m_model->config.name) : QString())
                                     : QFileInfo(m_path).completeBaseName();
    if (model.isEmpty()) model = QStringLiteral("model");
    QString stem = model + QLatin1Char('-') + analysis;
    // Only characters every file system takes.
    for (QChar& c : stem)
        if (!c.isLetterOrNumber() && c != QLatin1Char('-') && c != QLatin1Char('_') && c != QLatin1Char('.'))
            c = QLatin1Char('_');
    return stem;
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

namespace {

bool sameEdits(const std::vector<EditRecord>& a, const std::vector<EditRecord>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const EditRecord &x = a[i], &y = b[i];
        if (x.method != y.method || x.layers != y.layers || x.subject != y.subject || x.prompt != y.prompt ||
            x.targetNew != y.targetNew || x.targetTrue != y.targetTrue || x.created != y.created ||
            x.left.size() != y.left.size())
            return false;
        for (size_t k = 0; k < x.left.size(); ++k)
            if (x.left[k].rows() != y.left[k].rows() || x.left[k].cols() != y.left[k].cols() ||
                x.left[k] != y.left[k])
                return false;
    }
    return true;
}

}  // namespace

void Workspace::setModel(std::shared_ptr<const Model> model, const QString& path, bool edited) {
    m_model = std::move(model);
    if (!edited) m_savedEdits = m_model ? m_model->edits : std::vector<EditRecord>{};
    m_unsaved = edited && m_model && !sameEdits(m_model->edits, m_savedEdits);
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
    m_savingEdits = model->edits;
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
    m_savedEdits = std::move(m_savingEdits);
    m_unsaved = !sameEdits(m_model->edits, m_savedEdits);
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
