// Shared checks of the tabs.
#include "app/gui/panels/tool_panel.h"

#include "app/gui/widgets/figure_view.h"

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

void ToolPanel::showFigure(FigureView* view, plots::FigureSpec figure, const QString& analysis) {
    const std::string model = m_workspace->modelLabel().toStdString();
    figure.title = figure.title.empty() ? "Model: " + model : figure.title + "\nmodel: " + model;
    if (!figure.source.is_object() && !figure.source.is_null())
        figure.source = nlohmann::json{{"result", std::move(figure.source)}};
    figure.source["model"] = model;
    view->setExportName(m_workspace->fileStem(analysis));
    view->setFigure(std::move(figure));
}

}  // namespace mwb::gui
