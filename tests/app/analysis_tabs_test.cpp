// The Attention, Lens and Super weights tabs on the offscreen platform: the figures
// hold the library's numbers, and zeroing a planted super weight changes the
// prediction.
#include <QtTest>

#include <Eigen/Cholesky>

#include <QElapsedTimer>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QTableWidget>
#include <QRadioButton>
#include <QSpinBox>
#include <qcustomplot.h>

#include "tests/analysis/planted_model.h"
#include "app/gui/main_window.h"
#include "app/gui/panels/ablation_view.h"
#include "app/gui/panels/attention_panel.h"
#include "app/gui/panels/experts_panel.h"
#include "app/gui/panels/integrity_panel.h"
#include "app/gui/panels/lens_panel.h"
#include "app/gui/panels/super_weights_panel.h"
#include "app/gui/widgets/attention_text_view.h"
#include "app/gui/widgets/figure_view.h"
#include "app/gui/workspace.h"
#include "data/datasets.h"
#include "editing/rome.h"
#include "editing/second_moments.h"
#include "io/hdf5_model_file.h"
#include "model/transformer.h"
#include "tests/app/app_test_util.h"
#include "tests/support/test_models.h"

using namespace mwb;
using namespace mwb::gui;

namespace {
bool waitFor(QSignalSpy& spy, int timeoutMs = 120000) { return !spy.isEmpty() || spy.wait(timeoutMs); }
}  // namespace

class AnalysisTabsTest : public QObject {
    Q_OBJECT
private slots:
    void init() {
        m_window = std::make_unique<MainWindow>();
        m_window->show();
    }
    void cleanup() { m_window.reset(); }

    void attentionShowsEveryHeadThenOne() {
        auto model = test::randomGpt2(3);
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(QStringLiteral("The quick brown fox"));
        auto* panel = m_window->panel<AttentionPanel>();
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->layerBox()->setValue(1);
        panel->runAction();
        QVERIFY(waitFor(done));
        QVERIFY(done.front().front().toBool());
        const AttentionMaps expected = attentionMaps(*model, model->tokenizer.encodeIds("The quick brown fox"));
        const auto& drawn = panel->figure()->rendered();
        QCOMPARE(static_cast<int>(drawn.maps.size()), model->config.nHeads);
        for (int h = 0; h < model->config.nHeads; ++h) {
            const Matrix& w = expected.weights[1][h];
            for (int q = 0; q < w.rows(); ++q)
                for (int k = 0; k < w.cols(); ++k) QCOMPARE(drawn.maps[h]->data()->cell(k, q), double(w(q, k)));
        }
        panel->headBox()->setValue(2);  // switches to one head, no recomputation
        QVERIFY(!panel->allHeadsMode()->isChecked());
        QCOMPARE(panel->figure()->rendered().maps.size(), size_t(1));
        QCOMPARE(panel->figure()->rendered().maps[0]->data()->cell(0, 3), double(expected.weights[1][2](3, 0)));
    }

    void lensGridHoldsTopProbabilities() {
        auto model = test::randomGpt2(3);
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(QStringLiteral("The Eiffel Tower is in"));
        auto* panel = m_window->panel<LensPanel>();
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        QVERIFY(done.front().front().toBool());
        const auto ids = model->tokenizer.encodeIds("The Eiffel Tower is in");
        const LogitLensResult expected = logitLens(*model, ids, 5);
        const auto& h = std::get<plots::HeatmapSpec>(panel->figure()->figure().panels[0]);
        const int nLayers = model->config.nLayers;
        QCOMPARE(h.rows, nLayers);
        for (int layer = 0; layer < nLayers; ++layer)
            for (int pos = 0; pos < static_cast<int>(ids.size()); ++pos)
                QCOMPARE(h.at(nLayers - 1 - layer, pos), expected.top[layer][pos].front().prob);
    }

    void zeroingASuperWeightChangesThePrediction() {
        auto model = std::make_shared<const Model>(planted::plantedTinyGpt2());
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(QStringLiteral("the cat sat"));
        auto* panel = m_window->panel<SuperWeightsPanel>();
        QSignalSpy detected(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(detected));
        QVERIFY(detected.front().front().toBool());
        QVERIFY(panel->table()->rowCount() >= 1);
        QCOMPARE(panel->table()->item(0, 1)->text().toInt(), planted::kPlantedLayer);
        QCOMPARE(panel->table()->item(0, 2)->text().toInt(), planted::kPlantedRow);
        QCOMPARE(panel->table()->item(0, 3)->text().toInt(), planted::kPlantedCol);
        QVERIFY(panel->table()->item(0, 8)->text().startsWith(QStringLiteral("super weight: KL")));
        QCOMPARE(panel->table()->item(0, 0)->checkState(), Qt::Checked);
        QVERIFY(panel->spikes()->hasFigure());

        panel->setScale(0.0);
        QSignalSpy compared(panel, &SuperWeightsPanel::compareFinished);
        panel->compare();
        QVERIFY(waitFor(compared));
        QVERIFY(compared.front().front().toBool());
        const AblationResult& r = *panel->lastAblation();
        QCOMPARE(r.changes.size(), size_t(1));
        QCOMPARE(r.changes[0].factor, 0.0f);
        const PromptComparison& p = r.prompts.front();
        QVERIFY(p.kl > 1e-3);
        QVERIFY(p.topOriginal.front().prob != p.topAblated.front().prob);
        QVERIFY(panel->comparison()->figure()->hasFigure());
        // The shared model is untouched: the planted weight is still there.
        QCOMPARE(model->weights.blocks[planted::kPlantedLayer].down.weight(planted::kPlantedRow, planted::kPlantedCol),
                 planted::kPlantedWeight);
    }

    // A ROME-shaped change planted in the demo model's layer 3 (δ (C⁻¹k)ᵀ / kᵀC⁻¹k for
    // a key of the corpus) is flagged, listed first, and reversed in a copy.
    void theIntegrityTabFlagsAndReversesAPlantedEdit() {
        const std::string resources = MWB_SOURCE_DIR "/resources/";
        Model m = loadModel(resources + "models/demo.h5");
        const std::string corpus = readTextFile(resources + "data/corpus.txt");
        SecondMomentOptions so;
        so.maxTokens = 4096;
        so.useCache = false;
        const MatrixD c = secondMoment(m, 3, corpus, so).moment;
        Hooks capture;
        capture.captures.push_back({HookSite::MlpIn, 3});
        const auto ids = m.tokenizer.encodeIds("The Eiffel Tower is located in the city of");
        const VectorD k = Transformer(m).run(ids, capture).captured.at({HookSite::MlpIn, 3}).row(4).transpose().cast<double>();
        const VectorD cinvk = c.ldlt().solve(k);
        VectorD delta = VectorD::LinSpaced(m.config.dModel, -1.0, 1.0);
        delta *= 20.0 / delta.norm();
        const Matrix before = m.weights.blocks[3].down.weight;
        applyRankOne(m, 3, delta.cast<float>(), (cinvk / k.dot(cinvk)).cast<float>());
        auto model = std::make_shared<const Model>(std::move(m));
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(QStringLiteral("The Eiffel Tower is located in the city of"));
        auto* panel = m_window->panel<IntegrityPanel>();
        QSignalSpy audited(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(audited));
        QVERIFY(audited.front().front().toBool());
        QCOMPARE(panel->table()->rowCount(), 8);
        QCOMPARE(panel->table()->item(0, 0)->text().toInt(), 3);
        QCOMPARE(panel->table()->item(0, 2)->text(), QStringLiteral("yes"));
        QVERIFY(panel->lastAudit()->edited);
        QVERIFY(panel->chart()->hasFigure());
        QVERIFY(panel->explanation().contains(QStringLiteral("targets:")));

        QSignalSpy reversed(panel, &IntegrityPanel::reverseFinished);
        panel->reverse();
        QVERIFY(waitFor(reversed));
        QVERIFY(reversed.front().front().toBool());
        QVERIFY(panel->comparison()->figure()->hasFigure());
        // The open model is untouched.
        QVERIFY(!(model->weights.blocks[3].down.weight - before).isZero());
    }

    // The Experts tab on a tiny mixture of experts whose expert 2 of layer 0 is made a
    // super expert (its down projection writes a huge value into channel 3): the routing
    // map and the load are drawn, the search names 0:2 and fills the field, and removing
    // it is compared with the open model. A dense model leaves the tab idle.
    void theExpertsTabRoutesFindsSuperExpertsAndRemovesThem() {
        auto* panel = m_window->panel<ExpertsPanel>();
        m_window->workspace()->setModel(std::make_shared<const Model>(planted::plantedTinyGpt2()), QString());
        QVERIFY(!panel->expertsField()->isEnabled());

        Model m = makeTinyModel(Architecture::Llama, 5, tinyMoeOptions(true));
        m.weights.blocks[0].moe.experts[2].down.weight.row(3).setConstant(4000.0f);
        m_window->workspace()->setModel(std::make_shared<const Model>(std::move(m)), QString());
        m_window->workspace()->setPrompt(QStringLiteral("The cat sat on a mat"));
        QVERIFY(panel->expertsField()->isEnabled());

        QSignalSpy routed(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(routed));
        QVERIFY(routed.front().front().toBool());
        QVERIFY(panel->routingMap()->hasFigure());
        QVERIFY(panel->loadChart()->hasFigure());

        QSignalSpy found(panel, &ExpertsPanel::superFinished);
        panel->findSuperExperts();
        QVERIFY(waitFor(found));
        QVERIFY(found.front().front().toBool());
        QCOMPARE(panel->expertsField()->text(), QStringLiteral("0:2"));
        QVERIFY(panel->superChart()->hasFigure());

        QSignalSpy compared(panel, &ExpertsPanel::compareFinished);
        panel->compare();
        QVERIFY(waitFor(compared));
        QVERIFY(compared.front().front().toBool());
        QVERIFY(panel->comparison()->figure()->hasFigure());

        QSignalSpy traced(panel, &ExpertsPanel::traceFinished);
        panel->subjectField()->setText(QStringLiteral("cat sat"));
        panel->traceExperts();
        QVERIFY(waitFor(traced));
        QVERIFY(traced.front().front().toBool());
        QVERIFY(panel->traceChart()->hasFigure());

        // A typo is one sentence, not a run.
        QSignalSpy errors(panel, &ToolPanel::errorMessage);
        panel->expertsField()->setText(QStringLiteral("0:9"));
        panel->compare();
        QCOMPARE(errors.size(), 1);
        QVERIFY(errors.front().front().toString().contains(QStringLiteral("outside")));
    }

    // The scale sweep of the checked weights: 13 factors from 0 to 3, KL 0 at factor 1,
    // drawn where the per-layer plot was.
    void theScaleSweepIsDrawnFromTheLibrarysNumbers() {
        auto model = std::make_shared<const Model>(planted::plantedTinyGpt2());
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(QStringLiteral("the cat sat"));
        auto* panel = m_window->panel<SuperWeightsPanel>();
        QVERIFY(panel->addWeight(QStringLiteral("0:3:5")));
        QSignalSpy swept(panel, &SuperWeightsPanel::sweepFinished);
        panel->sweep();
        QVERIFY(waitFor(swept));
        QVERIFY(swept.front().front().toBool());
        const auto& fig = panel->spikes()->figure();
        const auto& points = fig.source["points"];
        QCOMPARE(points.size(), size_t(13));
        QCOMPARE(points[4]["factor"].get<double>(), 1.0);
        QCOMPARE(points[4]["kl"].get<double>(), 0.0);
        QVERIFY(points[0]["kl"].get<double>() > 1e-3);
        const auto& kl = std::get<plots::LineSpec>(fig.panels[fig.panels.size() - 2]);
        QCOMPARE(kl.series[0].y[0], points[0]["kl"].get<double>());
    }

    void aTypedWeightIsValidated() {
        m_window->workspace()->setModel(test::randomGpt2(), QString());
        auto* panel = m_window->panel<SuperWeightsPanel>();
        QVERIFY(panel->addWeight(QStringLiteral("1:2:3")));
        QVERIFY(!panel->addWeight(QStringLiteral("9:0:0")));  // layer out of range
        QVERIFY(!panel->addWeight(QStringLiteral("nonsense")));
        QCOMPARE(panel->table()->rowCount(), 1);
        // The typed weight's current value is shown.
        const auto model = m_window->workspace()->model();
        QCOMPARE(panel->table()->item(0, 4)->text(),
                 QString::number(model->weights.blocks[1].down.weight(2, 3), 'g', 4));
        panel->setScale(2.0);
        const auto changes = panel->selectedChanges();
        QCOMPARE(changes.size(), size_t(1));
        QCOMPARE(changes[0].factor, 2.0f);
    }

    // The comparison's generations stop at end of text, as Predict's do: with the end-of-
    // text token as the model's next greedy token, both continuations are empty.
    void comparisonGenerationsStopAtEndOfText() {
        Model m = *test::randomGpt2(2);
        const std::string prompt = "the cat sat";
        Eigen::Index next = 0;
        Transformer(m).run(m.tokenizer.encodeIds(prompt)).lastLogits().maxCoeff(&next);
        TokenizerSpec spec = m.tokenizer.spec();
        spec.eosId = static_cast<int>(next);
        m.tokenizer = Tokenizer(spec);
        m_window->workspace()->setModel(std::make_shared<const Model>(std::move(m)), QString());
        m_window->workspace()->setPrompt(QString::fromStdString(prompt));
        auto* panel = m_window->panel<SuperWeightsPanel>();
        QVERIFY(panel->addWeight(QStringLiteral("1:2:3")));
        panel->setScale(1.0);  // changes nothing: both sides generate the same
        QSignalSpy compared(panel, &SuperWeightsPanel::compareFinished);
        panel->compare();
        QVERIFY(waitFor(compared));
        QVERIFY(compared.front().front().toBool());
        const auto texts = panel->comparison()->findChildren<QPlainTextEdit*>();
        QCOMPARE(texts.size(), qsizetype(2));
        for (auto* text : texts) QCOMPARE(text->toPlainText(), QString::fromStdString(prompt));
        QCOMPARE(panel->lastAblation()->prompts.front().generationOriginal, std::string());
    }

    // "4:31:*" as the CLI takes it: a whole row (or column) of mlp/down.
    void wholeRowsAndColumnsCanBeAdded() {
        m_window->workspace()->setModel(test::randomGpt2(), QString());
        auto* panel = m_window->panel<SuperWeightsPanel>();
        QVERIFY(panel->addWeight(QStringLiteral("1:3:*")));
        QVERIFY(panel->addWeight(QStringLiteral("0:*:7")));
        QVERIFY(!panel->addWeight(QStringLiteral("0:*:*")));
        const auto changes = panel->selectedChanges();
        QCOMPARE(changes.size(), size_t(2));
        QCOMPARE(changes[0].layer, 1);
        QCOMPARE(changes[0].row, 3);
        QCOMPARE(changes[0].col, int(WeightChange::kAll));
        QCOMPARE(changes[1].row, int(WeightChange::kAll));
        QCOMPARE(changes[1].col, 7);
    }

    // Added weights get the activations the detection reports for found ones.
    void addedWeightsShowTheirActivations() {
        auto model = test::randomGpt2(3);
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(QStringLiteral("the cat sat on the mat"));
        auto* panel = m_window->panel<SuperWeightsPanel>();
        QSignalSpy shown(panel, &SuperWeightsPanel::activationsShown);
        QVERIFY(panel->addWeight(QStringLiteral("2:5:17")));
        QVERIFY(waitFor(shown));
        const auto expected =
            weightActivations(*model, model->tokenizer.encodeIds("the cat sat on the mat"), {{2, 5, 17}}).front();
        QCOMPARE(panel->table()->item(0, 5)->text(), QString::number(expected.input, 'g', 4));
        QCOMPARE(panel->table()->item(0, 6)->text(), QString::number(expected.output, 'g', 4));
        QCOMPARE(panel->table()->item(0, 7)->text(), QString::number(expected.pos));
        QVERIFY(!std::isnan(expected.input) && expected.input != 0.0f);
    }

    // 64 tokens: every head's map has token labels on its outer axes and the hover names
    // the tokens, not their numbers.
    void attentionAtLengthIsLabelled() {
        auto model = test::randomGpt2(2);
        m_window->workspace()->setModel(model, QString());
        const QString prompt = longPrompt(model, 64);
        m_window->workspace()->setPrompt(prompt);
        auto* panel = m_window->panel<AttentionPanel>();
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        const auto& fig = panel->figure()->figure();
        const auto& first = std::get<plots::HeatmapSpec>(fig.panels.front());
        const auto& last = std::get<plots::HeatmapSpec>(fig.panels.back());
        const size_t n = panel->maps()->tokens.size();
        QVERIFY(n >= 60);
        QCOMPARE(first.yLabels.size(), n);
        QCOMPARE(last.xLabels.size(), n);
        QVERIFY(first.yLabelEvery <= 3);  // at most 24 labels shown, but labels
        const auto& maps = *panel->maps();
        const auto& rendered = panel->figure()->rendered();
        QCPAxisRect* rect = rendered.rects.front();
        const QPointF pixel(rect->axis(QCPAxis::atBottom)->coordToPixel(41), rect->axis(QCPAxis::atLeft)->coordToPixel(45));
        const QString hover = panel->figure()->describeAt(pixel);
        const QString key = QString::fromStdString(plots::tokenLabel(maps.tokens[41]));
        const QString query = QString::fromStdString(plots::tokenLabel(maps.tokens[45]));
        QVERIFY2(hover.startsWith(QStringLiteral("key 41 '%1', query 45 '%2'").arg(key, query)), qPrintable(hover));
        QVERIFY(hover.endsWith(QString::number(maps.weights[0][0](45, 41), 'g', 4)));
    }

    // The token view: hovering a token frames the keys it attends to most, at the
    // model's whole context and quickly.
    void theTokenViewShowsTheStrongestKeys() {
        auto model = test::randomGpt2(2);
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(longPrompt(model, 40));
        auto* panel = m_window->panel<AttentionPanel>();
        m_window->tabs()->setCurrentWidget(panel);
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        panel->textMode()->setChecked(true);
        panel->layerBox()->setValue(1);
        panel->headBox()->setValue(2);
        QVERIFY(panel->textMode()->isChecked());
        AttentionTextView* view = panel->textView();
        QCOMPARE(view->tokenCount(), int(panel->maps()->tokens.size()));
        QVERIFY(view->tokenCount() > 30);
        QTest::qWait(50);
        const QPointF at = view->tokenRect(30).center();
        QTest::mouseMove(view, at.toPoint());
        QTRY_COMPARE(view->query(), 30);
        const Matrix& w = panel->maps()->weights[1][2];
        Eigen::Index best = 0;
        w.row(30).maxCoeff(&best);
        QCOMPARE(view->strongestKeys().front(), int(best));
        QCOMPARE(view->strongestKeys().size(), size_t(AttentionTextView::kStrongest));
        for (int k : view->strongestKeys()) QVERIFY(k <= 30);
        QVERIFY(view->describe(30).contains(QStringLiteral("query 30 '")));
        QVERIFY(view->describe(30).contains(QString::fromStdString(panel->maps()->tokens[best])));

        // A whole context of 2048 tokens: laid out, painted and hovered in well under a second.
        QStringList tokens;
        for (int i = 0; i < 2048; ++i) tokens << QStringLiteral(" tok%1").arg(i);
        Matrix big = Matrix::Random(2048, 2048).cwiseAbs();
        AttentionTextView wide;
        wide.resize(900, 600);
        QElapsedTimer clock;
        clock.start();
        wide.setAttention(tokens, big, QStringLiteral("synthetic"));
        wide.grab();
        for (int q = 0; q < 200; ++q) wide.setQuery(q * 10);
        wide.grab();
        qInfo("2048 tokens: %lld ms", clock.elapsed());
        QVERIFY2(clock.elapsed() < 1500, qPrintable(QString::number(clock.elapsed())));
        QCOMPARE(wide.tokenAt(wide.tokenRect(1500).center()), 1500);
        QVERIFY(wide.heightForWidth(900) > 600);  // it scrolls instead of shrinking the text
    }

    // Long lens tokens are not cut, and the hover says "layer 5", not "layer '5'".
    void theLensKeepsWholeWordsAndPlainLayers() {
        auto model = test::randomGpt2(3);
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(longPrompt(model, 48));
        auto* panel = m_window->panel<LensPanel>();
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        const auto& h = std::get<plots::HeatmapSpec>(panel->figure()->figure().panels[0]);
        const LogitLensResult& r = *panel->result();
        for (int row = 0; row < h.rows; ++row)
            for (int pos = 0; pos < h.cols; ++pos) {
                const std::string token = plots::tokenLabel(r.top[h.rows - 1 - row][pos].front().token);
                if (QString::fromStdString(token).size() <= 14)
                    QCOMPARE(h.cellText[static_cast<size_t>(row) * h.cols + pos], token);
            }
        QCPAxisRect* rect = panel->figure()->rendered().rects.front();
        const QPointF pixel(rect->axis(QCPAxis::atBottom)->coordToPixel(3), rect->axis(QCPAxis::atLeft)->coordToPixel(0));
        const QString hover = panel->figure()->describeAt(pixel);
        QVERIFY2(hover.startsWith(QStringLiteral("position 3 '")), qPrintable(hover));
        QVERIFY2(hover.contains(QStringLiteral(", layer 2:")), qPrintable(hover));
    }

private:
    // A prompt of exactly n tokens of the model's tokenizer.
    static QString longPrompt(const std::shared_ptr<const Model>& model, int n) {
        QString text;
        const char* words[] = {" evening", " the", " Eiffel", " Tower", " river", " station", " of", " in"};
        for (int i = 0; model->tokenizer.encodeIds(text.toStdString()).size() < size_t(n); ++i)
            text += QString::fromLatin1(words[i % 8]);
        while (model->tokenizer.encodeIds(text.toStdString()).size() > size_t(n)) text.chop(1);
        return text;
    }

    std::unique_ptr<MainWindow> m_window;
};

QTEST_MAIN(AnalysisTabsTest)
#include "analysis_tabs_test.moc"
