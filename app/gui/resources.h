// Bundled files (resources/: the demo model, corpora, stop words) found next to the
// executable (installed layout) or in the source tree the workbench was built from.
#pragma once

#include <QString>

namespace mwb::gui {

// Absolute path of resources/<relative>, or empty when it is not there.
QString resourceFile(const QString& relative);

// The documentation folder (docs/: workbench.md and the method notes), found like
// resources/, or empty.
QString docsFolder();

// resources/models/demo.h5, or empty.
inline QString demoModelFile() { return resourceFile(QStringLiteral("models/demo.h5")); }

}  // namespace mwb::gui
