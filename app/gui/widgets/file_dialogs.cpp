// The last folder of file dialogs.
#include "app/gui/widgets/file_dialogs.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>

namespace mwb::gui {
namespace {
const char* const kLastFolderKey = "lastFolder";
}

QString startFolder() {
    const QString last = QSettings().value(kLastFolderKey).toString();
    if (!last.isEmpty() && QFileInfo(last).isDir()) return last;
    return QDir::homePath();
}

void rememberFolder(const QString& file) {
    if (file.isEmpty()) return;
    QSettings().setValue(kLastFolderKey, QFileInfo(file).absolutePath());
}

QString suggestedFile(const QString& stem, const QString& suffix) {
    return QDir(startFolder()).filePath(stem + suffix);
}

}  // namespace mwb::gui
