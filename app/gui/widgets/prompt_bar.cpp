// Model summary and prompt field.
#include "app/gui/widgets/prompt_bar.h"

#include <QAction>
#include <QFileInfo>
#include <QGridLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QToolButton>

#include "app/gui/workspace.h"

namespace mwb::gui {

PromptBar::PromptBar(Workspace* workspace, QWidget* parent)
    : QWidget(parent),
      m_workspace(workspace),
      m_model(new QLabel(this)),
      m_prompt(new QLineEdit(this)),
      m_tokens(new QLabel(this)),
      m_useAsSubject(new QAction(tr("Use as subject"), this)),
      m_useButton(new QToolButton(this)) {
    auto* layout = new QGridLayout(this);
    layout->setContentsMargins(8, 6, 8, 2);
    layout->addWidget(new QLabel(tr("Model:"), this), 0, 0);
    layout->addWidget(m_model, 0, 1, 1, 2);
    layout->addWidget(new QLabel(tr("Prompt:"), this), 1, 0);
    layout->addWidget(m_prompt, 1, 1);
    layout->addWidget(m_useButton, 1, 2);
    layout->addWidget(m_tokens, 1, 3);
    layout->setColumnStretch(1, 1);
    m_useAsSubject->setToolTip(tr("Use the selected part of the prompt as the subject in the Trace tab"));
    m_useAsSubject->setEnabled(false);
    m_useButton->setDefaultAction(m_useAsSubject);
    // The button must not take the focus: the prompt would lose its selection.
    m_useButton->setFocusPolicy(Qt::NoFocus);
    connect(m_useAsSubject, &QAction::triggered, this, &PromptBar::useSelectionAsSubject);
    m_prompt->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_prompt, &QLineEdit::customContextMenuRequested, this, [this](const QPoint& at) {
        QMenu* menu = m_prompt->createStandardContextMenu();
        menu->addSeparator();
        menu->addAction(m_useAsSubject);
        menu->setAttribute(Qt::WA_DeleteOnClose);
        menu->popup(m_prompt->mapToGlobal(at));
    });
    m_model->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_prompt->setPlaceholderText(tr("A factual prompt, e.g. The Eiffel Tower is located in the city of"));
    m_prompt->setClearButtonEnabled(true);
    m_prompt->setToolTip(tr("Select the subject and press \u201cUse as subject\u201d to trace it"));
    m_prompt->setText(workspace->prompt());
    connect(m_prompt, &QLineEdit::textChanged, workspace, &Workspace::setPrompt);
    connect(workspace, &Workspace::promptChanged, this, [this](const QString& p) {
        if (m_prompt->text() != p) m_prompt->setText(p);
        updateModel();
    });
    connect(m_prompt, &QLineEdit::selectionChanged, this,
            [this] { m_useAsSubject->setEnabled(!m_prompt->selectedText().trimmed().isEmpty()); });
    connect(workspace, &Workspace::modelChanged, this, &PromptBar::updateModel);
    updateModel();
}

void PromptBar::useSelectionAsSubject() {
    const QString selected = m_prompt->selectedText().trimmed();
    if (!selected.isEmpty()) emit m_workspace->subjectChosen(selected);
}

void PromptBar::updateModel() {
    const auto model = m_workspace->model();
    m_model->setText(QStringLiteral("<b>%1</b>").arg(m_workspace->modelSummary().toHtmlEscaped()));
    m_model->setToolTip(m_workspace->modelPath());
    m_tooLong = false;
    m_tokens->setStyleSheet({});
    m_tokens->setToolTip({});
    if (!model || m_prompt->text().isEmpty()) {
        m_tokens->clear();
        return;
    }
    try {
        const auto ids = model->tokenizer.encodeIds(m_prompt->text().toStdString());
        const int n = static_cast<int>(ids.size()), context = model->config.nCtx;
        m_tooLong = n > context;
        m_tokens->setText(m_tooLong ? tr("%1 / %2 tokens: too long").arg(n).arg(context)
                                    : tr("%1 / %2 tokens").arg(n).arg(context));
        m_tokens->setToolTip(tr("Prompt tokens / the model's context"));
        if (m_tooLong) {
            m_tokens->setStyleSheet(QStringLiteral("color: #b00020; font-weight: bold;"));
            m_tokens->setToolTip(tr("The prompt is longer than the model's context of %1 tokens").arg(context));
        }
    } catch (const std::exception&) {
        m_tokens->setText(tr("cannot tokenize"));
    }
}

}  // namespace mwb::gui
