// Status-bar progress and cancel for background jobs.
#include "app/gui/jobs/job_status.h"

#include <QFutureWatcherBase>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

namespace mwb::gui {

JobStatus::JobStatus(QWidget* parent)
    : QWidget(parent),
      m_label(new QLabel(this)),
      m_progress(new QProgressBar(this)),
      m_cancel(new QPushButton(tr("Cancel"), this)) {
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(4, 0, 4, 0);
    layout->addWidget(m_label, 1);
    layout->addWidget(m_progress);
    layout->addWidget(m_cancel);
    m_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_progress->setRange(0, 1000);
    m_progress->setFixedWidth(180);
    m_progress->setTextVisible(false);
    m_cancel->setToolTip(tr("Stop the running operation"));
    m_cancel->setObjectName(QStringLiteral("cancelJob"));
    m_progress->setObjectName(QStringLiteral("jobProgress"));
    connect(m_cancel, &QPushButton::clicked, this, &JobStatus::cancelCurrent);
    refresh();
}

void JobStatus::track(const QString& operation, QFutureWatcherBase* watcher) {
    m_label->setStyleSheet({});
    m_error = false;
    m_jobs.push_back({operation, watcher});
    connect(watcher, &QFutureWatcherBase::progressValueChanged, this, [this, watcher](int value) {
        if (!m_jobs.empty() && m_jobs.back().watcher == watcher) m_progress->setValue(value);
    });
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, operation] {
        disconnect(watcher, nullptr, this, nullptr);
        if (watcher->isCanceled())
            showMessage(operation + tr(" cancelled"));
        else if (m_label->text() == operation + QStringLiteral("\u2026"))
            showMessage(operation + tr(" done"));
        std::erase_if(m_jobs, [watcher](const Tracked& t) { return t.watcher == watcher || !t.watcher; });
        refresh();
    });
    m_label->setText(operation + QStringLiteral("\u2026"));
    refresh();
}

void JobStatus::refresh() {
    std::erase_if(m_jobs, [](const Tracked& t) { return !t.watcher || t.watcher->isFinished(); });
    const bool busy = !m_jobs.empty();
    m_progress->setVisible(busy);
    m_cancel->setVisible(busy);
    if (busy) {
        m_label->setText(m_jobs.back().operation + QStringLiteral("\u2026"));
        m_progress->setValue(m_jobs.back().watcher->progressValue());
    }
}

void JobStatus::cancelCurrent() {
    if (m_jobs.empty()) return;
    m_jobs.back().watcher->cancel();
    m_label->setText(m_jobs.back().operation + tr(": cancelling\u2026"));
}

void JobStatus::showError(const QString& text) {
    // The libraries' messages are clauses ("the input has 92 tokens, ..."): shown as a sentence.
    QString sentence = text.trimmed();
    if (!sentence.isEmpty()) sentence[0] = sentence[0].toUpper();
    if (!sentence.isEmpty() && !sentence.endsWith(QLatin1Char('.')) && !sentence.endsWith(QLatin1Char('?')) &&
        !sentence.endsWith(QLatin1Char('!')))
        sentence += QLatin1Char('.');
    m_label->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_label->setText(sentence);
    m_error = true;
    emit errorShown(sentence);
}

void JobStatus::showMessage(const QString& text) {
    m_label->setStyleSheet({});
    m_error = false;
    m_label->setText(text);
}

QString JobStatus::currentText() const { return m_label->text(); }

bool JobStatus::isBusy() const { return !m_jobs.empty(); }

}  // namespace mwb::gui
