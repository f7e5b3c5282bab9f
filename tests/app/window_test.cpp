// The window as a first-time user meets it: fields that change only when asked, no
// work lost without a question, no result left over from another model, the model's
// undo on its own keys, a prompt counter that warns, every tab usable at 1024 x 700,
// dialogs that start where the user works, and the local documentation in Help.
#include <QtTest>

#include <QAction>
#include <QDir>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <qcustomplot.h>

#include "app/gui/jobs/job_status.h"
#include "app/gui/main_window.h"
#include "app/gui/panels/ablation_view.h"
#include "app/gui/panels/edit_panel.h"
#include "app/gui/panels/predict_panel.h"
#include "app/gui/panels/super_weights_panel.h"
#include "app/gui/panels/trace_panel.h"
#include "app/gui/widgets/figure_view.h"
#include "app/gui/widgets/file_dialogs.h"
#include "app/gui/widgets/prompt_bar.h"
#include "app/gui/workspace.h"
#include "tests/app/app_test_util.h"

using namespace mwb;
using namespace mwb::gui;

namespace {

const QString kFixture = QStringLiteral(MWB_SOURCE_DIR "/tests/fixtures/golden_gpt2_untied.h5");

bool waitFor(QSignalSpy& spy, int timeoutMs = 120000) { return !spy.isEmpty() || spy.wait(timeoutMs); }

// Answers the next modal question with `button` (and records that one was asked).
void answerNextQuestion(QObject* context, QMessageBox::StandardButton button, bool* asked) {
    QTimer::singleShot(200, context, [button, asked] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        *asked = box != nullptr;
        if (box) box->button(button)->click();
    });
}

// No horizontal scrolling inside the figure's scroll area: the whole figure is in view.
bool fitsSideways(FigureView* view) {
    auto* scroll = view->findChild<QScrollArea*>();
    return scroll && scroll->horizontalScrollBar()->maximum() == 0;
}

// The widget is shown and lies inside the window.
bool inWindow(QWidget* widget, QWidget* window) {
    if (!widget->isVisible()) return false;
    const QRect r(widget->mapTo(window, QPoint(0, 0)), widget->size());
    return window->rect().contains(r);
}

}  // namespace

class WindowTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init() {
        m_window = std::make_unique<MainWindow>();
        m_window->show();
    }
    void cleanup() {
        if (m_window) m_window->setCloseWithoutAsking(true);
        m_window.reset();
    }

    // Focusing the prompt selects all of it; neither the Trace nor the Edit tab copies it.
    void startUpFillsNoSubject() {
        m_window->workspace()->setPrompt(QStringLiteral("The Eiffel Tower is located in the city of"));
        m_window->promptBar()->promptEdit()->setFocus(Qt::TabFocusReason);
        m_window->promptBar()->promptEdit()->selectAll();
        QVERIFY(m_window->panel<TracePanel>()->subjectEdit()->text().isEmpty());
        QVERIFY(m_window->panel<EditPanel>()->subjectEdit()->text().isEmpty());
        QVERIFY(m_window->panel<EditPanel>()->promptEdit()->text().isEmpty());
    }

    // A trace passes its subject and layer; a subject that is the whole prompt leaves no
    // relation, so it is not passed on as "{}".
    void aTracePassesASubjectOnlyWithARelation() {
        m_window->workspace()->setModel(test::randomGpt2(4), QString());
        auto* edit = m_window->panel<EditPanel>();
        edit->suggestFromTrace(QStringLiteral("The Eiffel Tower is in"), QStringLiteral("The Eiffel Tower is in"), 3);
        QCOMPARE(edit->layerBox()->value(), 3);
        QVERIFY(edit->subjectEdit()->text().isEmpty());
        QVERIFY(edit->promptEdit()->text().isEmpty());
        edit->suggestFromTrace(QStringLiteral("The Eiffel Tower is in"), QStringLiteral("Eiffel Tower"), 2);
        QCOMPARE(edit->subjectEdit()->text(), QStringLiteral("Eiffel Tower"));
        QCOMPARE(edit->promptEdit()->text(), QStringLiteral("The {} is in"));
        // What the user typed stays.
        edit->subjectEdit()->setText(QStringLiteral("Louvre"));
        edit->suggestFromTrace(QStringLiteral("Big Ben is in"), QStringLiteral("Big Ben"), 1);
        QCOMPARE(edit->subjectEdit()->text(), QStringLiteral("Louvre"));
    }

    void openingWithUnsavedEditsAsks() {
        auto edited = test::withEditRecord(test::randomGpt2());
        m_window->workspace()->setModel(edited, QString(), /*edited=*/true);
        QVERIFY(m_window->workspace()->hasUnsavedEdits());
        bool asked = false;
        answerNextQuestion(this, QMessageBox::Cancel, &asked);
        m_window->openModel(kFixture);
        QVERIFY(asked);
        QVERIFY(!m_window->workspace()->isLoading());
        QCOMPARE(m_window->workspace()->model(), edited);

        QSignalSpy changed(m_window->workspace(), &Workspace::modelChanged);
        answerNextQuestion(this, QMessageBox::Discard, &asked);
        asked = false;
        m_window->openModel(kFixture);
        QVERIFY(asked);
        QVERIFY(waitFor(changed));
        QVERIFY(m_window->workspace()->model() != edited);
        QVERIFY(!m_window->workspace()->hasUnsavedEdits());
        QVERIFY(!m_window->windowTitle().contains(QLatin1Char('*')));
    }

    // Results of one model are not shown for the next, and name the model they came from.
    void aModelChangeClearsThePrediction() {
        m_window->workspace()->setModel(test::randomGpt2(), QString());
        m_window->workspace()->setPrompt(QStringLiteral("The quick brown"));
        auto* predict = m_window->panel<PredictPanel>();
        QSignalSpy done(predict, &ToolPanel::actionFinished);
        predict->runAction();
        QVERIFY(waitFor(done));
        QVERIFY(predict->figure()->hasFigure());
        QVERIFY2(QString::fromStdString(predict->figure()->figure().title).contains(QStringLiteral("test-gpt2")),
                 predict->figure()->figure().title.c_str());
        QCOMPARE(predict->figure()->figure().source["model"].get<std::string>(), std::string("test-gpt2"));
        QCOMPARE(predict->figure()->exportName(), QStringLiteral("test-gpt2-prediction"));
        QSignalSpy generated(predict, &PredictPanel::generationFinished);
        predict->generate();
        QVERIFY(waitFor(generated));
        QVERIFY(predict->output()->toPlainText().contains(QStringLiteral("model: test-gpt2")));

        m_window->workspace()->setModel(test::randomGpt2(2, 64, 7), QString());
        QCOMPARE(predict->table()->rowCount(), 0);
        QVERIFY(!predict->figure()->hasFigure());
        QVERIFY(predict->output()->toPlainText().isEmpty());
        QVERIFY(predict->lastPrediction().top.empty());
    }

    void traceResultsAreClearedOnAModelChange() {
        m_window->workspace()->setModel(test::randomGpt2(3), QString());
        m_window->workspace()->setPrompt(QStringLiteral("The Eiffel Tower is in"));
        auto* trace = m_window->panel<TracePanel>();
        trace->subjectEdit()->setText(QStringLiteral("Eiffel Tower"));
        trace->samplesBox()->setValue(2);
        QSignalSpy done(trace, &ToolPanel::actionFinished);
        trace->runAction();
        QVERIFY(waitFor(done));
        QVERIFY(trace->figure()->hasFigure());
        m_window->workspace()->setModel(test::randomGpt2(3, 64, 5), QString());
        QVERIFY(!trace->figure()->hasFigure());
        QVERIFY(!trace->lastTrace());
    }

    // Ctrl+Z is the text fields' undo; the model's undo has keys of its own.
    void theModelUndoHasItsOwnKeys() {
        QAction* undo = m_window->undoModelAction();
        QVERIFY(undo);
        QCOMPARE(undo->shortcut(), QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_Z));
        for (QAction* a : m_window->findChildren<QAction*>())
            QVERIFY2(a->shortcut() != QKeySequence(QKeySequence::Undo), qPrintable(a->text()));
        QVERIFY(!undo->isEnabled());  // no model, no edit
        m_window->workspace()->setModel(test::randomGpt2(), QString());
        QVERIFY(!undo->isEnabled());
        // Ctrl+Z in the prompt undoes the typing.
        QLineEdit* prompt = m_window->promptBar()->promptEdit();
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        prompt->setFocus();
        prompt->clear();
        QTest::keyClicks(prompt, QStringLiteral("abc"));
        QTest::keyClick(prompt, Qt::Key_Z, Qt::ControlModifier);
        QVERIFY(prompt->text() != QStringLiteral("abc"));
    }

    void theTokenCounterTurnsRedPastTheContext() {
        m_window->workspace()->setModel(test::randomGpt2(), QString());  // context 128
        m_window->workspace()->setPrompt(QStringLiteral("a short prompt"));
        PromptBar* bar = m_window->promptBar();
        QVERIFY(!bar->isTooLong());
        QVERIFY(bar->tokenCount()->text().endsWith(QStringLiteral("/ 128 tokens")));
        QString longPrompt;
        for (int i = 0; i < 70; ++i) longPrompt += QStringLiteral("the cat ");
        m_window->workspace()->setPrompt(longPrompt);
        QVERIFY(bar->isTooLong());
        QVERIFY(bar->tokenCount()->text().contains(QStringLiteral("too long")));
        QVERIFY(bar->tokenCount()->styleSheet().contains(QStringLiteral("#b00020")));
    }

    // The same default as `mwb trace`: round(layers x 10 / 48), at least 1.
    void theTraceWindowFollowsTheModelsDepth() {
        auto* window = m_window->panel<TracePanel>();
        for (const auto& [layers, expected] : {std::pair{2, 1}, std::pair{8, 2}, std::pair{24, 5}}) {
            m_window->workspace()->setModel(test::randomGpt2(layers, 16), QString());
            QCOMPARE(window->params().window, expected);
            QCOMPARE(defaultTraceWindow(layers), expected);
        }
    }

    void everyTabFitsIn1024x700() {
        m_window->resize(1024, 700);
        m_window->workspace()->setModel(test::randomGpt2(8, 64), QString());
        m_window->workspace()->setPrompt(QStringLiteral("The Eiffel Tower is located in the city of"));
        QTest::qWait(50);
        // Trace: all three heatmaps in view.
        auto* trace = m_window->panel<TracePanel>();
        m_window->tabs()->setCurrentWidget(trace);
        trace->subjectEdit()->setText(QStringLiteral("Eiffel Tower"));
        trace->samplesBox()->setValue(1);
        QSignalSpy traced(trace, &ToolPanel::actionFinished);
        trace->runAction();
        QVERIFY(waitFor(traced));
        QTest::qWait(50);
        QVERIFY(fitsSideways(trace->figure()));
        // Edit: the Apply button in the window.
        auto* edit = m_window->panel<EditPanel>();
        m_window->tabs()->setCurrentWidget(edit);
        QTest::qWait(50);
        QVERIFY(inWindow(edit->applyButton(), m_window.get()));
        QVERIFY(inWindow(edit->planLabel(), m_window.get()));
        // Super weights: both plots in view.
        auto* weights = m_window->panel<SuperWeightsPanel>();
        m_window->tabs()->setCurrentWidget(weights);
        QSignalSpy detected(weights, &ToolPanel::actionFinished);
        weights->runAction();
        QVERIFY(waitFor(detected));
        QVERIFY(weights->addWeight(QStringLiteral("1:2:3")));
        QSignalSpy compared(weights, &SuperWeightsPanel::compareFinished);
        weights->compare();
        QVERIFY(waitFor(compared));
        QTest::qWait(50);
        QVERIFY(fitsSideways(weights->spikes()));
        QVERIFY(fitsSideways(weights->comparison()->figure()));
        QVERIFY(inWindow(weights->spikes(), m_window.get()));
        QVERIFY(inWindow(weights->comparison()->figure(), m_window.get()));
    }

    void dialogsStartInTheLastFolder() {
        QSettings().remove(QStringLiteral("lastFolder"));
        QCOMPARE(startFolder(), QDir::homePath());
        QCOMPARE(suggestedFile(QStringLiteral("demo-trace"), QStringLiteral(".png")),
                 QDir(QDir::homePath()).filePath(QStringLiteral("demo-trace.png")));
        QTemporaryDir dir;
        rememberFolder(dir.filePath(QStringLiteral("x.pdf")));
        QCOMPARE(startFolder(), QFileInfo(dir.path()).absoluteFilePath());
        QCOMPARE(suggestedFile(QStringLiteral("demo-lens"), QStringLiteral(".pdf")),
                 QDir(QFileInfo(dir.path()).absoluteFilePath()).filePath(QStringLiteral("demo-lens.pdf")));
        // A model opened from a file names its exports after the file.
        m_window->workspace()->setModel(test::randomGpt2(), QStringLiteral("/tmp/my model.h5"));
        QCOMPARE(m_window->workspace()->fileStem(QStringLiteral("trace")), QStringLiteral("my_model-trace"));
        QSettings().remove(QStringLiteral("lastFolder"));
    }

    // After an error, a success replaces it in the status bar.
    void aSuccessReplacesAStaleError() {
        m_window->workspace()->setModel(test::randomGpt2(), QString());
        auto* weights = m_window->panel<SuperWeightsPanel>();
        QVERIFY(!weights->addWeight(QStringLiteral("9:9")));
        const QString error = m_window->jobStatus()->currentText();
        QVERIFY(m_window->jobStatus()->isShowingError());
        QVERIFY(weights->addWeight(QStringLiteral("1:2:3")));
        QVERIFY(!m_window->jobStatus()->isShowingError());
        QVERIFY(m_window->jobStatus()->currentText() != error);
    }

    void helpListsTheLocalDocs() {
        QMenu* docs = m_window->docsMenu();
        QVERIFY(docs);
        QStringList files;
        for (QAction* a : docs->actions()) files << a->data().toString();
        QVERIFY2(files.size() >= 5, qPrintable(files.join(QLatin1Char(' '))));
        for (const QString& f : files) QVERIFY2(QFileInfo::exists(f), qPrintable(f));
        QVERIFY(std::any_of(files.begin(), files.end(),
                            [](const QString& f) { return f.endsWith(QStringLiteral("/workbench.md")); }));
    }

private:
    std::unique_ptr<MainWindow> m_window;
};

QTEST_MAIN(WindowTest)
#include "window_test.moc"
