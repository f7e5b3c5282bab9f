// The Edit tab: a ROME edit replaces the workspace's model with an edited copy that
// records the edit and raises the new target; undo restores the weights bit for bit.
#include <QtTest>

#include <fstream>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QLabel>
#include <QPushButton>
#include <QScrollBar>
#include <QTableWidget>
#include <QTemporaryDir>

#include "app/gui/jobs/job_status.h"
#include "app/gui/main_window.h"
#include "app/gui/panels/edit_panel.h"
#include "app/gui/widgets/figure_view.h"
#include "app/plots/figure_render.h"
#include "app/gui/workspace.h"
#include "tests/app/app_test_util.h"
#include "tests/support/test_models.h"
#include "io/hdf5_model_file.h"
#include "model/transformer.h"

using namespace mwb;
using namespace mwb::gui;

namespace {
bool waitFor(QSignalSpy& spy, int timeoutMs = 300000) { return !spy.isEmpty() || spy.wait(timeoutMs); }
}  // namespace

class EditTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        QFile corpus(m_dir.filePath(QStringLiteral("corpus.txt")));
        QVERIFY(corpus.open(QIODevice::WriteOnly));
        for (int i = 0; i < 20; ++i)
            corpus.write("the cat is in the house\nthe dog is on the mat\na bird sat in a tree\n"
                         "it is a sunny day\nthe sea is blue and deep\nwe go to the shop\n");
        // Edits cache their statistics beside the model file: keep them out of the source tree.
        QVERIFY(QFile::copy(QStringLiteral(MWB_SOURCE_DIR "/tests/fixtures/golden_gpt2_untied.h5"), fixture()));
    }

    void init() {
        m_window = std::make_unique<MainWindow>();
        m_window->setCloseWithoutAsking(true);
        m_window->show();
    }
    void cleanup() { m_window.reset(); }

    void romeEditThenUndo() {
        // The byte-level fixture (n_ctx 24): keep prompts short.
        auto model = std::make_shared<const Model>(loadModel(fixture().toStdString()));
        m_window->workspace()->setModel(model, m_dir.filePath(QStringLiteral("tiny.h5")));
        auto* panel = m_window->panel<EditPanel>();
        fillForm(panel);
        runEditTab(panel);
        if (QTest::currentTestFailed()) return;

        const auto edited = m_window->workspace()->model();
        QVERIFY(edited != model);
        QCOMPARE(edited->edits.size(), size_t(1));
        QCOMPARE(edited->edits[0].method, std::string("rome"));
        QCOMPARE(edited->edits[0].layers, std::vector<int>{0});
        QVERIFY(model->edits.empty());  // the original is untouched
        QVERIFY(m_window->workspace()->hasUnsavedEdits());
        QCOMPARE(panel->editList()->count(), 1);
        QCOMPARE(panel->probabilities()->rowCount(), 4);  // rewrite, 2 paraphrases, 1 neighbour
        QVERIFY(panel->figure()->hasFigure());
        const PromptProbs& rewrite = panel->lastMeasurement()->prompts.front();
        QCOMPARE(rewrite.kind, std::string("rewrite"));
        QVERIFY2(rewrite.newAfter > 1.5 * rewrite.newBefore,
                 qPrintable(QStringLiteral("p(new) %1 -> %2").arg(rewrite.newBefore).arg(rewrite.newAfter)));
        // Every row names the model's own answer before and after: the argmax of each model.
        for (const PromptProbs& p : panel->lastMeasurement()->prompts) {
            const auto ids = model->tokenizer.encodeIds(p.prompt);
            const RowVector before = Transformer(*model).run(ids).lastLogits();
            const RowVector after = Transformer(*edited).run(ids).lastLogits();
            Eigen::Index argBefore, argAfter;
            before.maxCoeff(&argBefore);
            after.maxCoeff(&argAfter);
            QCOMPARE(p.answerBefore.id, int(argBefore));
            QCOMPARE(p.answerAfter.id, int(argAfter));
            QCOMPARE(p.answerAfter.prob, double(softmax(after)[argAfter]));
        }
        QCOMPARE(panel->probabilities()->columnCount(), 9);
        QVERIFY(panel->probabilities()->isColumnHidden(8));  // "experts moved": for a model with experts
        const auto& neighbour = panel->lastMeasurement()->prompts.back();
        QCOMPARE(panel->probabilities()->item(3, 6)->text(),
                 QStringLiteral("'%1' %2 %").arg(QString::fromStdString(neighbour.answerBefore.token))
                     .arg(100.0 * neighbour.answerBefore.prob, 0, 'f', 1));
        // "Export JSON" carries the table.
        const QString json = m_dir.filePath(QStringLiteral("edit.json"));
        panel->figure()->exportTo(json);
        std::ifstream in(json.toStdString());
        const auto exported = nlohmann::json::parse(in)["source"]["prompts"];
        QCOMPARE(exported.size(), size_t(4));
        QCOMPARE(exported[3]["kind"].get<std::string>(), std::string("neighbourhood"));
        QCOMPARE(exported[3]["answer_before"]["id"].get<int>(), neighbour.answerBefore.id);
        QCOMPARE(exported[0]["p_new_after"].get<double>(), rewrite.newAfter);
        QCOMPARE(exported[0]["p_true_before"].get<double>(), rewrite.trueBefore);

        // The PNG and the JSON hold the prompts' table too: it is the evidence for the bars.
        const auto table = nlohmann::json::parse(std::ifstream(json.toStdString()))["table"];
        QCOMPARE(table["rows"].size(), size_t(4));
        QCOMPARE(table["rows"][3][0].get<std::string>(), std::string("the sun is in"));
        const QString png = m_dir.filePath(QStringLiteral("edit.png"));
        panel->figure()->exportTo(png);
        plots::FigureSpec withoutTable = panel->figure()->figure();
        withoutTable.table.reset();
        const QImage image(png);
        QCOMPARE(image.height(), 2 * plots::figureSize(panel->figure()->figure()).height());
        QVERIFY(image.height() >= 2 * plots::figureSize(withoutTable).height() + 2 * 5 * plots::FigureSpec::kTableRowHeight);
        // The result names the model it came from.
        QVERIFY(panel->figure()->figure().title.find("tiny.h5 + 1 edit") != std::string::npos);
        QCOMPARE(panel->figure()->exportName(), QStringLiteral("tiny-edit"));

        // The model's undo from its own keys, with the focus in a text field.
        QSignalSpy undone(panel, &EditPanel::undoFinished);
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        panel->subjectEdit()->setFocus();
        QVERIFY(m_window->undoModelAction()->isEnabled());
        QTest::keyClick(panel->subjectEdit(), Qt::Key_Z, Qt::ControlModifier | Qt::AltModifier);
        QVERIFY(waitFor(undone));
        QVERIFY(undone.front().front().toBool());
        QCOMPARE(panel->subjectEdit()->text(), QStringLiteral("cat"));
        const auto restored = m_window->workspace()->model();
        QVERIFY(restored->edits.empty());
        QCOMPARE(panel->editList()->count(), 0);
        for (int l = 0; l < model->config.nLayers; ++l)
            QVERIFY(restored->weights.blocks[l].down.weight == model->weights.blocks[l].down.weight);
        // Back where the file is: nothing unsaved, no mark, no question on closing.
        QVERIFY(!m_window->workspace()->hasUnsavedEdits());
        QVERIFY(!m_window->windowTitle().contains(QLatin1Char('*')));
        QVERIFY(!m_window->undoModelAction()->isEnabled());
        QVERIFY(!panel->figure()->hasFigure());
    }

    // A model with experts: ROME edits the expert the subject's token is routed to with
    // the largest weight, the list names it, and the table says where the routing moved.
    void romeEditsTheSubjectsExpert() {
        auto model = std::make_shared<const Model>(makeTinyModel(Architecture::Llama, 5, tinyMoeOptions(false)));
        m_window->workspace()->setModel(model, m_dir.filePath(QStringLiteral("tiny-moe.h5")));
        auto* panel = m_window->panel<EditPanel>();
        fillForm(panel);
        panel->layerBox()->setValue(1);
        QVERIFY(panel->expertBox()->isEnabled());
        QCOMPARE(panel->expertBox()->maximum(), 4);
        QVERIFY2(panel->planLabel()->text().contains(QStringLiteral("top expert")), qPrintable(panel->planLabel()->text()));
        runEditTab(panel);
        if (QTest::currentTestFailed()) return;

        const auto edited = m_window->workspace()->model();
        QCOMPARE(edited->edits.size(), size_t(1));
        const auto ids = model->tokenizer.encodeIds("cat is in");
        const RunState s = Transformer(*model).run(ids, {}, LogitsMode::None);
        const int subjectLast = int(model->tokenizer.encodeIds("cat").size()) - 1;  // the fact token
        const int top = s.routing[1].experts(subjectLast, 0);
        QCOMPARE(edited->edits[0].experts, std::vector<int>{top});
        QVERIFY(panel->editList()->item(0)->text().contains(QStringLiteral("expert %1").arg(top)));
        QVERIFY(!panel->probabilities()->isColumnHidden(8));
        const PromptProbs& rewrite = panel->lastMeasurement()->prompts.front();
        QCOMPARE(rewrite.routingPlaces, long(3 * ids.size()));  // every layer is sparse
        QCOMPARE(panel->probabilities()->item(0, 0)->toolTip(), QStringLiteral("cat is in"));  // elided when narrow
        QCOMPARE(panel->probabilities()->item(0, 8)->text(),
                 QStringLiteral("%1 of %2").arg(rewrite.routingChanged).arg(rewrite.routingPlaces));
        // Only that expert's down projection changed (whether a random tiny model can be
        // steered is the library tests' business).
        for (int e = 0; e < 5; ++e)
            QCOMPARE(editedDown(edited->weights, 1, e) == editedDown(model->weights, 1, e), e != top);

        // MEMIT edits experts too; the expert is each subject's own.
        panel->layerBox()->setValue(2);
        panel->methodBox()->setCurrentIndex(1);
        QVERIFY(panel->applyButton()->isEnabled());
        QVERIFY(!panel->expertBox()->isEnabled());
        QVERIFY2(panel->planLabel()->text().contains(QStringLiteral("the expert the subject is routed to")),
                 qPrintable(panel->planLabel()->text()));
        panel->methodBox()->setCurrentIndex(0);
    }

    // At 1024 x 700 the prompts' table fits without scrolling sideways; another model
    // clears it.
    void theTableFitsASmallWindowAndGoesWithTheModel() {
        m_window->resize(1024, 700);
        auto model = std::make_shared<const Model>(loadModel(fixture().toStdString()));
        m_window->workspace()->setModel(model, m_dir.filePath(QStringLiteral("tiny.h5")));
        auto* panel = m_window->panel<EditPanel>();
        m_window->tabs()->setCurrentWidget(panel);
        fillForm(panel);
        panel->stepsBox()->setValue(3);
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        QVERIFY(done.front().front().toBool());
        QTest::qWait(50);
        QCOMPARE(panel->probabilities()->rowCount(), 4);
        QCOMPARE(panel->probabilities()->horizontalScrollBar()->maximum(), 0);
        m_window->workspace()->setModel(test::randomGpt2(2, 64), QString());
        QCOMPARE(panel->probabilities()->rowCount(), 0);
        QVERIFY(!panel->figure()->hasFigure());
        QVERIFY(!panel->lastMeasurement());
    }

    void aTemplateOfOnlyBracesIsRefused() {
        m_window->workspace()->setModel(test::randomGpt2(2, 64), QString());
        auto* panel = m_window->panel<EditPanel>();
        fillForm(panel);
        panel->promptEdit()->setText(QStringLiteral(" {} "));
        QSignalSpy errors(m_window->jobStatus(), &JobStatus::errorShown);
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        QCOMPARE(done.front().front().toBool(), false);
        QCOMPARE(errors.size(), 1);
        const QString sentence = errors.front().front().toString();
        QVERIFY2(sentence.contains(QStringLiteral("no text besides {}")), qPrintable(sentence));
        QVERIFY2(sentence.startsWith(QStringLiteral("The prompt")), qPrintable(sentence));
        QCOMPARE(sentence.count(QLatin1Char('.')), 1);
        QVERIFY(sentence.endsWith(QLatin1Char('.')));
        QVERIFY(m_window->workspace()->model()->edits.empty());
    }

    // MEMIT's layers are shown before applying; layers below 0 are refused, not dropped.
    void memitSaysWhichLayersItEdits() {
        m_window->workspace()->setModel(test::randomGpt2(4, 64), QString());
        auto* panel = m_window->panel<EditPanel>();
        fillForm(panel);
        QCOMPARE(panel->planLabel()->text(), QStringLiteral("Will edit layer 0 (ROME)"));
        panel->methodBox()->setCurrentIndex(1);
        panel->memitLayersBox()->setValue(3);
        panel->layerBox()->setValue(0);
        QVERIFY2(panel->planLabel()->text().startsWith(QStringLiteral("Cannot edit: 3 MEMIT layers ending at layer 0")),
                 qPrintable(panel->planLabel()->text()));
        QVERIFY(!panel->applyButton()->isEnabled());
        QSignalSpy errors(panel, &ToolPanel::errorMessage);
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        QCOMPARE(done.front().front().toBool(), false);
        QCOMPARE(errors.size(), 1);
        QVERIFY(errors.front().front().toString().contains(QStringLiteral("choose layer 2 or higher")));
        QVERIFY(m_window->workspace()->model()->edits.empty());
        panel->layerBox()->setValue(3);
        QCOMPARE(panel->planLabel()->text(), QStringLiteral("Will edit layers 1, 2, 3 (MEMIT)"));
        QVERIFY(panel->applyButton()->isEnabled());
        panel->methodBox()->setCurrentIndex(0);
    }

    void loadedCasesAreNamedInTheComboBox() {
        auto* panel = m_window->panel<EditPanel>();
        QVERIFY(panel->caseBox()->placeholderText().contains(QStringLiteral("no file loaded")));
        QSignalSpy loaded(panel, &EditPanel::casesLoaded);
        panel->loadCases(QStringLiteral(MWB_SOURCE_DIR "/resources/data/counterfact.json"));
        QVERIFY(waitFor(loaded));
        const int n = loaded.front().front().toInt();
        QVERIFY(n > 0);
        QCOMPARE(panel->caseBox()->count(), n);
        QVERIFY(!panel->caseBox()->placeholderText().contains(QStringLiteral("no file")));
        QVERIFY2(panel->caseBox()->placeholderText().contains(QString::number(n) + QStringLiteral(" cases loaded")),
                 qPrintable(panel->caseBox()->placeholderText()));
    }

    void memitEditsSeveralLayers() {
        auto model = std::make_shared<const Model>(loadModel(fixture().toStdString()));
        m_window->workspace()->setModel(model, QString());
        auto* panel = m_window->panel<EditPanel>();
        fillForm(panel);
        panel->methodBox()->setCurrentIndex(1);
        panel->layerBox()->setValue(1);
        panel->memitLayersBox()->setValue(2);  // the fixture's layers 0 and 1
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        QVERIFY2(done.front().front().toBool(), qPrintable(m_window->findChild<JobStatus*>()->currentText()));
        const auto edited = m_window->workspace()->model();
        QCOMPARE(edited->edits.size(), size_t(1));
        QCOMPARE(edited->edits[0].method, std::string("memit"));
        QCOMPARE(edited->edits[0].layers, (std::vector<int>{0, 1}));
    }

    // The folded optimisation settings reach the edit: a tight clamp writes a smaller change.
    void optimisationSettingsReachTheEdit() {
        auto model = std::make_shared<const Model>(loadModel(fixture().toStdString()));
        auto* panel = m_window->panel<EditPanel>();
        fillForm(panel);
        QCOMPARE(panel->settings().value.clampNormFactor, 4.0);  // ROME's reference value
        QCOMPARE(panel->settings().momentWeight, 0.0);
        QVERIFY(!panel->momentWeightBox()->isEnabled());  // MEMIT only
        QVERIFY(!panel->memitPassesBox()->isEnabled());
        QCOMPARE(panel->settings().memitPasses, 1);
        QVERIFY(!panel->nullSpaceBox()->isEnabled());
        QVERIFY(!panel->settings().nullSpace);
        // The step limit, the stop rule and the clamp follow the method (defaultValueParams).
        QVERIFY(panel->settings().value.stopRule == StopRule::Target);
        QCOMPARE(panel->settings().value.steps, defaultValueParams(EditMethod::Rome).steps);
        panel->methodBox()->setCurrentIndex(1);
        QVERIFY(panel->settings().value.stopRule == StopRule::Loss);
        QCOMPARE(panel->settings().value.steps, ValueParams{}.steps);
        QCOMPARE(panel->settings().value.clampNormFactor, 1.0);
        QVERIFY(panel->momentWeightBox()->isEnabled());
        panel->momentWeightBox()->setValue(250.0);
        QCOMPARE(panel->settings().momentWeight, 250.0);
        QVERIFY(panel->memitPassesBox()->isEnabled());
        panel->memitPassesBox()->setValue(2);
        QCOMPARE(panel->settings().memitPasses, 2);
        QVERIFY(panel->nullSpaceBox()->isEnabled());
        panel->nullSpaceBox()->setChecked(true);
        QVERIFY(panel->settings().nullSpace);
        panel->methodBox()->setCurrentIndex(0);
        QVERIFY(!panel->settings().keyContext);  // the method's own
        panel->keyContextBox()->setCurrentIndex(2);
        QVERIFY(panel->settings().keyContext == KeyContext::Prompt);
        panel->keyContextBox()->setCurrentIndex(1);
        QVERIFY(panel->settings().keyContext == KeyContext::Subject);
        panel->keyContextBox()->setCurrentIndex(0);
        auto changeNorm = [&](double clamp) {
            m_window->workspace()->setModel(model, QString());
            panel->layerBox()->setValue(0);  // a new model resets it; layer 1's MLP reaches no logit here
            panel->clampBox()->setValue(clamp);
            panel->stepsBox()->setValue(5);
            QSignalSpy done(panel, &ToolPanel::actionFinished);
            panel->runAction();
            if (!waitFor(done) || !done.front().front().toBool()) return -1.0;
            const EditRecord& e = m_window->workspace()->model()->edits.at(0);
            return double((e.left[0] * e.right[0].transpose()).norm());
        };
        const double loose = changeNorm(4.0), tight = changeNorm(0.05);
        QVERIFY2(tight > 0 && loose > 2 * tight, qPrintable(QStringLiteral("%1 vs %2").arg(loose).arg(tight)));
        // With words before the subject the two key contexts give different update directions.
        panel->promptEdit()->setText(QStringLiteral("my {} is in"));
        auto direction = [&](int keyContext) {
            m_window->workspace()->setModel(model, QString());
            panel->layerBox()->setValue(0);
            panel->keyContextBox()->setCurrentIndex(keyContext);
            QSignalSpy done(panel, &ToolPanel::actionFinished);
            panel->runAction();
            if (!waitFor(done) || !done.front().front().toBool()) return Matrix();
            return Matrix(m_window->workspace()->model()->edits.at(0).right[0]);
        };
        const Matrix subject = direction(1), prompt = direction(2);
        QVERIFY(subject.size() > 0 && subject.size() == prompt.size());
        QVERIFY((subject - prompt).norm() > 1e-3 * subject.norm());
        panel->keyContextBox()->setCurrentIndex(0);
    }

    void savingClearsTheUnsavedMark() {
        auto model = test::withEditRecord(test::randomGpt2(2, 64));
        m_window->workspace()->setModel(model, QString(), /*edited=*/true);
        QVERIFY(m_window->workspace()->hasUnsavedEdits());
        const QString file = m_dir.filePath(QStringLiteral("saved.h5"));
        QSignalSpy saved(m_window->workspace(), &Workspace::saved);
        m_window->workspace()->saveAs(file);
        QVERIFY(waitFor(saved));
        QVERIFY(!m_window->workspace()->hasUnsavedEdits());
        QCOMPARE(m_window->workspace()->modelPath(), file);
        QCOMPARE(loadConfig(file.toStdString()).nLayers, 2);
    }

    void aBadRequestIsOneSentence() {
        m_window->workspace()->setModel(test::randomGpt2(2, 64), QString());
        auto* panel = m_window->panel<EditPanel>();
        fillForm(panel);
        panel->promptEdit()->setText(QStringLiteral("no placeholder here"));
        QSignalSpy errors(panel, &ToolPanel::errorMessage);
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        panel->runAction();
        QVERIFY(waitFor(done));
        QCOMPARE(done.front().front().toBool(), false);
        QCOMPARE(errors.size(), 1);
        QVERIFY(m_window->workspace()->model()->edits.empty());
    }

private:
    // Runs the Edit tab from the Run menu and waits until it has succeeded (else the test fails).
    void runEditTab(EditPanel* panel) {
        QSignalSpy done(panel, &ToolPanel::actionFinished);
        m_window->tabs()->setCurrentWidget(panel);
        m_window->runCurrentTab();
        QVERIFY(waitFor(done));
        QVERIFY2(done.front().front().toBool(), qPrintable(m_window->findChild<JobStatus*>()->currentText()));
    }

    QString fixture() const { return m_dir.filePath(QStringLiteral("golden_gpt2_untied.h5")); }

    void fillForm(EditPanel* panel) {
        panel->subjectEdit()->setText(QStringLiteral("cat"));
        panel->promptEdit()->setText(QStringLiteral("{} is in"));
        panel->targetEdit()->setText(QStringLiteral("dog"));
        panel->trueEdit()->setText(QStringLiteral("the"));
        panel->layerBox()->setValue(0);
        panel->statsTokensBox()->setValue(2000);
        panel->paraphrasesEdit()->setPlainText(QStringLiteral("a cat is in\nmy cat is in"));
        panel->neighboursEdit()->setPlainText(QStringLiteral("the sun is in"));
        panel->corpusEdit()->setText(m_dir.filePath(QStringLiteral("corpus.txt")));
    }

    QTemporaryDir m_dir;
    std::unique_ptr<MainWindow> m_window;
};

QTEST_MAIN(EditTest)
#include "edit_test.moc"
