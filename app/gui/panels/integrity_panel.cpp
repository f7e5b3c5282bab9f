// The blind audit tab.
#include "app/gui/panels/integrity_panel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include "analysis/superweights/model_variant.h"
#include "analysis/superweights/stop_words.h"
#include "app/gui/panels/ablation_view.h"
#include "app/gui/resources.h"
#include "app/gui/widgets/figure_view.h"
#include "app/plots/audit_figure.h"
#include "data/datasets.h"

namespace mwb::gui {
namespace {

enum Column { kLayer, kScore, kFlagged, kRank, kTop, kGap, kColumns };
constexpr int kGenerateTokens = 16;

AuditOptions auditOptions() {
    AuditOptions o;
    const QString corpus = resourceFile(QStringLiteral("data/corpus.txt"));
    if (corpus.isEmpty()) throw InvalidInput("the bundled corpus (resources/data/corpus.txt) is not installed");
    o.corpusText = readTextFile(corpus.toStdString());
    const QString facts = resourceFile(QStringLiteral("data/facts.json"));
    if (!facts.isEmpty()) o.carriers = carriersFromFacts(loadKnownFacts(facts.toStdString()));
    return o;
}

}  // namespace

IntegrityPanel::IntegrityPanel(Workspace* workspace, QWidget* parent)
    : ToolPanel(workspace, parent),
      m_auditButton(new QPushButton(tr("Audit the weights for hidden edits"), this)),
      m_reverseButton(new QPushButton(tr("Reverse the flagged edits and compare"), this)),
      m_table(new QTableWidget(0, kColumns, this)),
      m_explanation(new QPlainTextEdit(this)),
      m_chart(new FigureView(tr("Audit the model to see how far each layer's mlp/down stands out."), this)),
      m_view(new AblationView(this)),
      m_audit(this),
      m_reverse(this) {
    m_table->setHorizontalHeaderLabels(
        {tr("Layer"), tr("Score"), tr("Flagged"), tr("Rank"), tr("log \u03bc1/median"), tr("log \u03bc1/\u03bc2")});
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->setVisible(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setToolTip(tr("mlp/down of every layer, most edit-like first: the score is a robust z-score of its "
                           "whitened spectrum against the model's other layers (docs/audit.md)"));
    m_explanation->setReadOnly(true);
    m_explanation->setPlaceholderText(tr("Suspected targets and subjects of the top finding"));
    m_reverseButton->setEnabled(false);
    m_reverseButton->setToolTip(tr("Removes each flagged layer's estimated edit (the output directions that stand "
                                   "out) in a copy and compares it with the open model; the open model is unchanged"));

    auto* left = new QWidget(this);
    auto* ll = new QVBoxLayout(left);
    ll->setContentsMargins(0, 0, 0, 0);
    ll->addWidget(m_auditButton);
    auto* split = new QSplitter(Qt::Vertical, left);
    split->addWidget(m_chart);
    split->addWidget(m_table);
    split->addWidget(m_explanation);
    split->setSizes({440, 220, 120});
    ll->addWidget(split, 1);
    ll->addWidget(m_reverseButton);
    auto* columns = new QSplitter(Qt::Horizontal, this);
    columns->addWidget(left);
    columns->addWidget(m_view);
    columns->setSizes({640, 760});
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(columns);

    connect(m_auditButton, &QPushButton::clicked, this, &IntegrityPanel::runAction);
    connect(m_reverseButton, &QPushButton::clicked, this, &IntegrityPanel::reverse);
    connect(workspace, &Workspace::modelChanged, this, &IntegrityPanel::modelChanged);
    connect(m_audit.watcher(), &QFutureWatcherBase::finished, this, &IntegrityPanel::auditFinished);
    connect(m_reverse.watcher(), &QFutureWatcherBase::finished, this, &IntegrityPanel::reverseDone);
}

void IntegrityPanel::modelChanged() {
    m_table->setRowCount(0);
    m_explanation->clear();
    m_chart->clear();
    m_view->clear();
    m_result.reset();
    m_explanation->setReadOnly(true);
    m_explanation->setPlaceholderText(tr("Suspected targets and subjects of the top finding"));
    m_reverseButton->setEnabled(false);
}

void IntegrityPanel::runAction() {
    const auto model = m_workspace->model();
    if (!model) {
        emit errorMessage(tr("Open a model first."));
        emit actionFinished(false);
        return;
    }
    m_audit.start([model](const ProgressFn& progress) { return auditModel(*model, auditOptions(), progress); });
    emit jobStarted(tr("Auditing the weights"), m_audit.watcher());
}

void IntegrityPanel::auditFinished() {
    const auto outcome = m_audit.outcome();
    if (!accept(outcome)) return;
    m_result = std::move(*outcome->value);
    const AuditResult& r = *m_result;
    m_table->setRowCount(0);
    for (const AuditFinding& f : r.findings) {
        const int row = m_table->rowCount();
        m_table->insertRow(row);
        const QString cells[kColumns] = {QString::number(f.layer),
                                         QString::number(f.score, 'f', 2),
                                         f.flagged ? tr("yes") : tr("no"),
                                         QString::number(f.estimatedRank),
                                         QString::number(f.topRatio, 'f', 3),
                                         QString::number(f.gapRatio, 'f', 3)};
        for (int c = 0; c < kColumns; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            if (f.flagged) item->setForeground(QColor(180, 30, 30));
            m_table->setItem(row, c, item);
        }
    }
    QStringList targets, subjects;
    for (size_t i = 0; i < r.suspectedTargets.size() && i < 10; ++i)
        targets << QString::fromStdString(r.suspectedTargets[i].token).trimmed();
    for (size_t i = 0; i < r.suspectedSubjects.size() && i < 5; ++i)
        subjects << QStringLiteral("…%1 (%2)")
                        .arg(QString::fromStdString(r.suspectedSubjects[i].context))
                        .arg(r.suspectedSubjects[i].score, 0, 'f', 1);
    m_explanation->setPlainText(
        tr("%1\n%2 targets: %3\nKeys it answers best in the corpus: %4")
            .arg(QString::fromStdString(r.verdict), r.edited ? tr("Suspected") : tr("If it were an edit, its"),
                 targets.join(QStringLiteral(", ")), subjects.join(QStringLiteral("; "))));
    showFigure(m_chart, plots::auditFigure(r, AuditOptions{}.flagThreshold), QStringLiteral("audit"));
    m_reverseButton->setEnabled(r.edited);
    emit statusMessage(QString::fromStdString(r.verdict));
    emit actionFinished(true);
}

QString IntegrityPanel::explanation() const { return m_explanation->toPlainText(); }

void IntegrityPanel::reverse() {
    const auto model = m_workspace->model();
    if (!model || !m_result || !m_result->edited) return;
    const AuditResult audit = *m_result;
    std::string prompt = m_workspace->prompt().toStdString();
    m_reverse.start([model, audit, prompt](const ProgressFn& progress) {
        // The reversed model as overrides of the flagged layers' mlp/down: the open
        // model is never written, and both run side by side.
        WeightOverrides overrides;
        for (const AuditFinding& f : audit.findings)
            if (f.flagged && f.editLeft.size())
                overrides.edit(*model, f.layer, BlockLinear::Down).weight -= f.editLeft * f.editRight.transpose();
        const ModelVariant variant(*model, std::move(overrides), {}, 0.0);
        AblationInputs in;
        if (!prompt.empty()) in.prompts.push_back(model->tokenizer.encodeIds(prompt));
        for (size_t i = 0; i < audit.suspectedSubjects.size() && in.prompts.size() < 4; ++i)
            in.prompts.push_back(model->tokenizer.encodeIds(audit.suspectedSubjects[i].context));
        in.stopWords = bundledStopWordMask(model->tokenizer);
        in.generateTokens = kGenerateTokens;
        return compareVariant(variant, in, "reversed", progress);
    });
    emit jobStarted(tr("Comparing the reversed model"), m_reverse.watcher());
}

void IntegrityPanel::reverseDone() {
    const auto outcome = m_reverse.outcome();
    if (!accept(outcome)) {
        emit reverseFinished(false);
        return;
    }
    m_view->show(*outcome->value, m_workspace->modelLabel() + tr(" with the flagged edits removed"));
    emit statusMessage(tr("Left: the open model; right: with the flagged edits removed"));
    emit actionFinished(true);
    emit reverseFinished(true);
}

}  // namespace mwb::gui
