// Model summary and prompt field.
#include "app/gui/widgets/prompt_bar.h"

#include <QFileInfo>
#include <QGridLayout>
#include <QLabel>
#include <QLineEdit>

#include "app/gui/workspace.h"

namespace mwb::gui {

PromptBar::PromptBar(Workspace* workspace, QWidget* parent)
    : QWidget(parent),
      m_workspace(workspace),
      m_model(new QLabel(this)),
      m_prompt(new QLineEdit(this)),
      m_tokens(new QLabel(this)) {
    auto* layout = new QGridLayout(this);
    layout->setContentsMargins(8, 6, 8, 2);
    layout->addWidget(new QLabel(tr("Model:"), this), 0, 0);
    layout->addWidget(m_model, 0, 1, 1, 2);
    layout->addWidget(new QLabel(tr("Prompt:"), this), 1, 0);
    layout->addWidget(m_prompt, 1, 1);
    layout->addWidget(m_tokens, 1, 2);
    layout->setColumnStretch(1, 1);
    m_model->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_prompt->setPlaceholderText(tr("A factual prompt, e.g. The Eiffel Tower is located in the city of"));
    m_prompt->setClearButtonEnabled(true);
    m_prompt->setToolTip(tr("Select part of the prompt to use it as the subject in the Trace tab"));
    m_prompt->setText(workspace->prompt());
    connect(m_prompt, &QLineEdit::textChanged, workspace, &Workspace::setPrompt);
    connect(workspace, &Workspace::promptChanged, this, [this](const QString& p) {
        if (m_prompt->text() != p) m_prompt->setText(p);
        updateModel();
    });
    connect(m_prompt, &QLineEdit::selectionChanged, this, [this] {
        const QString selected = m_prompt->selectedText().trimmed();
        if (!selected.isEmpty()) emit m_workspace->promptSelection(selected);
    });
    connect(workspace, &Workspace::modelChanged, this, &PromptBar::updateModel);
    updateModel();
}

void PromptBar::updateModel() {
    const auto model = m_workspace->model();
    m_model->setText(QStringLiteral("<b>%1</b>").arg(m_workspace->modelSummary().toHtmlEscaped()));
    m_model->setToolTip(m_workspace->modelPath());
    if (!model || m_prompt->text().isEmpty()) {
        m_tokens->clear();
        return;
    }
    try {
        const auto ids = model->tokenizer.encodeIds(m_prompt->text().toStdString());
        m_tokens->setText(tr("%n token(s)", nullptr, static_cast<int>(ids.size())));
    } catch (const std::exception&) {
        m_tokens->setText(tr("cannot tokenize"));
    }
}

}  // namespace mwb::gui
