// Edit tab: ROME / MEMIT with before/after comparison and undo.
#include "app/gui/panels/edit_panel.h"

#include <cmath>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>

#include "app/gui/resources.h"
#include "app/gui/widgets/figure_view.h"
#include "app/plots/prediction_figure.h"
#include "editing/edit_history.h"
#include "editing/value_optimization.h"
#include "tensor/errors.h"

namespace mwb::gui {
namespace {

std::vector<std::string> lines(const QPlainTextEdit* edit) {
    std::vector<std::string> out;
    for (const QString& line : edit->toPlainText().split(QLatin1Char('\n')))
        if (!line.trimmed().isEmpty()) out.push_back(line.trimmed().toStdString());
    return out;
}

QString probText(double p) { return std::isnan(p) ? QStringLiteral("\u2013") : QString::number(100.0 * p, 'f', 1) + " %"; }

std::string probCell(double p) { return probText(p).toStdString(); }

QString answerText(const TokenProb& t) {
    return QStringLiteral("'%1' %2").arg(QString::fromStdString(t.token), probText(t.prob));
}

// "3 of 88": the prompt's places whose experts the edit changed.
QString routingText(const PromptProbs& p) {
    return p.routingPlaces < 0 ? QString() : QStringLiteral("%1 of %2").arg(p.routingChanged).arg(p.routingPlaces);
}

QString describe(const EditRecord& e, int index) {
    return QStringLiteral("%1. %2, %3: %4 \u2014 \u201c%5\u201d %6\u2192 %7")
        .arg(index + 1)
        .arg(QString::fromStdString(e.method).toUpper(), QString::fromStdString(editedPlaces(e)),
             QString::fromStdString(e.subject), QString::fromStdString(e.prompt),
             e.targetTrue.empty() ? QString() : QString::fromStdString(e.targetTrue) + QLatin1Char(' '),
             QString::fromStdString(e.targetNew));
}

}  // namespace

EditPanel::EditPanel(Workspace* workspace, QWidget* parent)
    : ToolPanel(workspace, parent),
      m_cases(new QComboBox(this)),
      m_subject(new QLineEdit(this)),
      m_prompt(new QLineEdit(this)),
      m_targetNew(new QLineEdit(this)),
      m_targetTrue(new QLineEdit(this)),
      m_method(new QComboBox(this)),
      m_layer(new QSpinBox(this)),
      m_memitLayers(new QSpinBox(this)),
      m_expert(new QSpinBox(this)),
      m_corpus(new QLineEdit(resourceFile(QStringLiteral("data/corpus.txt")), this)),
      m_statsTokens(new QSpinBox(this)),
      m_steps(new QSpinBox(this)),
      m_stopRule(new QComboBox(this)),
      m_learningRate(new QDoubleSpinBox(this)),
      m_clamp(new QDoubleSpinBox(this)),
      m_klFactor(new QDoubleSpinBox(this)),
      m_weightDecay(new QDoubleSpinBox(this)),
      m_momentWeight(new QDoubleSpinBox(this)),
      m_memitPasses(new QSpinBox(this)),
      m_nullSpace(new QCheckBox(tr("AlphaEdit projection"), this)),
      m_keyContext(new QComboBox(this)),
      m_paraphrases(new QPlainTextEdit(this)),
      m_neighbours(new QPlainTextEdit(this)),
      m_apply(new QPushButton(tr("Apply edit"), this)),
      m_plan(new QLabel(this)),
      m_undoButton(new QPushButton(tr("Undo last model edit"), this)),
      m_edits(new QListWidget(this)),
      m_figure(new FigureView(tr("Apply an edit to compare the predictions before and after."), this)),
      m_table(new QTableWidget(0, 9, this)),
      m_edit(this),
      m_undo(this),
      m_load(this) {
    // Two-line headers and a prompt column that gives way: the table fits a 1024-pixel
    // window without scrolling sideways.
    m_table->setHorizontalHeaderLabels({tr("Prompt"), tr("Kind"), tr("p(new)\nbefore"), tr("p(new)\nafter"),
                                        tr("p(true)\nbefore"), tr("p(true)\nafter"), tr("answer\nbefore"),
                                        tr("answer\nafter"), tr("experts\nmoved")});
    m_table->setColumnHidden(8, true);  // shown for a model with experts
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_table->horizontalHeader()->setMinimumSectionSize(40);
    m_table->setTextElideMode(Qt::ElideMiddle);
    m_table->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    m_table->verticalHeader()->setVisible(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setWordWrap(false);
    m_table->setToolTip(tr("p(new), p(true): per-token geometric-mean probability of the edit's new and true "
                           "targets after each prompt; answer: the model's most likely next token (bold where "
                           "the edit changed it); experts moved: of the prompt's (layer, token) places in a "
                           "model with experts, those whose chosen experts the edit changed"));

    auto* editsBox = new QGroupBox(tr("Applied edits"), this);
    auto* el = new QHBoxLayout(editsBox);
    el->addWidget(m_edits, 1);
    el->addWidget(m_undoButton, 0, Qt::AlignTop);
    m_undoButton->setToolTip(tr("Restore the weights before the last edit, bit for bit (Edit menu, Ctrl+Alt+Z)"));
    m_edits->setMaximumHeight(110);

    auto* right = new QSplitter(Qt::Vertical, this);
    right->addWidget(m_figure);
    right->addWidget(m_table);
    right->addWidget(editsBox);
    right->setSizes({380, 220, 120});
    auto* scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setWidget(buildForm());
    // The form scrolls; what it will do and the Apply button stay in view below it.
    m_plan->setWordWrap(true);
    m_plan->setObjectName(QStringLiteral("editPlan"));
    auto* left = new QWidget(this);
    left->setFixedWidth(340);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addWidget(scroll, 1);
    leftLayout->addWidget(m_plan);
    leftLayout->addWidget(m_apply);
    auto* layout = new QHBoxLayout(this);
    layout->addWidget(left);
    layout->addWidget(right, 1);

    connect(m_apply, &QPushButton::clicked, this, &EditPanel::runAction);
    connect(m_undoButton, &QPushButton::clicked, this, &EditPanel::undo);
    connect(m_layer, &QSpinBox::valueChanged, this, [this] { m_layerChosen = m_layer->hasFocus() || m_layerChosen; });
    connect(m_layer, &QSpinBox::valueChanged, this, &EditPanel::updatePlan);
    connect(m_expert, &QSpinBox::valueChanged, this, &EditPanel::updatePlan);
    connect(m_memitLayers, &QSpinBox::valueChanged, this, &EditPanel::updatePlan);
    connect(m_method, &QComboBox::currentIndexChanged, this, &EditPanel::updatePlan);
    connect(m_cases, &QComboBox::activated, this, &EditPanel::useCase);
    connect(workspace, &Workspace::modelChanged, this, &EditPanel::modelChanged);
    connect(m_edit.watcher(), &QFutureWatcherBase::finished, this, &EditPanel::editFinished);
    connect(m_undo.watcher(), &QFutureWatcherBase::finished, this, &EditPanel::undoDone);
    connect(m_load.watcher(), &QFutureWatcherBase::finished, this, [this] {
        const auto outcome = m_load.outcome();
        if (!outcome || !outcome->value) {
            if (outcome) emit errorMessage(outcome->error);
            return;
        }
        m_caseList = std::move(*outcome->value);
        m_cases->clear();
        const int n = static_cast<int>(m_caseList.size());
        m_cases->setPlaceholderText(n == 1 ? tr("1 case loaded: choose it") : tr("%1 cases loaded: choose one").arg(n));
        for (const auto& c : m_caseList)
            m_cases->addItem(QStringLiteral("%1: %2 \u2192 %3")
                                 .arg(c.caseId)
                                 .arg(QString::fromStdString(c.rewritePrompt()), QString::fromStdString(c.targetNew)));
        m_cases->setCurrentIndex(-1);
        emit statusMessage(n == 1 ? tr("1 CounterFact case loaded") : tr("%1 CounterFact cases loaded").arg(n));
        emit casesLoaded(static_cast<int>(m_caseList.size()));
    });
    modelChanged();
}

QWidget* EditPanel::buildForm() {
    auto* form = new QWidget(this);
    auto* layout = new QVBoxLayout(form);

    auto* caseBox = new QGroupBox(tr("CounterFact case (optional)"), form);
    auto* cl = new QHBoxLayout(caseBox);
    auto* browse = new QPushButton(tr("Load\u2026"), form);
    m_cases->setPlaceholderText(tr("no file loaded"));
    m_cases->setMinimumContentsLength(18);
    m_cases->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    cl->addWidget(m_cases, 1);
    cl->addWidget(browse);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(this, tr("CounterFact file"),
                                                          resourceFile(QStringLiteral("data")), tr("JSON (*.json)"));
        if (!file.isEmpty()) loadCases(file);
    });

    auto* fact = new QGroupBox(tr("New fact"), form);
    auto* ff = new QFormLayout(fact);
    m_subject->setPlaceholderText(tr("Eiffel Tower"));
    m_prompt->setPlaceholderText(tr("The {} is located in the city of"));
    m_prompt->setToolTip(tr("The relation, with {} where the subject goes"));
    m_targetNew->setPlaceholderText(tr("Rome"));
    m_targetTrue->setPlaceholderText(tr("optional: Paris"));
    ff->addRow(tr("Subject"), m_subject);
    ff->addRow(tr("Prompt"), m_prompt);
    ff->addRow(tr("New target"), m_targetNew);
    ff->addRow(tr("True target"), m_targetTrue);

    auto* method = new QGroupBox(tr("Method"), form);
    auto* mf = new QFormLayout(method);
    m_method->addItem(tr("ROME (one layer)"));
    m_method->addItem(tr("MEMIT (several layers)"));
    m_layer->setToolTip(tr("Defaults to the layer where the last trace's MLP effect peaks"));
    m_memitLayers->setRange(1, 64);
    m_memitLayers->setValue(3);
    m_memitLayers->setToolTip(tr("MEMIT edits this many layers ending at the layer above"));
    m_statsTokens->setRange(1000, 10000000);
    m_statsTokens->setSingleStep(10000);
    m_statsTokens->setValue(100000);
    m_statsTokens->setToolTip(tr("Tokens of the corpus for the key statistics (cached beside the model)"));
    mf->addRow(tr("Method"), m_method);
    mf->addRow(tr("Layer"), m_layer);
    mf->addRow(tr("MEMIT layers"), m_memitLayers);
    m_expert->setRange(-1, 0);
    m_expert->setSpecialValueText(tr("auto"));
    m_expert->setValue(-1);
    m_expert->setToolTip(tr("In a mixture-of-experts layer, ROME edits one expert's down projection: by default "
                            "the one the subject's token is routed to with the largest weight"));
    mf->addRow(tr("Expert"), m_expert);
    mf->addRow(tr("Corpus"), m_corpus);
    mf->addRow(tr("Statistics tokens"), m_statsTokens);

    // The optimisation's hyper-parameters, folded away: the method's defaults (the
    // reference's values; ROME stops when the target is reached), and the clamp is the
    // one most worth trying (it trades the new fact's strength against its neighbours).
    auto* optimisation = new QWidget(form);
    auto* of = new QFormLayout(optimisation);
    of->setContentsMargins(0, 0, 0, 0);
    const ValueParams defaults = defaultValueParams(EditMethod::Rome);
    auto setUp = [](QDoubleSpinBox* box, double lo, double hi, double step, int decimals, double value,
                    const QString& tip) {
        box->setRange(lo, hi);
        box->setSingleStep(step);
        box->setDecimals(decimals);
        box->setValue(value);
        box->setToolTip(tip);
    };
    m_steps->setRange(1, 1000);
    m_steps->setValue(defaults.steps);
    m_steps->setToolTip(tr("Adam steps for v* (MEMIT: for each target z) at most"));
    // Index order: StopRule::Loss, StopRule::Target (settings()).
    m_stopRule->addItems({tr("the whole loss is below 0.05 (reference code)"), tr("the target is reached")});
    m_stopRule->setCurrentIndex(static_cast<int>(defaults.stopRule));
    m_stopRule->setToolTip(
        tr("When the optimisation stops before its last step: the reference code's rule, or once the new target "
           "has p \u2248 0.95 in the templated prompts and (ROME) in the prompt as the update will deliver it. "
           "ROME stops at the target by default, MEMIT on the loss."));
    setUp(m_learningRate, 0.001, 10.0, 0.05, 3, defaults.learningRate, tr("Adam's learning rate"));
    setUp(m_clamp, 0.05, 100.0, 0.25, 2, defaults.clampNormFactor,
          tr("The change of the output at the subject is at most this many times its norm: smaller keeps "
             "neighbours, larger makes the new fact stronger"));
    setUp(m_klFactor, 0.0, 10.0, 0.01, 4, defaults.klFactor,
          tr("Weight of the KL term that keeps \u201c{subject} is a\u201d unchanged"));
    setUp(m_weightDecay, 0.0, 10.0, 0.1, 3, defaults.weightDecay, tr("Weight decay on the change"));
    setUp(m_momentWeight, 0.0, 1e9, 50.0, 1, 0.0,
          tr("MEMIT's \u03bb: how strongly other keys are kept (0: 6,400 \u00d7 d_ff / 16,384)"));
    m_momentWeight->setSpecialValueText(tr("default"));
    m_memitPasses->setRange(1, 10);
    m_memitPasses->setValue(1);
    m_memitPasses->setToolTip(tr("Run MEMIT again on the edited model with fresh targets, this many times in all: "
                                 "delivers what one pass leaves short, at some cost to neighbours"));
    m_nullSpace->setToolTip(tr("Project MEMIT's change onto the null space of the statistics' keys and of every "
                               "earlier edit's keys (AlphaEdit): the model's other knowledge and its earlier edits "
                               "are kept, for edits applied one after another"));
    // Index order: method default, KeyContext::Subject, KeyContext::Prompt (settings()).
    m_keyContext->addItems({tr("method default"), tr("subject's contexts (paper)"), tr("whole prompt (reference code)")});
    m_keyContext->setToolTip(
        tr("Where k* is read: after each prefix, the subject alone (the paper's eq. 3; ROME's default) or the "
           "whole prompt (the reference code's; MEMIT's default). With the relation's words before the subject, "
           "the prompt's key carries them and the edit reaches other subjects in the same prompt."));
    of->addRow(tr("Steps"), m_steps);
    of->addRow(tr("Stop when"), m_stopRule);
    of->addRow(tr("Learning rate"), m_learningRate);
    of->addRow(tr("Clamp"), m_clamp);
    of->addRow(tr("KL factor"), m_klFactor);
    of->addRow(tr("Weight decay"), m_weightDecay);
    of->addRow(tr("MEMIT \u03bb"), m_momentWeight);
    of->addRow(tr("MEMIT passes"), m_memitPasses);
    of->addRow(tr("MEMIT null space"), m_nullSpace);
    of->addRow(tr("Key read in"), m_keyContext);
    auto* more = new QToolButton(form);
    more->setText(tr("Optimisation settings"));
    more->setCheckable(true);
    more->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    more->setArrowType(Qt::RightArrow);
    more->setAutoRaise(true);
    optimisation->setVisible(false);
    connect(more, &QToolButton::toggled, this, [more, optimisation](bool on) {
        more->setArrowType(on ? Qt::DownArrow : Qt::RightArrow);
        optimisation->setVisible(on);
    });
    mf->addRow(more);
    mf->addRow(optimisation);
    // MEMIT's own settings only while MEMIT is chosen; the step limit, the stop rule
    // and the clamp follow the method's defaults.
    auto memitOnly = [this](int method) {
        m_memitLayers->setEnabled(method == 1);
        m_momentWeight->setEnabled(method == 1);
        m_memitPasses->setEnabled(method == 1);
        m_nullSpace->setEnabled(method == 1);
        const ValueParams d = defaultValueParams(method == 1 ? EditMethod::Memit : EditMethod::Rome);
        m_steps->setValue(d.steps);
        m_stopRule->setCurrentIndex(static_cast<int>(d.stopRule));
        m_clamp->setValue(d.clampNormFactor);
    };
    connect(m_method, &QComboBox::currentIndexChanged, this, memitOnly);
    memitOnly(m_method->currentIndex());

    auto* prompts = new QGroupBox(tr("Check on these prompts (one per line)"), form);
    auto* pf = new QFormLayout(prompts);
    m_paraphrases->setPlaceholderText(tr("Paraphrases of the fact"));
    m_neighbours->setPlaceholderText(tr("Other subjects, same relation"));
    for (auto* e : {m_paraphrases, m_neighbours}) e->setFixedHeight(80);
    pf->addRow(tr("Paraphrases"), m_paraphrases);
    pf->addRow(tr("Neighbours"), m_neighbours);

    layout->addWidget(caseBox);
    layout->addWidget(fact);
    layout->addWidget(method);
    layout->addWidget(prompts);
    layout->addStretch(1);
    return form;
}

void EditPanel::modelChanged() {
    const auto model = m_workspace->model();
    const int nLayers = model ? model->config.nLayers : 1;
    // A new model (not an edited version of the same one) gets the middle layer.
    if (m_layer->maximum() != std::max(0, nLayers - 1) || !model) {
        m_layer->setRange(0, std::max(0, nLayers - 1));
        m_layer->setValue(nLayers / 2);
        m_layerChosen = false;
    }
    m_expert->setRange(-1, model && model->config.moe() ? model->config.nExperts - 1 : -1);
    m_edits->clear();
    if (model)
        for (int i = 0; i < static_cast<int>(model->edits.size()); ++i) m_edits->addItem(describe(model->edits[i], i));
    m_undoButton->setEnabled(model && !model->edits.empty());
    // Another model (or this one after an undo): the last edit's before/after is not about it.
    if (!m_ownModelChange) clearResult();
    updatePlan();
}

void EditPanel::clearResult() {
    m_figure->clear();
    m_table->setRowCount(0);
    m_measurement.reset();
}

std::vector<int> EditPanel::plannedLayers() const {
    const auto model = m_workspace->model();
    const int nLayers = model ? model->config.nLayers : 0;
    if (m_method->currentIndex() == 1) return memitLayersExactly(m_layer->value(), m_memitLayers->value(), nLayers);
    if (m_layer->value() >= nLayers) throw InvalidInput("there is no model to edit");
    return {m_layer->value()};
}

void EditPanel::updatePlan() {
    const bool memit = m_method->currentIndex() == 1;
    m_memitLayers->setEnabled(memit);
    const auto model = m_workspace->model();
    const bool sparse = model && model->config.moeLayer(std::min(m_layer->value(), model->config.nLayers - 1));
    m_expert->setEnabled(sparse && !memit);
    try {
        const std::vector<int> layers = plannedLayers();
        QStringList names;
        for (int l : layers) names << QString::number(l);
        const QString expert = m_expert->value() < 0 ? tr("the subject's top expert")
                                                     : tr("expert %1").arg(m_expert->value());
        m_plan->setText(memit && sparse
                            ? tr("Will edit layers %1 (MEMIT), in each the expert the subject is routed to")
                                  .arg(names.join(QStringLiteral(", ")))
                        : memit  ? tr("Will edit layers %1 (MEMIT)").arg(names.join(QStringLiteral(", ")))
                        : sparse ? tr("Will edit layer %1, %2 (ROME)").arg(names.front(), expert)
                                 : tr("Will edit layer %1 (ROME)").arg(names.front()));
        m_plan->setStyleSheet({});
        m_apply->setEnabled(true);
    } catch (const std::exception& e) {
        m_plan->setText(tr("Cannot edit: %1.").arg(QString::fromUtf8(e.what())));
        m_plan->setStyleSheet(QStringLiteral("color: #b00020;"));
        m_apply->setEnabled(false);
    }
}

void EditPanel::suggestFromTrace(const QString& prompt, const QString& subject, int layer) {
    if (!m_layerChosen) m_layer->setValue(layer);
    if (!m_subject->text().isEmpty() || !m_prompt->text().isEmpty() || !prompt.contains(subject) ||
        subject.trimmed().isEmpty())
        return;
    QString templ = prompt;
    templ.replace(templ.indexOf(subject), subject.size(), QStringLiteral("{}"));
    // A subject that is the whole prompt leaves no relation to edit: not a suggestion.
    if (QString(templ).remove(QStringLiteral("{}")).trimmed().isEmpty()) return;
    m_subject->setText(subject);
    m_prompt->setText(templ);
}

void EditPanel::loadCases(const QString& file) {
    m_load.start([path = file.toStdString()](const ProgressFn&) { return loadCounterFact(path); });
    emit jobStarted(tr("Loading CounterFact cases"), m_load.watcher());
}

void EditPanel::useCase(int index) {
    if (index < 0 || index >= static_cast<int>(m_caseList.size())) return;
    const CounterFactCase& c = m_caseList[index];
    m_subject->setText(QString::fromStdString(c.subject));
    m_prompt->setText(QString::fromStdString(c.prompt));
    m_targetNew->setText(QString::fromStdString(c.targetNew));
    m_targetTrue->setText(QString::fromStdString(c.targetTrue));
    auto join = [](const std::vector<std::string>& v) {
        QStringList out;
        for (const auto& s : v) out << QString::fromStdString(s);
        return out.join(QLatin1Char('\n'));
    };
    m_paraphrases->setPlainText(join(c.paraphrasePrompts));
    m_neighbours->setPlainText(join(c.neighborhoodPrompts));
}

EditSettings EditPanel::settings() const {
    EditSettings s;
    s.request = {m_prompt->text().trimmed().toStdString(), m_subject->text().trimmed().toStdString(),
                 m_targetNew->text().trimmed().toStdString(), m_targetTrue->text().trimmed().toStdString()};
    s.method = m_method->currentIndex() == 1 ? EditMethod::Memit : EditMethod::Rome;
    s.layer = m_layer->value();
    s.expert = m_expert->value();
    s.memitLayers = m_memitLayers->value();
    s.corpusFile = m_corpus->text().trimmed().toStdString();
    s.statsTokens = m_statsTokens->value();
    s.value = defaultValueParams(s.method);
    s.value.steps = m_steps->value();
    s.value.stopRule = static_cast<StopRule>(m_stopRule->currentIndex());
    s.value.learningRate = m_learningRate->value();
    s.value.clampNormFactor = m_clamp->value();
    s.value.klFactor = m_klFactor->value();
    s.value.weightDecay = m_weightDecay->value();
    s.momentWeight = m_momentWeight->value();
    s.memitPasses = m_memitPasses->value();
    s.nullSpace = m_nullSpace->isChecked();
    if (m_keyContext->currentIndex() > 0)
        s.keyContext = m_keyContext->currentIndex() == 1 ? KeyContext::Subject : KeyContext::Prompt;
    s.guardFile = resourceFile(QStringLiteral("data/heldout.txt")).toStdString();
    s.paraphrases = lines(m_paraphrases);
    s.neighbours = lines(m_neighbours);
    return s;
}

void EditPanel::runAction() {
    if (!m_workspace->model()) {
        emit errorMessage(tr("Open a model first (File > Open)."));
        emit actionFinished(false);
        return;
    }
    const EditSettings s = settings();
    try {
        // Checked here too so that the answer comes at once, before any statistics.
        plannedLayers();
        validateRequest(s.request);
    } catch (const std::exception& e) {
        emit errorMessage(QString::fromUtf8(e.what()));
        emit actionFinished(false);
        return;
    }
    m_edit.start([model = m_workspace->model(), s](const ProgressFn& progress) {
        return applyEditJob(model, s, progress);
    });
    emit jobStarted(s.method == EditMethod::Rome ? tr("Editing with ROME") : tr("Editing with MEMIT"),
                    m_edit.watcher());
}

void EditPanel::editFinished() {
    const auto outcome = m_edit.outcome();
    if (!accept(outcome)) return;
    const EditOutcomeData& r = *outcome->value;
    m_ownModelChange = true;
    m_workspace->setModel(r.edited, m_workspace->modelPath(), /*edited=*/true);
    m_ownModelChange = false;
    showMeasurement(r.measurement);
    const auto& rewrite = r.measurement.prompts.front();
    const QString expert = r.experts.empty() ? QString() : tr(" (expert %1)").arg(r.experts.front());
    emit statusMessage(tr("Edited%6: p(%1) %2 \u2192 %3, ||\u0394W||/||W|| %4, output change on ordinary text %5")
                           .arg(m_targetNew->text(), probText(rewrite.newBefore), probText(rewrite.newAfter))
                           .arg(r.guard.weightChange, 0, 'g', 3)
                           .arg(r.guard.outputChange, 0, 'g', 3)
                           .arg(expert));
    // Shown in red in the status bar: the edit is kept (it can be undone).
    if (r.guard.destructive) emit errorMessage(tr("Warning: %1.").arg(QString::fromStdString(r.guard.warning)));
    emit actionFinished(true);
}

void EditPanel::showMeasurement(const EditMeasurement& m) {
    m_measurement = m;
    plots::FigureSpec figure = plots::beforeAfterFigure(m.topBefore, m.topAfter, "Before the edit", "After the edit",
                                                        m.prompts.empty() ? std::string() : m.prompts.front().prompt);
    figure.source["prompts"] = toJson(m.prompts);
    // The exported figure carries the prompts' table: it is the evidence for the bars.
    plots::TableSpec table;
    table.title = "Target probabilities and answers before and after the edit";
    const bool routing = !m.prompts.empty() && m.prompts.front().routingPlaces >= 0;
    table.header = {"prompt", "kind", "p(new) before", "p(new) after", "p(true) before", "p(true) after",
                    "answer before", "answer after"};
    if (routing) table.header.push_back("experts moved");
    for (const PromptProbs& p : m.prompts) {
        table.rows.push_back({p.prompt, p.kind, probCell(p.newBefore), probCell(p.newAfter), probCell(p.trueBefore),
                              probCell(p.trueAfter), answerText(p.answerBefore).toStdString(),
                              answerText(p.answerAfter).toStdString()});
        if (routing) table.rows.back().push_back(routingText(p).toStdString());
        std::vector<bool> bold(table.header.size(), false);
        bold[7] = p.answerAfter.id != p.answerBefore.id;
        table.bold.push_back(bold);
    }
    figure.table = std::move(table);
    showFigure(m_figure, std::move(figure), QStringLiteral("edit"));
    m_table->setColumnHidden(8, !routing);
    m_table->setRowCount(static_cast<int>(m.prompts.size()));
    for (int i = 0; i < static_cast<int>(m.prompts.size()); ++i) {
        const PromptProbs& p = m.prompts[i];
        const QString cells[] = {QString::fromStdString(p.prompt), QString::fromStdString(p.kind),
                                 probText(p.newBefore), probText(p.newAfter), probText(p.trueBefore),
                                 probText(p.trueAfter), answerText(p.answerBefore), answerText(p.answerAfter),
                                 routingText(p)};
        for (int c = 0; c < 9; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            if (c == 0) item->setToolTip(cells[c]);  // the prompt, elided in a narrow window
            if (c >= 2) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            if (c == 7 && p.answerAfter.id != p.answerBefore.id) {
                QFont bold = item->font();
                bold.setBold(true);
                item->setFont(bold);
            }
            m_table->setItem(i, c, item);
        }
    }
}

void EditPanel::undo() {
    const auto model = m_workspace->model();
    if (!model || model->edits.empty()) {
        emit errorMessage(tr("There is no edit to undo."));
        emit undoFinished(false);
        return;
    }
    m_undo.start([model](const ProgressFn&) { return undoEditJob(model); });
    emit jobStarted(tr("Undoing the last edit"), m_undo.watcher());
}

void EditPanel::undoDone() {
    const auto outcome = m_undo.outcome();
    if (!outcome || !outcome->value) {
        if (outcome) emit errorMessage(outcome->error);
        emit undoFinished(false);
        return;
    }
    m_workspace->setModel(*outcome->value, m_workspace->modelPath(), /*edited=*/true);
    emit statusMessage(tr("Last edit undone"));
    emit undoFinished(true);
}

}  // namespace mwb::gui
