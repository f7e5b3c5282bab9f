// The Attention, Lens and Super weights tabs on the offscreen platform: the figures
// hold the library's numbers, and zeroing a planted super weight changes the
// prediction.
#include <QtTest>

#include <QTableWidget>
#include <QRadioButton>
#include <QSpinBox>
#include <qcustomplot.h>

#include "tests/analysis/planted_model.h"
#include "app/gui/main_window.h"
#include "app/gui/panels/ablation_view.h"
#include "app/gui/panels/attention_panel.h"
#include "app/gui/panels/lens_panel.h"
#include "app/gui/panels/super_weights_panel.h"
#include "app/gui/widgets/figure_view.h"
#include "app/gui/workspace.h"
#include "tests/app/app_test_util.h"

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

private:
    std::unique_ptr<MainWindow> m_window;
};

QTEST_MAIN(AnalysisTabsTest)
#include "analysis_tabs_test.moc"
