// Super-weight detection and ablation tab.
#include "app/gui/panels/super_weights_panel.h"

#include <algorithm>
#include <cmath>

#include <QCheckBox>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include "metrics/perplexity.h"
#include "analysis/superweights/published_super_weights.h"
#include "analysis/superweights/stop_words.h"
#include "analysis/superweights/superweight_experiments.h"
#include "app/gui/panels/ablation_view.h"
#include "app/gui/resources.h"
#include "app/gui/widgets/figure_view.h"
#include "app/plots/superweight_figure.h"
#include "data/datasets.h"

namespace mwb::gui {
namespace {

enum Column { kUse, kLayer, kRow, kCol, kWeight, kInput, kOutput, kPos, kStatus, kColumns };
constexpr int kScaleSteps = 4;           // slider ticks per unit of the factor

// A row or column of the table: a channel, or "*" for all of them.
QString channelText(int channel) { return channel == WeightChange::kAll ? QStringLiteral("*") : QString::number(channel); }
int channelOf(const QString& text) { return text == QStringLiteral("*") ? WeightChange::kAll : text.toInt(); }


}  // namespace

SuperWeightsPanel::SuperWeightsPanel(Workspace* workspace, QWidget* parent)
    : ToolPanel(workspace, parent),
      m_detectButton(new QPushButton(tr("Detect super weights"), this)),
      m_table(new QTableWidget(0, kColumns, this)),
      m_addEdit(new QLineEdit(this)),
      m_scale(new QSlider(Qt::Horizontal, this)),
      m_scaleLabel(new QLabel(this)),
      m_compareButton(new QPushButton(tr("Compare with the original"), this)),
      m_sweepButton(new QPushButton(tr("Sweep scale \u00d70\u20133"), this)),
      m_spikes(new FigureView(tr("Detect super weights to see the per-layer activations."), this)),
      m_view(new AblationView(this)),
      m_detect(this),
      m_compare(this),
      m_sweep(this),
      m_activations(this) {
    m_table->setHorizontalHeaderLabels({tr("Change"), tr("Layer"), tr("Row"), tr("Col"), tr("Weight"),
                                        tr("Input act."), tr("Output act."), tr("Pos"), tr("Found")});
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->setVisible(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setToolTip(tr("Rows are output channels (d_model), columns input channels (d_ff) of mlp/down"));
    m_addEdit->setPlaceholderText(tr("layer:row:col, or layer:row:* / layer:*:col"));
    auto* add = new QPushButton(tr("Add"), this);
    auto* addSpike = new QPushButton(tr("Add strongest spike"), this);
    addSpike->setToolTip(tr("The weight joining the largest mlp/down input and output of the layer with the "
                            "strongest output spike"));
    m_scale->setRange(0, 3 * kScaleSteps);
    m_scale->setTickPosition(QSlider::TicksBelow);
    m_scale->setTickInterval(kScaleSteps);
    m_scale->setValue(0);

    auto* weights = new QGroupBox(tr("Weights"), this);
    auto* wl = new QVBoxLayout(weights);
    wl->addWidget(m_detectButton);
    wl->addWidget(m_table, 1);
    auto* addRow = new QHBoxLayout;
    addRow->addWidget(m_addEdit, 1);
    addRow->addWidget(add);
    addRow->addWidget(addSpike);
    wl->addLayout(addRow);
    auto* scaleRow = new QHBoxLayout;
    scaleRow->addWidget(new QLabel(tr("Scale checked weights"), this));
    scaleRow->addWidget(m_scale, 1);
    scaleRow->addWidget(m_scaleLabel);
    wl->addLayout(scaleRow);
    auto* actions = new QHBoxLayout;
    actions->addWidget(m_compareButton, 1);
    actions->addWidget(m_sweepButton);
    m_sweepButton->setToolTip(tr("Perplexity, KL and stop-word mass with the checked weights scaled by 0, 0.25, "
                                 "..., 3 (Yu et al. 2024, Figure 6)"));
    wl->addLayout(actions);

    // The weights and their per-layer plot on the left, the comparison on the right: each
    // column has room for its figures down to a 1024 x 700 window.
    auto* left = new QSplitter(Qt::Vertical, this);
    left->addWidget(weights);
    left->addWidget(m_spikes);
    left->setSizes({450, 450});
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(m_view);
    split->setStretchFactor(1, 1);
    split->setSizes({520, 880});
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    connect(m_detectButton, &QPushButton::clicked, this, &SuperWeightsPanel::runAction);
    connect(m_compareButton, &QPushButton::clicked, this, &SuperWeightsPanel::compare);
    connect(m_sweepButton, &QPushButton::clicked, this, &SuperWeightsPanel::sweep);
    connect(m_sweep.watcher(), &QFutureWatcherBase::finished, this, &SuperWeightsPanel::sweepDone);
    connect(add, &QPushButton::clicked, this, [this] { addWeight(m_addEdit->text()); });
    connect(addSpike, &QPushButton::clicked, this, &SuperWeightsPanel::addStrongestSpike);
    connect(m_addEdit, &QLineEdit::returnPressed, this, [this] { addWeight(m_addEdit->text()); });
    connect(m_scale, &QSlider::valueChanged, this, &SuperWeightsPanel::updateScaleLabel);
    connect(workspace, &Workspace::modelChanged, this, &SuperWeightsPanel::modelChanged);
    connect(m_detect.watcher(), &QFutureWatcherBase::finished, this, &SuperWeightsPanel::detectFinished);
    connect(m_compare.watcher(), &QFutureWatcherBase::finished, this, &SuperWeightsPanel::compareDone);
    connect(m_activations.watcher(), &QFutureWatcherBase::finished, this, &SuperWeightsPanel::activationsDone);
    updateScaleLabel();
}

void SuperWeightsPanel::modelChanged() {
    m_table->setRowCount(0);
    m_spikes->clear();
    m_view->clear();
    m_ablation.reset();
    m_detection.reset();
}

void SuperWeightsPanel::updateScaleLabel() {
    const double f = static_cast<double>(m_scale->value()) / kScaleSteps;
    m_scaleLabel->setText(f == 0.0 ? tr("\u00d7 0 (zero)") : tr("\u00d7 %1").arg(f, 0, 'f', 2));
}

void SuperWeightsPanel::setScale(double factor) { m_scale->setValue(static_cast<int>(std::lround(factor * kScaleSteps))); }

void SuperWeightsPanel::runAction() {
    if (!requireModelAndPrompt()) return;
    const auto model = m_workspace->model();
    const std::string prompt = m_workspace->prompt().toStdString();
    m_detect.start([model, prompt](const ProgressFn& progress) {
        return detectSuperWeights(*model, model->tokenizer.encodeIds(prompt), {}, progress);
    });
    emit jobStarted(tr("Detecting super weights"), m_detect.watcher());
}

void SuperWeightsPanel::detectFinished() {
    const auto outcome = m_detect.outcome();
    if (!accept(outcome)) return;
    m_detection = std::move(*outcome->value);
    const SuperWeightResult& r = *m_detection;
    m_table->setRowCount(0);
    auto damage = [](const SuperWeight& s) {
        return tr("KL %1 zeroed vs %2 for the %3 largest others")
            .arg(s.damage, 0, 'g', 3)
            .arg(s.controlDamage, 0, 'g', 3)
            .arg(s.controlWeights);
    };
    for (const SuperWeight& s : r.superWeights) addRow(s.coord(), &s, tr("super weight: ") + damage(s));
    for (const SuperWeight& s : r.nearMisses) addRow(s.coord(), &s, tr("near miss: ") + damage(s), false);
    const auto model = m_workspace->model();
    if (const auto published = model ? publishedFor(model->config) : std::nullopt) {
        const auto found = r.coords();
        for (const WeightCoord& w : published->coords) {
            const bool detected = std::find(found.begin(), found.end(), w) != found.end();
            if (!detected)
                addRow(w, nullptr, tr("published for %1, not detected").arg(QString::fromStdString(published->model)),
                       false);
        }
    }
    showFigure(m_spikes, plots::spikesFigure(r), QStringLiteral("super-weights"));
    emit statusMessage(r.superWeights.empty()
                           ? tr("No super weight confirmed on this prompt (%n near miss(es)); type one in to ablate it anyway",
                                nullptr, static_cast<int>(r.nearMisses.size()))
                           : tr("%n super weight(s) found", nullptr, static_cast<int>(r.superWeights.size())));
    emit actionFinished(true);
}

void SuperWeightsPanel::addRow(const WeightCoord& w, const SuperWeight* found, const QString& status, bool checked) {
    const int row = m_table->rowCount();
    m_table->insertRow(row);
    auto* use = new QTableWidgetItem;
    use->setFlags(Qt::ItemIsUserCheckable | Qt::ItemIsEnabled);
    use->setCheckState(checked ? Qt::Checked : Qt::Unchecked);
    m_table->setItem(row, kUse, use);
    auto* statusItem = new QTableWidgetItem(status);
    statusItem->setToolTip(status);
    m_table->setItem(row, kStatus, statusItem);
    auto number = [&](int col, const QString& text) {
        auto* item = new QTableWidgetItem(text);
        item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        m_table->setItem(row, col, item);
    };
    number(kLayer, QString::number(w.layer));
    number(kRow, channelText(w.row));
    number(kCol, channelText(w.col));
    if (!found) {
        // A weight typed in or taken from a spike: its current value (mlp/down is always
        // kept in float32, weights.h); the activations come from measureAddedRows.
        const auto model = m_workspace->model();
        if (model && w.row != WeightChange::kAll && w.col != WeightChange::kAll)
            number(kWeight, QString::number(model->weights.blocks[w.layer].down.weight(w.row, w.col), 'g', 4));
        else
            number(kWeight, w.row == WeightChange::kAll ? tr("column") : tr("row"));
        measureAddedRows();
        return;
    }
    number(kWeight, QString::number(found->weight, 'g', 4));
    number(kInput, QString::number(found->inputActivation, 'g', 4));
    number(kOutput, QString::number(found->outputActivation, 'g', 4));
    number(kPos, QString::number(found->pos));
}

bool SuperWeightsPanel::addStrongestSpike() {
    if (!m_detection || m_detection->layers.empty()) {
        emit errorMessage(tr("Detect first: the spikes come from the detection pass."));
        return false;
    }
    const auto& layers = m_detection->layers;
    const auto best = std::max_element(layers.begin(), layers.end(), [](const LayerSpikes& a, const LayerSpikes& b) {
        return std::fabs(a.outputMax) < std::fabs(b.outputMax);
    });
    addRow({best->layer, best->outputChannel, best->inputChannel}, nullptr);
    return true;
}

void SuperWeightsPanel::measureAddedRows() {
    const auto model = m_workspace->model();
    const QString prompt = m_workspace->prompt();
    if (!model || prompt.trimmed().isEmpty()) return;
    std::vector<WeightCoord> coords;
    for (int r = 0; r < m_table->rowCount(); ++r)
        if (!m_table->item(r, kPos))
            coords.push_back({m_table->item(r, kLayer)->text().toInt(), channelOf(m_table->item(r, kRow)->text()),
                              channelOf(m_table->item(r, kCol)->text())});
    if (coords.empty()) return;
    m_activations.start([model, prompt = prompt.toStdString(), coords](const ProgressFn&) {
        return weightActivations(*model, model->tokenizer.encodeIds(prompt), coords);
    });
}

void SuperWeightsPanel::activationsDone() {
    const auto outcome = m_activations.outcome();
    if (!outcome) return;
    if (!outcome->value) {
        emit errorMessage(outcome->error);
        return;
    }
    auto text = [](float v) { return std::isnan(v) ? QStringLiteral("\u2013") : QString::number(v, 'g', 4); };
    for (const WeightActivation& a : *outcome->value)
        for (int r = 0; r < m_table->rowCount(); ++r) {
            if (m_table->item(r, kPos) || m_table->item(r, kLayer)->text() != QString::number(a.coord.layer) ||
                m_table->item(r, kRow)->text() != channelText(a.coord.row) ||
                m_table->item(r, kCol)->text() != channelText(a.coord.col))
                continue;
            for (const auto& [col, value] : {std::pair{int(kInput), text(a.input)}, std::pair{int(kOutput), text(a.output)},
                                             std::pair{int(kPos), QString::number(a.pos)}}) {
                auto* item = new QTableWidgetItem(value);
                item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
                m_table->setItem(r, col, item);
            }
        }
    emit activationsShown();
}

bool SuperWeightsPanel::addWeight(const QString& text) {
    try {
        const WeightChange c = parseWeightChange(text.trimmed().toStdString());
        if (c.row == WeightChange::kAll && c.col == WeightChange::kAll)
            throw InvalidInput("give one weight, row or column: layer:row:col, layer:row:* or layer:*:col");
        if (auto model = m_workspace->model()) validateChange(model->config, c);
        addRow({c.layer, c.row, c.col}, nullptr);
        m_addEdit->clear();
        emit statusMessage(tr("Added %1").arg(QString::fromStdString(toString(WeightChange{c.layer, c.row, c.col, 0.0f}))));
        return true;
    } catch (const std::exception& e) {
        emit errorMessage(QString::fromUtf8(e.what()));
        return false;
    }
}

std::vector<WeightChange> SuperWeightsPanel::selectedChanges() const {
    std::vector<WeightChange> changes;
    const float factor = static_cast<float>(m_scale->value()) / kScaleSteps;
    for (int r = 0; r < m_table->rowCount(); ++r)
        if (m_table->item(r, kUse)->checkState() == Qt::Checked)
            changes.push_back({m_table->item(r, kLayer)->text().toInt(), channelOf(m_table->item(r, kRow)->text()),
                               channelOf(m_table->item(r, kCol)->text()), factor});
    return changes;
}

void SuperWeightsPanel::compare() {
    const std::vector<WeightChange> changes = selectedChanges();
    if (!m_workspace->model() || m_workspace->prompt().trimmed().isEmpty() || changes.empty()) {
        emit errorMessage(changes.empty() ? tr("Check at least one weight to change.")
                                          : tr("Open a model and type a prompt first."));
        emit compareFinished(false);
        return;
    }
    const auto model = m_workspace->model();
    const std::string prompt = m_workspace->prompt().toStdString();
    const std::string heldout = resourceFile(QStringLiteral("data/heldout.txt")).toStdString();
    m_compare.start([model, prompt, heldout, changes](const ProgressFn& progress) {
        // The changed weights are overrides: the shared model is only read.
        return runAblation(*model, changes, comparisonInputs(*model, prompt, heldout), false, "gui", progress);
    });
    emit jobStarted(tr("Comparing with the original"), m_compare.watcher());
}

void SuperWeightsPanel::sweep() {
    std::vector<WeightCoord> coords;
    for (const WeightChange& c : selectedChanges())
        if (c.isSingleWeight()) coords.push_back({c.layer, c.row, c.col});
    if (!m_workspace->model() || m_workspace->prompt().trimmed().isEmpty() || coords.empty()) {
        emit errorMessage(coords.empty() ? tr("Check at least one single weight (layer:row:col) to sweep.")
                                         : tr("Open a model and type a prompt first."));
        emit sweepFinished(false);
        return;
    }
    const auto model = m_workspace->model();
    const std::string prompt = m_workspace->prompt().toStdString();
    const std::string heldout = resourceFile(QStringLiteral("data/heldout.txt")).toStdString();
    m_sweep.start([model, prompt, heldout, coords](const ProgressFn& progress) {
        return runScaleSweep(*model, coords, scaleFactorRange(0.0, 3.0, 1.0 / kScaleSteps),
                             comparisonInputs(*model, prompt, heldout), progress);
    });
    emit jobStarted(tr("Sweeping the scale"), m_sweep.watcher());
}

void SuperWeightsPanel::sweepDone() {
    const auto outcome = m_sweep.outcome();
    if (!outcome || !outcome->value) {
        if (outcome) emit errorMessage(outcome->error);
        emit sweepFinished(false);
        return;
    }
    showFigure(m_spikes, plots::scaleSweepFigure(*outcome->value, m_workspace->modelLabel().toStdString()),
               QStringLiteral("scale-sweep"));
    emit statusMessage(tr("Swept %n weight(s) from \u00d70 to \u00d73", nullptr,
                          static_cast<int>(outcome->value->weights.size())));
    emit sweepFinished(true);
}

void SuperWeightsPanel::compareDone() {
    const auto outcome = m_compare.outcome();
    if (!outcome || !outcome->value) {
        if (outcome) emit errorMessage(outcome->error);
        emit compareFinished(false);
        return;
    }
    m_ablation = std::move(*outcome->value);
    m_view->show(*m_ablation, m_workspace->modelLabel());
    m_view->figure()->setExportName(m_workspace->fileStem(QStringLiteral("ablation")));
    emit statusMessage(tr("Compared: KL %1 nats").arg(m_ablation->meanKl, 0, 'g', 3));
    emit compareFinished(true);
}

}  // namespace mwb::gui
