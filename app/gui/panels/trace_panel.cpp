// Causal tracing tab.
#include "app/gui/panels/trace_panel.h"

#include <algorithm>

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>

#include "app/gui/resources.h"
#include "app/gui/widgets/figure_view.h"
#include "app/plots/trace_figure.h"
#include "data/datasets.h"

namespace mwb::gui {
namespace {

std::string modelName(const Workspace& w) {
    const auto model = w.model();
    if (model && !model->config.name.empty()) return model->config.name;
    return QFileInfo(w.modelPath()).completeBaseName().toStdString();
}

QString percent(double p) { return QString::number(100.0 * p, 'f', 1) + QStringLiteral(" %"); }

}  // namespace

TracePanel::TracePanel(Workspace* workspace, QWidget* parent)
    : ToolPanel(workspace, parent),
      m_singleMode(new QRadioButton(tr("This prompt"), this)),
      m_averageMode(new QRadioButton(tr("Average over a facts file"), this)),
      m_subject(new QLineEdit(this)),
      m_answer(new QLineEdit(this)),
      m_factsFile(new QLineEdit(this)),
      m_browse(new QPushButton(tr("Browse\u2026"), this)),
      m_maxFacts(new QSpinBox(this)),
      m_skipWrong(new QCheckBox(tr("Only facts the model gets right"), this)),
      m_method(new QComboBox(this)),
      m_samples(new QSpinBox(this)),
      m_window(new QSpinBox(this)),
      m_noise(new QDoubleSpinBox(this)),
      m_seed(new QSpinBox(this)),
      m_run(new QPushButton(tr("Run trace"), this)),
      m_summary(new QLabel(this)),
      m_figure(new FigureView(tr("Type a subject that occurs in the prompt and run a trace."), this)),
      m_trace(this),
      m_average(this) {
    auto* modes = new QButtonGroup(this);
    modes->addButton(m_singleMode);
    modes->addButton(m_averageMode);
    m_singleMode->setChecked(true);

    m_subject->setPlaceholderText(tr("type it, or select it in the prompt: Use as subject"));
    m_answer->setPlaceholderText(tr("the model's top prediction"));
    auto* fact = new QGroupBox(tr("Fact"), this);
    auto* factForm = new QFormLayout(fact);
    factForm->addRow(m_singleMode);
    factForm->addRow(tr("Subject"), m_subject);
    factForm->addRow(tr("Answer"), m_answer);
    factForm->addRow(m_averageMode);
    auto* fileRow = new QHBoxLayout;
    fileRow->addWidget(m_factsFile, 1);
    fileRow->addWidget(m_browse);
    factForm->addRow(tr("Facts file"), fileRow);
    m_factsFile->setText(resourceFile(QStringLiteral("data/facts.json")));
    m_factsFile->setMinimumWidth(60);  // the side panel stays narrow; the path scrolls in its field
    m_factsFile->setPlaceholderText(tr("a known_1000.json style list of facts"));
    m_maxFacts->setRange(1, 100000);
    m_maxFacts->setValue(50);
    factForm->addRow(tr("At most"), m_maxFacts);
    m_skipWrong->setChecked(true);
    factForm->addRow(m_skipWrong);

    m_method->addItem(tr("Exact (every restoration)"));
    m_method->addItem(tr("Attribution (gradient estimate)"));
    m_method->addItem(tr("Attribution + AtP* next block"));
    m_method->setToolTip(
        tr("Exact: one run per restored site (Meng et al. 2022).\n"
           "Attribution: first-order estimate from one corrupted forward and one backward pass per "
           "noise sample (attribution patching).\n"
           "AtP*: the attention layer after each restoration runs exactly, the rest is estimated."));
    m_samples->setRange(1, 1000);
    m_samples->setValue(10);
    m_samples->setToolTip(tr("Noise samples averaged per restoration"));
    m_window->setRange(1, 1);
    m_window->setToolTip(tr("Number of layers restored at once for MLP and attention"));
    m_noise->setRange(0.0, 1000.0);
    m_noise->setDecimals(4);
    m_noise->setSingleStep(0.01);
    m_noise->setSpecialValueText(tr("auto: 3 \u00d7 embedding std"));
    m_noise->setToolTip(tr("Standard deviation of the Gaussian noise added to the subject's embeddings"));
    m_seed->setRange(0, 1000000);
    m_seed->setValue(1);
    auto* params = new QGroupBox(tr("Parameters"), this);
    auto* paramForm = new QFormLayout(params);
    paramForm->addRow(tr("Method"), m_method);
    paramForm->addRow(tr("Samples"), m_samples);
    paramForm->addRow(tr("Window"), m_window);
    paramForm->addRow(tr("Noise \u03c3"), m_noise);
    paramForm->addRow(tr("Seed"), m_seed);

    m_summary->setWordWrap(true);
    m_summary->setObjectName(QStringLiteral("traceSummary"));
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* side = new QWidget(this);
    auto* sideLayout = new QVBoxLayout(side);
    sideLayout->setContentsMargins(0, 0, 0, 0);
    sideLayout->addWidget(fact);
    sideLayout->addWidget(params);
    sideLayout->addWidget(m_run);
    sideLayout->addWidget(m_summary);
    sideLayout->addStretch(1);

    // The side panel scrolls on a small screen rather than pushing the heatmaps away.
    auto* sideScroll = new QScrollArea(this);
    sideScroll->setWidgetResizable(true);
    sideScroll->setFrameShape(QFrame::NoFrame);
    sideScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    sideScroll->setWidget(side);
    sideScroll->setFixedWidth(300);
    auto* layout = new QHBoxLayout(this);
    layout->addWidget(sideScroll);
    layout->addWidget(m_figure, 1);

    connect(m_run, &QPushButton::clicked, this, &TracePanel::runAction);
    connect(m_browse, &QPushButton::clicked, this, &TracePanel::chooseFactsFile);
    connect(m_singleMode, &QRadioButton::toggled, this, &TracePanel::updateMode);
    connect(workspace, &Workspace::subjectChosen, m_subject, &QLineEdit::setText);
    connect(workspace, &Workspace::modelChanged, this, &TracePanel::modelChanged);
    connect(m_trace.watcher(), &QFutureWatcherBase::finished, this, &TracePanel::traceFinished);
    connect(m_average.watcher(), &QFutureWatcherBase::finished, this, &TracePanel::averageFinished);
    updateMode();
    modelChanged();
}

void TracePanel::modelChanged() {
    const auto model = m_workspace->model();
    const int nLayers = model ? model->config.nLayers : 1;
    m_window->setRange(1, std::max(1, nLayers));
    // As `mwb trace`: the paper's window of 10 of GPT-2 XL's 48 layers, scaled to this model.
    m_window->setValue(defaultTraceWindow(nLayers));
    // A trace of another model (or of the model before an edit) would pass for this one's.
    m_last.reset();
    m_figure->clear();
    m_summary->clear();
}

void TracePanel::updateMode() {
    const bool single = m_singleMode->isChecked();
    m_subject->setEnabled(single);
    m_answer->setEnabled(single);
    m_factsFile->setEnabled(!single);
    m_browse->setEnabled(!single);
    m_maxFacts->setEnabled(!single);
    m_skipWrong->setEnabled(!single);
}

void TracePanel::chooseFactsFile() {
    const QString file = QFileDialog::getOpenFileName(this, tr("Facts file"), m_factsFile->text(),
                                                      tr("Known facts (*.json)"));
    if (!file.isEmpty()) m_factsFile->setText(file);
}

CausalTraceParams TracePanel::params() const {
    CausalTraceParams p;
    p.samples = m_samples->value();
    p.window = m_window->value();
    if (m_noise->value() > 0.0) p.noise = m_noise->value();
    p.seed = static_cast<uint64_t>(m_seed->value());
    if (m_method->currentIndex() > 0) p.method = TraceMethod::Attribution;
    if (m_method->currentIndex() == 2) p.correction = AttributionCorrection::NextBlock;
    return p;
}

void TracePanel::runAction() {
    if (m_singleMode->isChecked())
        runSingle();
    else
        runAverage();
}

void TracePanel::cancel() {
    m_trace.watcher()->cancel();
    m_average.watcher()->cancel();
}

void TracePanel::runSingle() {
    if (!requireModelAndPrompt()) return;
    const QString subject = m_subject->text();
    if (subject.trimmed().isEmpty()) {
        emit errorMessage(tr("Type the subject (or select it in the prompt) before tracing."));
        emit actionFinished(false);
        return;
    }
    const auto model = m_workspace->model();
    const std::string prompt = m_workspace->prompt().toStdString();
    const std::string answer = m_answer->text().toStdString();
    const CausalTraceParams p = params();
    m_trace.start([model, prompt, s = subject.toStdString(), answer, p](const ProgressFn& progress) {
        const bool mlp = std::find(p.kinds.begin(), p.kinds.end(), TraceKind::Mlp) != p.kinds.end();
        // One bar for both traces (the second, of single MLP layers, only with a wider
        // window), split by how many kinds each restores.
        const double split = mlp && p.window > 1 ? double(p.kinds.size()) / (p.kinds.size() + 1) : 1.0;
        TracedFact t{traceFact(*model, prompt, s, answer, p, progressSpan(progress, 0.0, split))};
        if (mlp) t.editLayer = editLayerAfterTrace(*model, prompt, s, answer, t.trace, progressSpan(progress, split, 1.0));
        return t;
    });
    emit jobStarted(tr("Tracing"), m_trace.watcher());
}

void TracePanel::runAverage() {
    if (!m_workspace->model()) {
        emit errorMessage(tr("Open a model first (File > Open)."));
        emit actionFinished(false);
        return;
    }
    const QString file = m_factsFile->text().trimmed();
    if (file.isEmpty()) {
        emit errorMessage(tr("Choose a facts file (a known_1000.json style list) first."));
        emit actionFinished(false);
        return;
    }
    const auto model = m_workspace->model();
    const CausalTraceParams p = params();
    const size_t maxFacts = static_cast<size_t>(m_maxFacts->value());
    const bool skipWrong = m_skipWrong->isChecked();
    m_average.start([model, path = file.toStdString(), p, maxFacts, skipWrong](const ProgressFn& progress) {
        std::vector<KnownFact> facts = loadKnownFacts(path);
        if (facts.size() > maxFacts) facts.resize(maxFacts);
        return traceFacts(*model, facts, p, skipWrong, progress);
    });
    emit jobStarted(tr("Tracing %1 facts").arg(maxFacts), m_average.watcher());
}

void TracePanel::traceFinished() {
    const auto outcome = m_trace.outcome();
    if (!accept(outcome)) return;
    m_last = outcome->value->trace;
    const CausalTraceResult& r = *m_last;
    showFigure(m_figure, plots::traceFigure(r, modelName(*m_workspace)), QStringLiteral("trace"));
    QString text = tr("<b>Model</b> %7<br><b>Answer</b> '%1'%2<br><b>p(clean)</b> %3, <b>p(corrupted)</b> %4<br>"
                      "<b>noise \u03c3</b> %5 (%6)")
                       .arg(QString::fromStdString(r.answer).toHtmlEscaped(),
                            r.answerIsTopPrediction ? QString() : tr(" (not the top prediction)"),
                            percent(r.probClean), percent(r.probCorrupted))
                       .arg(r.noise.sigma, 0, 'g', 4)
                       .arg(QString::fromStdString(r.noise.source).toHtmlEscaped())
                       .arg(m_workspace->modelLabel().toHtmlEscaped());
    const QString warning = QString::fromStdString(recallWarning(r));
    if (!warning.isEmpty())
        text = tr("<p style='color:#b00020'><b>Not a confident recall:</b> %1.</p>").arg(warning.toHtmlEscaped()) + text;
    if (r.params.method == TraceMethod::Attribution)
        text += tr("<br><b>method</b> attribution: first-order estimates%1")
                    .arg(r.params.correction == AttributionCorrection::NextBlock
                             ? tr(", next attention layer exact (AtP*)")
                             : QString());
    if (auto it = r.probRestored.find(TraceKind::Mlp); it != r.probRestored.end() && it->second.size()) {
        Eigen::Index layer = 0;
        const double best = it->second.row(r.subjectEnd - 1).maxCoeff(&layer);
        const int editLayer = outcome->value->editLayer;
        text += tr("<br><b>MLP peak</b> at the subject's last token: layer %1 (%2); edit layer %3")
                    .arg(layer)
                    .arg(percent(best))
                    .arg(editLayer);
        emit traced(m_workspace->prompt(), m_subject->text(), editLayer);
    }
    m_summary->setText(text);
    if (warning.isEmpty())
        emit statusMessage(tr("Trace done: p(%1) %2 clean, %3 corrupted")
                               .arg(QString::fromStdString(r.answer), percent(r.probClean), percent(r.probCorrupted)));
    else
        emit errorMessage(tr("Trace done, but %1.").arg(warning));
    emit actionFinished(true);
}

void TracePanel::averageFinished() {
    const auto outcome = m_average.outcome();
    if (!accept(outcome)) return;
    const AverageTraceResult& r = *outcome->value;
    m_last.reset();
    showFigure(m_figure, plots::averageTraceFigure(r, modelName(*m_workspace)), QStringLiteral("average-trace"));
    m_summary->setText(tr("<b>Model</b> %5<br><b>%1 facts</b> averaged, %2 skipped<br><b>mean p(clean)</b> %3, "
                          "<b>mean p(corrupted)</b> %4")
                           .arg(r.factsUsed)
                           .arg(r.factsSkipped)
                           .arg(percent(r.meanProbClean), percent(r.meanProbCorrupted),
                                m_workspace->modelLabel().toHtmlEscaped()));
    emit statusMessage(tr("Average trace done over %1 facts").arg(r.factsUsed));
    emit actionFinished(true);
}

}  // namespace mwb::gui
