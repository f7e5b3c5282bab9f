// The real window on the offscreen platform: open a model, predict, trace (the
// heatmaps hold the library's numbers), cancel, stay responsive, report errors.
#include <QtTest>

#include <QElapsedTimer>
#include <QCheckBox>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QRadioButton>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QPushButton>
#include <QTableWidget>
#include <qcustomplot.h>

#include "app/gui/jobs/job_status.h"
#include "app/gui/main_window.h"
#include "app/gui/panels/predict_panel.h"
#include "app/gui/panels/trace_panel.h"
#include "app/gui/widgets/figure_view.h"
#include "app/gui/widgets/prompt_bar.h"
#include "app/gui/workspace.h"
#include "tests/app/app_test_util.h"

using namespace mwb;
using namespace mwb::gui;

namespace {

const QString kFixture = QStringLiteral(MWB_SOURCE_DIR "/tests/fixtures/golden_gpt2_untied.h5");

bool waitFor(QSignalSpy& spy, int timeoutMs = 60000) { return !spy.isEmpty() || spy.wait(timeoutMs); }

}  // namespace

class WorkbenchTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init() {
        m_window = std::make_unique<MainWindow>();
        m_window->show();
    }
    void cleanup() { m_window.reset(); }

    void opensAModelFile() {
        QSignalSpy changed(m_window->workspace(), &Workspace::modelChanged);
        m_window->workspace()->openModel(kFixture);
        QVERIFY(waitFor(changed));
        QVERIFY(m_window->workspace()->model());
        QVERIFY(m_window->workspace()->modelSummary().contains(QStringLiteral("gpt2")));
        QCOMPARE(m_window->workspace()->recentFiles().front(), QFileInfo(kFixture).absoluteFilePath());
    }

    void aBadFileLeavesTheModelAsItWas() {
        auto model = test::randomGpt2();
        m_window->workspace()->setModel(model, QString());
        QSignalSpy failed(m_window->workspace(), &Workspace::loadFailed);
        m_window->workspace()->openModel(QStringLiteral(MWB_SOURCE_DIR "/README.md"));
        QVERIFY(waitFor(failed));
        QVERIFY(!failed.front().front().toString().isEmpty());
        QCOMPARE(m_window->workspace()->model(), model);
    }

    void predictShowsTheLibrarysTopTokens() {
        auto model = test::randomGpt2();
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(QStringLiteral("The Eiffel Tower is located in"));
        auto* panel = m_window->panel<PredictPanel>();
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        m_window->tabs()->setCurrentWidget(panel);
        m_window->runCurrentTab();
        QVERIFY(waitFor(done));
        QCOMPARE(done.front().front().toBool(), true);
        const Prediction expected = predictNext(*model, "The Eiffel Tower is located in", 10);
        QCOMPARE(panel->table()->rowCount(), 10);
        QCOMPARE(panel->lastPrediction().top.front().id, expected.top.front().id);
        QVERIFY(panel->figure()->hasFigure());
        const auto& bars = std::get<plots::BarSpec>(panel->figure()->figure().panels[0]);
        for (int i = 0; i < 10; ++i) QCOMPARE(bars.values[i], expected.top[i].prob);
    }

    void ctrlEnterRunsTheCurrentTab() {
        m_window->workspace()->setModel(test::randomGpt2(), QString());
        m_window->workspace()->setPrompt(QStringLiteral("The quick brown"));
        auto* panel = m_window->panel<PredictPanel>();
        m_window->tabs()->setCurrentWidget(panel);
        QLineEdit* prompt = m_window->findChild<QLineEdit*>();
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        prompt->setFocus();
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        QTest::keyClick(prompt, Qt::Key_Return, Qt::ControlModifier);
        QVERIFY(waitFor(done, 30000));
        QCOMPARE(done.front().front().toBool(), true);
    }

    void closingWithUnsavedEditsAsks() {
        m_window->workspace()->setModel(test::withEditRecord(test::randomGpt2()), QString(), /*edited=*/true);
        QVERIFY(m_window->windowTitle().contains(QLatin1Char('*')));
        bool asked = false;
        QTimer::singleShot(200, this, [&] {
            auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
            asked = box != nullptr;
            if (box) box->button(QMessageBox::Cancel)->click();
        });
        QVERIFY(!m_window->close());  // cancelled: the window stays
        QVERIFY(asked);
        QVERIFY(m_window->isVisible());
        m_window->setCloseWithoutAsking(true);
    }

    void generateWritesAContinuation() {
        m_window->workspace()->setModel(test::randomGpt2(), QString());
        m_window->workspace()->setPrompt(QStringLiteral("The quick brown"));
        auto* panel = m_window->panel<PredictPanel>();
        QSignalSpy done(panel, &PredictPanel::generationFinished);
        panel->generate();
        QVERIFY(waitFor(done));
        QCOMPARE(done.front().front().toBool(), true);
        QVERIFY(panel->output()->toPlainText().startsWith(QStringLiteral("The quick brown")));
    }

    void traceHeatmapsHoldTheLibrarysNumbers() {
        auto model = test::randomGpt2(3);
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(QStringLiteral("The Eiffel Tower is in"));
        auto* panel = m_window->panel<TracePanel>();
        panel->subjectEdit()->setText(QStringLiteral("The Eiffel Tower"));
        panel->samplesBox()->setValue(3);
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        m_window->tabs()->setCurrentWidget(panel);
        m_window->runCurrentTab();
        QVERIFY(waitFor(done));
        QCOMPARE(done.front().front().toBool(), true);

        const CausalTraceResult expected =
            traceFact(*model, "The Eiffel Tower is in", "The Eiffel Tower", "", panel->params());
        const plots::RenderedFigure& drawn = panel->figure()->rendered();
        QCOMPARE(drawn.maps.size(), size_t(3));
        int i = 0;
        for (TraceKind kind : {TraceKind::Hidden, TraceKind::Mlp, TraceKind::Attn}) {
            const MatrixD& grid = expected.probRestored.at(kind);
            QCPColorMapData* data = drawn.maps[i++]->data();
            QCOMPARE(data->valueSize(), static_cast<int>(grid.rows()));
            QCOMPARE(data->keySize(), static_cast<int>(grid.cols()));
            for (int t = 0; t < grid.rows(); ++t)
                for (int l = 0; l < grid.cols(); ++l) QCOMPARE(data->cell(l, t), grid(t, l));
        }
    }

    void averageOverAFactsFile() {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("facts.json"));
        QFile out(file);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(R"([{"known_id": 0, "subject": "France", "attribute": "Paris", "template": "The capital of {} is",
                       "prompt": "The capital of France is", "relation_id": "P36"},
                      {"known_id": 1, "subject": "Big Ben", "attribute": "London",
                       "template": "{} is located in the city of", "prompt": "Big Ben is located in the city of",
                       "relation_id": "P131"}])");
        out.close();
        auto model = test::randomGpt2(3);
        m_window->workspace()->setModel(model, QString());
        auto* panel = m_window->panel<TracePanel>();
        panel->averageMode()->setChecked(true);
        panel->factsFileEdit()->setText(file);
        panel->skipWrongBox()->setChecked(false);
        panel->samplesBox()->setValue(2);
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        QVERIFY(done.front().front().toBool());
        const auto& fig = panel->figure()->figure();
        QCOMPARE(fig.panels.size(), size_t(3));
        const auto& h = std::get<plots::HeatmapSpec>(fig.panels[1]);
        QCOMPARE(h.rows, 6);
        QCOMPARE(h.cols, 3);
        QCOMPARE(fig.source["facts_used"].get<int>(), 2);
    }

    // A selection alone leaves the subject as it is (selecting the whole prompt to
    // replace it, or an undo, selects text too); "Use as subject" sends it.
    void onlyUseAsSubjectFillsTheSubject() {
        m_window->workspace()->setPrompt(QStringLiteral("Paris is the capital of"));
        QLineEdit* prompt = m_window->promptBar()->promptEdit();
        auto* subject = m_window->panel<TracePanel>()->subjectEdit();
        subject->setText(QStringLiteral("France"));
        prompt->selectAll();
        prompt->setSelection(0, 5);
        QCOMPARE(subject->text(), QStringLiteral("France"));
        QVERIFY(m_window->promptBar()->useAsSubjectAction()->isEnabled());
        m_window->promptBar()->useAsSubjectAction()->trigger();
        QCOMPARE(subject->text(), QStringLiteral("Paris"));
        prompt->deselect();
        QVERIFY(!m_window->promptBar()->useAsSubjectAction()->isEnabled());
    }

    // A random model recalls nothing: the trace says that its map means little.
    void aTraceOfANonFactIsFlagged() {
        auto model = test::randomGpt2(3);
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(QStringLiteral("Barack Obama was born in"));
        auto* panel = m_window->panel<TracePanel>();
        panel->subjectEdit()->setText(QStringLiteral("Barack Obama"));
        panel->samplesBox()->setValue(2);
        QSignalSpy errors(m_window->jobStatus(), &JobStatus::errorShown);
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        QVERIFY(done.front().front().toBool());
        const CausalTraceResult& r = *panel->lastTrace();
        QVERIFY(r.probClean < 0.2);
        const QString warning = QString::fromStdString(recallWarning(r));
        QVERIFY(warning.contains(QStringLiteral("not a confident recall")));
        QCOMPARE(errors.size(), 1);
        QVERIFY2(errors.front().front().toString().contains(warning), qPrintable(errors.front().front().toString()));
        auto* summary = panel->findChild<QLabel*>(QStringLiteral("traceSummary"));
        QVERIFY(summary && summary->text().contains(QStringLiteral("Not a confident recall")));
        // And when corruption leaves the answer where it was.
        CausalTraceResult flat = r;
        flat.probClean = 0.7;
        flat.probCorrupted = 0.62;
        QVERIFY(QString::fromStdString(recallWarning(flat)).contains(QStringLiteral("does not get the answer from the subject")));
        flat.probCorrupted = 0.05;
        QVERIFY(recallWarning(flat).empty());
    }

    void aSubjectNotInThePromptIsOneSentence() {
        auto model = test::randomGpt2();
        m_window->workspace()->setModel(model, QString());
        m_window->workspace()->setPrompt(QStringLiteral("The Eiffel Tower is in"));
        auto* panel = m_window->panel<TracePanel>();
        panel->subjectEdit()->setText(QStringLiteral("Colosseum"));
        QSignalSpy errors(m_window->jobStatus(), &JobStatus::errorShown);
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        QCOMPARE(done.front().front().toBool(), false);
        QCOMPARE(errors.size(), 1);
        QVERIFY(!errors.front().front().toString().isEmpty());
        QCOMPARE(m_window->workspace()->model(), model);
    }

    void cancellingStopsARunningTrace() {
        startLongTrace();
        auto* panel = m_window->panel<TracePanel>();
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        QTest::qWait(300);
        QVERIFY(panel->isRunning());
        auto* cancel = m_window->findChild<QPushButton*>(QStringLiteral("cancelJob"));
        QVERIFY(cancel && cancel->isVisible());
        QElapsedTimer clock;
        clock.start();
        QTest::mouseClick(cancel, Qt::LeftButton);
        QVERIFY(waitFor(done, 20000));
        QCOMPARE(done.front().front().toBool(), false);
        qInfo("cancelled after %lld ms", clock.elapsed());
        QVERIFY2(clock.elapsed() < 5000, qPrintable(QString::number(clock.elapsed())));
        QVERIFY(m_window->jobStatus()->currentText().contains(QStringLiteral("cancelled")));
        QVERIFY(!panel->figure()->hasFigure());
    }

    void theEventLoopStaysResponsiveDuringATrace() {
        startLongTrace();
        auto* panel = m_window->panel<TracePanel>();
        QElapsedTimer clock;
        clock.start();
        qint64 last = 0, worst = 0;
        int ticks = 0;
        QTimer timer;
        timer.setInterval(10);
        connect(&timer, &QTimer::timeout, this, [&] {
            const qint64 now = clock.elapsed();
            worst = std::max(worst, now - last);
            last = now;
            ++ticks;
        });
        timer.start();
        QTest::qWait(1500);
        timer.stop();
        const bool stillRunning = panel->isRunning();
        panel->cancel();
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        if (panel->isRunning()) QVERIFY(waitFor(done, 20000));
        QVERIFY2(stillRunning, "the trace finished too early to measure anything");
        qInfo("event loop: %d ticks in 1.5 s, longest gap %lld ms", ticks, worst);
        QVERIFY2(worst < 250, qPrintable(QStringLiteral("longest gap %1 ms").arg(worst)));
    }

private:
    // A trace that takes several seconds in many short steps (the library checks for
    // cancellation once per token): a long prompt on a wider model.
    void startLongTrace() {
        m_window->workspace()->setModel(test::randomGpt2(8, 128), QString());
        m_window->workspace()->setPrompt(QStringLiteral(
            "The Eiffel Tower is located in the city of Paris, and the quick brown fox jumps over the "
            "lazy dog in the city of"));
        auto* panel = m_window->panel<TracePanel>();
        panel->subjectEdit()->setText(QStringLiteral("The Eiffel Tower"));
        panel->samplesBox()->setValue(16);
        panel->runAction();
        QVERIFY(panel->isRunning());
    }

    std::unique_ptr<MainWindow> m_window;
};

QTEST_MAIN(WorkbenchTest)
#include "workbench_test.moc"
