// The top bar: the open model's name and shape, and the prompt field shared by all tabs.
#pragma once

#include <QWidget>

class QLabel;
class QLineEdit;

namespace mwb::gui {

class Workspace;

class PromptBar : public QWidget {
    Q_OBJECT
public:
    explicit PromptBar(Workspace* workspace, QWidget* parent = nullptr);
    QLineEdit* promptEdit() const { return m_prompt; }

private:
    void updateModel();

    Workspace* m_workspace;
    QLabel* m_model;
    QLineEdit* m_prompt;
    QLabel* m_tokens;
};

}  // namespace mwb::gui
