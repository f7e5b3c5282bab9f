// Where open, save and export dialogs start: the folder the user last chose a file in
// (remembered across runs), else the home folder; never the bundled model's folder,
// which the user did not choose and which may not be writable.
#pragma once

#include <QString>

namespace mwb::gui {

QString startFolder();
// Remembers the folder of `file` for the next dialog.
void rememberFolder(const QString& file);
// startFolder()/stem + suffix: the name a save or export dialog proposes.
QString suggestedFile(const QString& stem, const QString& suffix);

}  // namespace mwb::gui
