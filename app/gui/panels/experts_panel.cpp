// The Experts tab.
#include "app/gui/panels/experts_panel.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>

#include "analysis/experts/expert_ablation.h"
#include "app/gui/panels/ablation_view.h"
#include "app/gui/resources.h"
#include "app/gui/widgets/figure_view.h"
#include "app/plots/expert_figure.h"
#include "data/datasets.h"
#include "metrics/perplexity.h"

namespace mwb::gui {
namespace {

constexpr long kCalibrationTokens = 4096;  // held-out tokens for the load and the super-expert search

std::string heldoutPath() { return resourceFile(QStringLiteral("data/heldout.txt")).toStdString(); }

std::vector<std::vector<int>> heldoutChunks(const Model& model, const std::string& path) {
    if (path.empty()) throw InvalidInput("the bundled held-out text (resources/data/heldout.txt) is not installed");
    return corpusChunks(model, readTextFile(path), kCalibrationTokens);
}

}  // namespace

ExpertsPanel::ExpertsPanel(Workspace* workspace, QWidget* parent)
    : ToolPanel(workspace, parent),
      m_notice(new QLabel(this)),
      m_routeButton(new QPushButton(tr("Route the prompt"), this)),
      m_overText(new QCheckBox(tr("Load over 4,096 tokens of held-out text"), this)),
      m_experts(new QLineEdit(this)),
      m_compareButton(new QPushButton(tr("Remove and compare"), this)),
      m_superButton(new QPushButton(tr("Find super experts"), this)),
      m_subject(new QLineEdit(this)),
      m_traceButton(new QPushButton(tr("Trace experts"), this)),
      m_traceChart(new FigureView(tr("Type the subject and trace: which expert at which layer brings the answer "
                                     "back at the subject's last token."),
                                  this)),
      m_map(new FigureView(tr("Route the prompt to see which experts each token goes to."), this)),
      m_load(new FigureView(tr("The share of routing choices each expert gets, per layer."), this)),
      m_superChart(new FigureView(tr("Find super experts: the peak output of every expert over held-out text."), this)),
      m_view(new AblationView(this, tr("Type experts as layer:expert, remove them from the routing and compare."))),
      m_route(this),
      m_compare(this),
      m_super(this),
      m_trace(this) {
    m_subject->setPlaceholderText(tr("subject in the prompt, e.g. Eiffel Tower"));
    m_traceButton->setToolTip(tr("Corrupts the subject's embeddings with noise and restores one expert's clean "
                                 "contribution at the subject's last token, for every expert of every sparse layer"));
    m_notice->setWordWrap(true);
    m_experts->setPlaceholderText(tr("experts to remove, e.g. 0:3, 2:5"));
    m_experts->setToolTip(tr("Removed experts are out of every token's choice; the router's softmax and top-k run "
                             "over the others (Su et al. 2025)"));
    m_superButton->setToolTip(tr("Peak |down-projection output| per expert over held-out text; super experts stand "
                                 "above the 99.5th percentile and a tenth of the largest peak, in a layer where a "
                                 "massive activation forms (docs/mixture-of-experts.md)"));

    auto* left = new QWidget(this);
    auto* ll = new QVBoxLayout(left);
    ll->setContentsMargins(0, 0, 0, 0);
    ll->addWidget(m_notice);
    auto* routeRow = new QHBoxLayout;
    routeRow->addWidget(m_routeButton);
    routeRow->addWidget(m_overText, 1);
    ll->addLayout(routeRow);
    auto* leftSplit = new QSplitter(Qt::Vertical, left);
    leftSplit->addWidget(m_map);
    leftSplit->addWidget(m_load);
    leftSplit->addWidget(m_superChart);
    leftSplit->setSizes({320, 260, 260});
    ll->addWidget(leftSplit, 1);

    auto* right = new QWidget(this);
    auto* rl = new QVBoxLayout(right);
    rl->setContentsMargins(0, 0, 0, 0);
    auto* traceRow = new QHBoxLayout;
    traceRow->addWidget(m_subject, 1);
    traceRow->addWidget(m_traceButton);
    rl->addLayout(traceRow);
    auto* rightSplit = new QSplitter(Qt::Vertical, right);
    rightSplit->addWidget(m_traceChart);
    auto* removeBox = new QWidget(rightSplit);
    auto* removeLayout = new QVBoxLayout(removeBox);
    removeLayout->setContentsMargins(0, 0, 0, 0);
    auto* removeRow = new QHBoxLayout;
    removeRow->addWidget(m_superButton);
    removeRow->addWidget(m_experts, 1);
    removeRow->addWidget(m_compareButton);
    removeLayout->addLayout(removeRow);
    removeLayout->addWidget(m_view, 1);
    rightSplit->addWidget(removeBox);
    rightSplit->setSizes({300, 560});
    rl->addWidget(rightSplit, 1);

    auto* columns = new QSplitter(Qt::Horizontal, this);
    columns->addWidget(left);
    columns->addWidget(right);
    columns->setSizes({700, 700});
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(columns);

    connect(m_routeButton, &QPushButton::clicked, this, &ExpertsPanel::runAction);
    connect(m_compareButton, &QPushButton::clicked, this, &ExpertsPanel::compare);
    connect(m_experts, &QLineEdit::returnPressed, this, &ExpertsPanel::compare);
    connect(m_superButton, &QPushButton::clicked, this, &ExpertsPanel::findSuperExperts);
    connect(m_traceButton, &QPushButton::clicked, this, &ExpertsPanel::traceExperts);
    connect(m_subject, &QLineEdit::returnPressed, this, &ExpertsPanel::traceExperts);
    connect(workspace, &Workspace::subjectChosen, m_subject, &QLineEdit::setText);
    connect(workspace, &Workspace::modelChanged, this, &ExpertsPanel::modelChanged);
    connect(m_route.watcher(), &QFutureWatcherBase::finished, this, &ExpertsPanel::routeDone);
    connect(m_compare.watcher(), &QFutureWatcherBase::finished, this, &ExpertsPanel::compareDone);
    connect(m_super.watcher(), &QFutureWatcherBase::finished, this, &ExpertsPanel::superDone);
    connect(m_trace.watcher(), &QFutureWatcherBase::finished, this, &ExpertsPanel::traceDone);
    modelChanged();
}

void ExpertsPanel::modelChanged() {
    m_map->clear();
    m_load->clear();
    m_superChart->clear();
    m_traceChart->clear();
    m_view->clear();
    m_superResult.reset();
    const auto model = m_workspace->model();
    const bool moe = model && model->config.moe();
    for (QWidget* w : {static_cast<QWidget*>(m_routeButton), static_cast<QWidget*>(m_overText),
                       static_cast<QWidget*>(m_experts), static_cast<QWidget*>(m_compareButton),
                       static_cast<QWidget*>(m_superButton), static_cast<QWidget*>(m_subject),
                       static_cast<QWidget*>(m_traceButton)})
        w->setEnabled(moe);
    m_notice->setVisible(!moe);
    m_notice->setText(model ? tr("This model has one MLP per layer and no experts. Open a mixture-of-experts model "
                                 "(for example resources/models/moe-demo.h5) to see its routing.")
                            : tr("Open a mixture-of-experts model to see its routing."));
}

void ExpertsPanel::runAction() {
    if (!requireModelAndPrompt()) return;
    const auto model = m_workspace->model();
    if (!model->config.moe()) {
        emit errorMessage(tr("This model has no experts."));
        emit actionFinished(false);
        return;
    }
    const std::string prompt = m_workspace->prompt().toStdString();
    const std::string heldout = m_overText->isChecked() ? heldoutPath() : std::string();
    const bool overText = m_overText->isChecked();
    m_route.start([model, prompt, heldout, overText](const ProgressFn& progress) {
        Routing r;
        r.routing = expertRouting(*model, model->tokenizer.encodeIds(prompt));
        if (overText) {
            const auto chunks = heldoutChunks(*model, heldout);
            r.load = expertLoad(*model, chunks, progress);
            r.over = std::to_string(r.load.tokens) + " held-out tokens";
        } else {
            r.load = loadOf(model->config, r.routing.layers);
            r.over = "the prompt";
        }
        return r;
    });
    emit jobStarted(tr("Routing"), m_route.watcher());
}

void ExpertsPanel::routeDone() {
    const auto outcome = m_route.outcome();
    if (!accept(outcome)) return;
    const Routing& r = *outcome->value;
    showFigure(m_map, plots::routingMapFigure(r.routing), QStringLiteral("routing"));
    showFigure(m_load, plots::expertLoadFigure(r.load, r.over), QStringLiteral("expert-load"));
    emit statusMessage(tr("Hover a cell for the token's full choice of experts"));
    emit actionFinished(true);
}

void ExpertsPanel::compare() {
    if (!requireModelAndPrompt()) return;
    const auto model = m_workspace->model();
    std::vector<ExpertId> experts;
    try {
        experts = parseExpertList(m_experts->text().toStdString());
        expertRemoval(*model, experts);
    } catch (const Error& e) {
        emit errorMessage(QString::fromStdString(e.what()));
        emit actionFinished(false);
        emit compareFinished(false);
        return;
    }
    const std::string prompt = m_workspace->prompt().toStdString();
    const std::string heldout = heldoutPath();
    m_compare.start([model, experts, prompt, heldout](const ProgressFn& progress) {
        return runExpertAblation(*model, experts, comparisonInputs(*model, prompt, heldout), "experts removed", progress);
    });
    emit jobStarted(tr("Comparing without the experts"), m_compare.watcher());
}

void ExpertsPanel::compareDone() {
    const auto outcome = m_compare.outcome();
    if (!accept(outcome)) {
        emit compareFinished(false);
        return;
    }
    m_view->show(*outcome->value, m_workspace->modelLabel() + tr(" without experts ") + m_experts->text());
    emit statusMessage(tr("Left: the open model; right: with the experts removed from the routing"));
    emit actionFinished(true);
    emit compareFinished(true);
}

void ExpertsPanel::findSuperExperts() {
    const auto model = m_workspace->model();
    if (!model || !model->config.moe()) {
        emit errorMessage(tr("Open a mixture-of-experts model first."));
        emit superFinished(false);
        return;
    }
    const std::string heldout = heldoutPath();
    m_super.start([model, heldout](const ProgressFn& progress) {
        return mwb::findSuperExperts(*model, heldoutChunks(*model, heldout), {}, progress);
    });
    emit jobStarted(tr("Profiling the experts"), m_super.watcher());
}

void ExpertsPanel::superDone() {
    const auto outcome = m_super.outcome();
    if (!accept(outcome)) {
        emit superFinished(false);
        return;
    }
    m_superResult = std::move(*outcome->value);
    const SuperExpertResult& r = *m_superResult;
    showFigure(m_superChart, plots::superExpertFigure(r), QStringLiteral("super-experts"));
    QStringList ids;
    for (const ExpertPeak& p : r.superExperts) ids << QString::fromStdString(toString(ExpertId{p.layer, p.expert}));
    if (ids.isEmpty()) {
        // The expert of largest peak, to compare its removal all the same.
        for (const ExpertId& e : r.largestPeaks(1)) ids << QString::fromStdString(toString(e));
        emit statusMessage(tr("No super expert; the field holds the expert of largest peak"));
    } else {
        emit statusMessage(tr("Super experts: %1").arg(ids.join(QStringLiteral(", "))));
    }
    m_experts->setText(ids.join(QStringLiteral(", ")));
    emit actionFinished(true);
    emit superFinished(true);
}

void ExpertsPanel::traceExperts() {
    if (!requireModelAndPrompt()) {
        emit traceFinished(false);
        return;
    }
    const auto model = m_workspace->model();
    const std::string prompt = m_workspace->prompt().toStdString();
    const std::string subject = m_subject->text().trimmed().toStdString();
    if (!model->config.moe() || subject.empty()) {
        emit errorMessage(model->config.moe() ? tr("Type the subject, a part of the prompt, to trace.")
                                              : tr("This model has no experts."));
        emit actionFinished(false);
        emit traceFinished(false);
        return;
    }
    m_trace.start([model, prompt, subject](const ProgressFn& progress) {
        return mwb::traceExperts(*model, prompt, subject, "", CausalTraceParams{}, progress);
    });
    emit jobStarted(tr("Tracing the experts"), m_trace.watcher());
}

void ExpertsPanel::traceDone() {
    const auto outcome = m_trace.outcome();
    if (!accept(outcome)) {
        emit traceFinished(false);
        return;
    }
    const ExpertTraceResult& r = *outcome->value;
    showFigure(m_traceChart, plots::expertTraceFigure(r), QStringLiteral("expert-trace"));
    emit statusMessage(tr("p(%1): clean %2, corrupted %3; * marks the experts the clean run chose")
                           .arg(QString::fromStdString(r.answer).trimmed())
                           .arg(r.probClean, 0, 'f', 3)
                           .arg(r.probCorrupted, 0, 'f', 3));
    emit actionFinished(true);
    emit traceFinished(true);
}

}  // namespace mwb::gui
