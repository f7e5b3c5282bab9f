// Before/after view of an ablation.
#include "app/gui/panels/ablation_view.h"

#include <QGridLayout>
#include <QLabel>
#include <QPlainTextEdit>

#include "analysis/superweights/stop_words.h"
#include "app/gui/widgets/figure_view.h"
#include "data/datasets.h"
#include "metrics/perplexity.h"
#include "app/plots/prediction_figure.h"

namespace mwb::gui {
namespace {

constexpr long kPerplexityTokens = 4000;  // held-out tokens for the perplexity comparison
constexpr int kGenerateTokens = 16;

QString percent(double p) { return QString::number(100.0 * p, 'f', 2) + QStringLiteral(" %"); }

}  // namespace

AblationInputs comparisonInputs(const Model& model, const std::string& prompt, const std::string& heldout) {
    AblationInputs in;
    in.prompts = {model.tokenizer.encodeIds(prompt)};
    if (!heldout.empty()) in.corpus = corpusChunks(model, readTextFile(heldout), kPerplexityTokens);
    in.stopWords = bundledStopWordMask(model.tokenizer);
    in.generateTokens = kGenerateTokens;
    return in;
}

AblationView::AblationView(QWidget* parent, const QString& placeholder)
    : QWidget(parent),
      m_figure(new FigureView(placeholder.isEmpty() ? tr("Check weights to change and compare the model before and after.")
                                                    : placeholder,
                              this)),
      m_metrics(new QLabel(this)),
      m_before(new QPlainTextEdit(this)),
      m_after(new QPlainTextEdit(this)) {
    m_metrics->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_metrics->setWordWrap(true);
    for (auto* text : {m_before, m_after}) {
        text->setReadOnly(true);
        text->setMaximumHeight(54);
    }
    m_before->setPlaceholderText(tr("Greedy continuation of the original model"));
    m_after->setPlaceholderText(tr("Greedy continuation with the changes"));
    auto* layout = new QGridLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_figure, 0, 0, 1, 2);
    layout->addWidget(m_metrics, 1, 0, 1, 2);
    layout->addWidget(new QLabel(tr("Original"), this), 2, 0);
    layout->addWidget(new QLabel(tr("Changed"), this), 2, 1);
    layout->addWidget(m_before, 3, 0);
    layout->addWidget(m_after, 3, 1);
    layout->setRowStretch(0, 1);
}

void AblationView::show(const AblationResult& r, const QString& model) {
    if (r.prompts.empty()) return clear();
    const PromptComparison& p = r.prompts.front();
    plots::FigureSpec fig = plots::beforeAfterFigure(p.topOriginal, p.topAblated, "Original model",
                                                     "With the changes", "Model: " + model.toStdString());
    fig.source = toJson(r);
    fig.source["model"] = model.toStdString();
    m_figure->setFigure(std::move(fig));
    QString text = tr("<b>KL(original \u2016 changed)</b> %1 nats &nbsp; <b>top-%2 overlap</b> %3 &nbsp; "
                      "<b>stop-word mass</b> %4 \u2192 %5")
                       .arg(p.kl, 0, 'g', 4)
                       .arg(p.topOriginal.size())
                       .arg(p.topOverlap)
                       .arg(percent(p.stopWordMassOriginal), percent(p.stopWordMassAblated));
    if (r.corpus)
        text += tr(" &nbsp; <b>perplexity</b> %1 \u2192 %2 (%3 tokens of held-out text)")
                    .arg(r.corpus->original.perplexity, 0, 'f', 2)
                    .arg(r.corpus->variant.perplexity, 0, 'f', 2)
                    .arg(r.corpus->variant.tokens);
    m_metrics->setText(text);
    m_before->setPlainText(QString::fromStdString(p.prompt + p.generationOriginal));
    m_after->setPlainText(QString::fromStdString(p.prompt + p.generationAblated));
}

void AblationView::clear() {
    m_figure->clear();
    m_metrics->clear();
    m_before->clear();
    m_after->clear();
}

QString AblationView::metricsText() const { return m_metrics->text(); }

}  // namespace mwb::gui
