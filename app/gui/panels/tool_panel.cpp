// Shared checks of the tabs.
#include "app/gui/panels/tool_panel.h"

namespace mwb::gui {

ToolPanel::ToolPanel(Workspace* workspace, QWidget* parent) : QWidget(parent), m_workspace(workspace) {}

bool ToolPanel::requireModelAndPrompt() {
    QString problem;
    if (!m_workspace->model())
        problem = tr("Open a model first (File > Open).");
    else if (m_workspace->prompt().trimmed().isEmpty())
        problem = tr("Type a prompt first.");
    if (problem.isEmpty()) return true;
    emit errorMessage(problem);
    emit actionFinished(false);
    return false;
}

}  // namespace mwb::gui
