// Next-token predictions and generation.
#include "app/gui/panels/predict_panel.h"

#include <algorithm>
#include <numeric>

#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include "app/gui/widgets/figure_view.h"
#include "model/generate.h"
#include "model/transformer.h"

namespace mwb::gui {

Prediction predictNext(const Model& model, const std::string& prompt, int k) {
    const std::vector<int> ids = model.tokenizer.encodeIds(prompt);
    if (ids.empty()) throw InvalidInput("the prompt is empty");
    const Transformer transformer(model);
    const RunState state = transformer.run(ids);
    const RowVector logits = state.lastLogits();
    const Vector p = softmax(logits);
    std::vector<int> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    k = std::clamp(k, 1, static_cast<int>(p.size()));
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int a, int b) { return p[a] != p[b] ? p[a] > p[b] : a < b; });
    Prediction out{static_cast<int>(ids.size()), {}};
    for (int i = 0; i < k; ++i)
        out.top.push_back({order[i], model.tokenizer.tokenDisplay(order[i]), p[order[i]], logits[order[i]]});
    return out;
}

PredictPanel::PredictPanel(Workspace* workspace, QWidget* parent)
    : ToolPanel(workspace, parent),
      m_topK(new QSpinBox(this)),
      m_predictButton(new QPushButton(tr("Predict next token"), this)),
      m_table(new QTableWidget(0, 4, this)),
      m_figure(new FigureView(tr("Predict to see the most likely next tokens."), this)),
      m_maxTokens(new QSpinBox(this)),
      m_temperature(new QDoubleSpinBox(this)),
      m_topP(new QDoubleSpinBox(this)),
      m_seed(new QSpinBox(this)),
      m_generateButton(new QPushButton(tr("Generate"), this)),
      m_output(new QPlainTextEdit(this)),
      m_predict(this),
      m_generate(this) {
    m_topK->setRange(1, 100);
    m_topK->setValue(10);
    m_table->setHorizontalHeaderLabels({tr("Token"), tr("Probability"), tr("Logit"), tr("Id")});
    m_table->verticalHeader()->setVisible(true);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_table->setWordWrap(false);
    m_table->setTextElideMode(Qt::ElideMiddle);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setMinimumWidth(400);

    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    auto* topRow = new QHBoxLayout;
    topRow->addWidget(new QLabel(tr("Show top"), this));
    topRow->addWidget(m_topK);
    topRow->addStretch(1);
    topRow->addWidget(m_predictButton);
    leftLayout->addLayout(topRow);
    leftLayout->addWidget(m_table, 1);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(m_figure);
    split->setStretchFactor(1, 1);
    split->setSizes({420, 900});

    m_maxTokens->setRange(1, 4096);
    m_maxTokens->setValue(24);
    m_temperature->setRange(0.0, 5.0);
    m_temperature->setSingleStep(0.1);
    m_temperature->setSpecialValueText(tr("0 (greedy)"));
    m_topP->setRange(0.01, 1.0);
    m_topP->setSingleStep(0.05);
    m_topP->setValue(1.0);
    m_seed->setRange(0, 1000000);
    m_seed->setValue(1);
    auto* gen = new QGroupBox(tr("Generate a continuation"), this);
    auto* genLayout = new QHBoxLayout(gen);
    auto* form = new QFormLayout;
    form->addRow(tr("New tokens"), m_maxTokens);
    form->addRow(tr("Temperature"), m_temperature);
    form->addRow(tr("Top-p"), m_topP);
    form->addRow(tr("Seed"), m_seed);
    form->addRow(m_generateButton);
    genLayout->addLayout(form);
    genLayout->addWidget(m_output, 1);
    m_output->setReadOnly(true);
    m_output->setPlaceholderText(tr("The prompt and the model's continuation appear here."));

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split, 3);
    layout->addWidget(gen, 1);

    connect(m_predictButton, &QPushButton::clicked, this, &PredictPanel::runAction);
    connect(m_generateButton, &QPushButton::clicked, this, &PredictPanel::generate);
    connect(m_predict.watcher(), &QFutureWatcherBase::finished, this, &PredictPanel::predictionFinished);
    connect(m_generate.watcher(), &QFutureWatcherBase::finished, this, &PredictPanel::generationDone);
    // Another model, or this one edited: the shown prediction is no longer this model's.
    connect(workspace, &Workspace::modelChanged, this, [this] {
        m_last = {};
        m_table->setRowCount(0);
        m_figure->clear();
        m_output->clear();
    });
}

void PredictPanel::runAction() {
    if (!requireModelAndPrompt()) return;
    const auto model = m_workspace->model();
    const std::string prompt = m_workspace->prompt().toStdString();
    const int k = m_topK->value();
    m_predict.start([model, prompt, k](const ProgressFn&) { return predictNext(*model, prompt, k); });
    emit jobStarted(tr("Predicting"), m_predict.watcher());
}

void PredictPanel::predictionFinished() {
    const auto outcome = m_predict.outcome();
    if (!accept(outcome)) return;
    m_last = *outcome->value;
    m_table->setRowCount(static_cast<int>(m_last.top.size()));
    for (int i = 0; i < static_cast<int>(m_last.top.size()); ++i) {
        const auto& t = m_last.top[i];
        auto set = [&](int col, const QString& text) {
            auto* item = new QTableWidgetItem(text);
            if (col > 0) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            m_table->setItem(i, col, item);
        };
        set(0, QString::fromStdString(plots::quotedToken(t.token)));
        set(1, QString::number(100.0 * t.prob, 'f', 2) + QStringLiteral(" %"));
        set(2, QString::number(t.logit, 'f', 3));
        set(3, QString::number(t.id));
    }
    showFigure(m_figure,
               plots::topTokensFigure(m_last.top,
                                      tr("Next token after %n prompt token(s)", nullptr, m_last.nTokens).toStdString()),
               QStringLiteral("prediction"));
    emit statusMessage(tr("Most likely next token: %1 (%2 %)")
                           .arg(QString::fromStdString(plots::quotedToken(m_last.top.front().token)))
                           .arg(100.0 * m_last.top.front().prob, 0, 'f', 1));
    emit actionFinished(true);
}

void PredictPanel::generate() {
    if (!m_workspace->model() || m_workspace->prompt().trimmed().isEmpty()) {
        emit errorMessage(tr("Open a model and type a prompt first."));
        emit generationFinished(false);
        return;
    }
    const auto model = m_workspace->model();
    const std::string prompt = m_workspace->prompt().toStdString();
    GenerateOptions options;
    options.maxNewTokens = m_maxTokens->value();
    options.sampling.temperature = static_cast<float>(m_temperature->value());
    options.sampling.topP = static_cast<float>(m_topP->value());
    options.sampling.seed = static_cast<uint64_t>(m_seed->value());
    m_generate.start([model, prompt, options](const ProgressFn& progress) {
        const Transformer transformer(*model, nullptr, WeightPacking::Once);
        const Generation g = mwb::generate(transformer, model->tokenizer.encodeIds(prompt), options, progress);
        return Continuation{prompt, generatedText(model->tokenizer, g), static_cast<int>(g.newIds.size()),
                            g.stoppedAtEos, g.stoppedAtContext};
    });
    emit jobStarted(tr("Generating"), m_generate.watcher());
}

void PredictPanel::generationDone() {
    const auto outcome = m_generate.outcome();
    if (!outcome || !outcome->value) {
        if (outcome) emit errorMessage(outcome->error);
        emit generationFinished(false);
        return;
    }
    const Continuation& c = *outcome->value;
    m_output->clear();
    m_output->appendHtml(QStringLiteral("<div style='white-space: pre-wrap'><b>%1</b>%2</div>"
                                        "<div style='color: gray'>(%3)</div>")
                             .arg(QString::fromStdString(c.prompt).toHtmlEscaped(),
                                  QString::fromStdString(c.text).toHtmlEscaped(),
                                  tr("model: %1").arg(m_workspace->modelLabel()).toHtmlEscaped()));
    QString note = tr("%n new token(s)", nullptr, c.newTokens);
    if (c.stoppedAtEos) note += tr(", stopped at end of text");
    if (c.stoppedAtContext) note += tr(", context full");
    emit statusMessage(note);
    emit generationFinished(true);
}

}  // namespace mwb::gui
