// Locating bundled resources.
#include "app/gui/resources.h"

#include <QCoreApplication>
#include <QFileInfo>

namespace mwb::gui {

QString resourceFile(const QString& relative) {
    const QString exeDir = QCoreApplication::applicationDirPath();
    for (const QString& dir : {exeDir + QStringLiteral("/resources"), exeDir + QStringLiteral("/../resources"),
                               QStringLiteral(MWB_RESOURCE_DIR)}) {
        const QFileInfo file(dir + QLatin1Char('/') + relative);
        if (file.exists()) return file.absoluteFilePath();
    }
    return {};
}

QString docsFolder() {
    const QString exeDir = QCoreApplication::applicationDirPath();
    for (const QString& dir : {exeDir + QStringLiteral("/docs"), exeDir + QStringLiteral("/../docs"),
                               QStringLiteral(MWB_DOCS_DIR)}) {
        const QFileInfo file(dir + QStringLiteral("/workbench.md"));
        if (file.exists()) return file.absolutePath();
    }
    return {};
}

}  // namespace mwb::gui
