// The top bar: the open model's name and shape, and the prompt field shared by all tabs.
#pragma once

#include <QWidget>

class QAction;
class QLabel;
class QLineEdit;
class QToolButton;

namespace mwb::gui {

class Workspace;

class PromptBar : public QWidget {
    Q_OBJECT
public:
    explicit PromptBar(Workspace* workspace, QWidget* parent = nullptr);
    QLineEdit* promptEdit() const { return m_prompt; }
    // Sends the prompt's selected text to the Trace tab's subject (context menu and
    // the button beside the prompt); a selection alone changes nothing.
    QAction* useAsSubjectAction() const { return m_useAsSubject; }
    QLabel* tokenCount() const { return m_tokens; }
    // True when the prompt has more tokens than the model's context.
    bool isTooLong() const { return m_tooLong; }

private:
    void updateModel();
    void useSelectionAsSubject();

    Workspace* m_workspace;
    QLabel* m_model;
    QLineEdit* m_prompt;
    QLabel* m_tokens;
    QAction* m_useAsSubject;
    QToolButton* m_useButton;
    bool m_tooLong = false;
};

}  // namespace mwb::gui
