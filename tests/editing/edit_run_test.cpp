// runEdit, the path from request to recorded edit that the CLI and GUI share.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "editing/edit_history.h"
#include "editing/edit_run.h"
#include "editing/second_moments.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "tests/editing/tiny_corpus.h"
#include "tests/support/temp_dir.h"

namespace mwb {
namespace {

using test_data::kFixtures;

EditSpec tinySpec(EditMethod method, std::vector<int> layers) {
    EditSpec s;
    s.method = method;
    s.layers = std::move(layers);
    s.templates = ContextTemplateOptions{};
    s.templates->lengths = {{2, 3}};
    s.templates->seed = 3;
    s.stats.useCache = false;
    return s;
}

const std::vector<EditRequest> kCat = {{"{} is in", "cat", "dog", ""}};

TEST(EditRun, RomeRecordExplainsTheWeightChangeAndUndoRestoresIt) {
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const Model original = m;
    // Layer 0: in a 2-layer model the last layer's MLP at the subject reaches no logit.
    const EditRun run = runEdit(m, kCat, tinySpec(EditMethod::Rome, {0}), test_data::kTinyCorpus);
    ASSERT_EQ(m.edits.size(), 1u);
    EXPECT_EQ(run.record.method, "rome");
    EXPECT_EQ(run.record.subject, "cat");
    ASSERT_EQ(run.record.layers, std::vector<int>{0});
    // The only change is the recorded rank-one product at layer 0.
    const Matrix delta = m.weights.blocks[0].down.weight - original.weights.blocks[0].down.weight;
    const Matrix recorded = run.record.left[0] * run.record.right[0].transpose();
    EXPECT_LT((delta - recorded).cwiseAbs().maxCoeff(), 1e-6 * (1 + recorded.cwiseAbs().maxCoeff()));
    EXPECT_GT(recorded.norm(), 0.0);
    EXPECT_TRUE(m.weights.blocks[1].down.weight == original.weights.blocks[1].down.weight);
    EXPECT_NEAR(run.weightChange, recorded.norm() / original.weights.blocks[0].down.weight.norm(), 1e-4);
    undoLastEdit(m);
    EXPECT_TRUE(m.weights.blocks[0].down.weight == original.weights.blocks[0].down.weight);
}

// The method's own templates, shortened for a small context: the fixtures have 24
// positions and spell every byte as a token, so MEMIT's "Therefore" (9 tokens) and
// "Because" (7) would not leave room for the prompt and target.
TEST(EditRun, ReferenceTemplatesFitASmallContext) {
    for (EditMethod method : {EditMethod::Rome, EditMethod::Memit}) {
        Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
        EditSpec s = tinySpec(method, {0});
        s.templates.reset();
        s.value = defaultValueParams(method);
        s.value->steps = 2;
        EXPECT_NO_THROW(runEdit(m, kCat, s, test_data::kTinyCorpus)) << toString(method);
        EXPECT_EQ(m.edits.size(), 1u);
    }
}

TEST(EditRun, MemitRecordsOneFactorPairPerLayer) {
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const Model original = m;
    const std::vector<EditRequest> two = {kCat[0], {"{} is", "mat", "hat", ""}};
    const EditRun run = runEdit(m, two, tinySpec(EditMethod::Memit, {1, 0}), test_data::kTinyCorpus);
    EXPECT_EQ(run.record.subject, "2 subjects");
    ASSERT_EQ(run.record.layers, (std::vector<int>{0, 1}));  // sorted
    for (int i = 0; i < 2; ++i) {
        const Matrix delta = m.weights.blocks[i].down.weight - original.weights.blocks[i].down.weight;
        const Matrix recorded = run.record.left[i] * run.record.right[i].transpose();
        EXPECT_LT((delta - recorded).cwiseAbs().maxCoeff(), 1e-5 * (1 + recorded.cwiseAbs().maxCoeff())) << i;
    }
    undoLastEdit(m);
    for (int i = 0; i < 2; ++i) EXPECT_TRUE(m.weights.blocks[i].down.weight == original.weights.blocks[i].down.weight);
}

// Sequential AlphaEdit through the records: a null-space edit keeps the keys of the
// edits already in the model (its K_p), also after the model was saved and reloaded,
// and without them it moves the earlier edit's key much more.
TEST(EditRun, NullSpaceEditsKeepTheKeysOfTheModelsEarlierEdits) {
    Model first = loadModel(kFixtures + "golden_gpt2_untied.h5");
    EditSpec s = tinySpec(EditMethod::Memit, {0});
    s.nullSpace = true;
    s.nullSpaceThreshold = 0.05;
    runEdit(first, kCat, s, test_data::kTinyCorpus);
    ASSERT_EQ(first.edits[0].keys.size(), 1u);
    const Matrix kp = first.edits[0].keys[0];
    ASSERT_EQ(kp.rows(), first.config.dFf);
    ASSERT_EQ(kp.cols(), 1);
    const std::vector<EditRequest> second = {{"{} sat on", "mat", "hat", ""}};
    auto secondDelta = [&](Model m) {
        const Matrix before = m.weights.blocks[0].down.weight;
        runEdit(m, second, s, test_data::kTinyCorpus);
        return Matrix(m.weights.blocks[0].down.weight - before);
    };
    const Matrix kept = secondDelta(first);
    Model forgotten = first;
    forgotten.edits[0].keys.clear();
    const Matrix moved = secondDelta(forgotten);
    ASSERT_GT(kept.norm(), 1e-4);
    EXPECT_LT((kept * kp).norm(), 0.5 * (moved * kp).norm());
    // The keys travel with the file: the same edit on the reloaded model.
    test::TempDir dir;
    saveModel(first, dir / "first.h5");
    const Matrix reloaded = secondDelta(loadModel(dir / "first.h5"));
    EXPECT_TRUE(reloaded == kept);
}

// Two edits of layer 0 (the second also of layer 1): weightsBeforeEdits gives
// back the weights before the first, bit for bit from the records, up to rounding
// from the factors when a record lacks them.
TEST(EditRun, WeightsBeforeEditsUndoEveryRecord) {
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const Model original = m;
    EXPECT_TRUE(weightsBeforeEdits(m).empty());
    runEdit(m, kCat, tinySpec(EditMethod::Rome, {0}), test_data::kTinyCorpus);
    EditRecord twoLayers;
    twoLayers.layers = {1, 0};
    for (int i = 0; i < 2; ++i) {
        twoLayers.left.push_back(Matrix::Random(m.config.dModel, 2));
        twoLayers.right.push_back(Matrix::Random(m.config.dFf, 2));
    }
    applyEdit(m, twoLayers);
    const auto before = weightsBeforeEdits(m);
    ASSERT_EQ(before.size(), 2u);
    for (int l : {0, 1}) {
        EXPECT_TRUE(before.at({l, -1}) == original.weights.blocks[l].down.weight) << l;
        EXPECT_FALSE(m.weights.blocks[l].down.weight == original.weights.blocks[l].down.weight) << l;
    }
    for (auto& e : m.edits) e.before.clear();
    const Matrix fromFactors = weightsBeforeEdits(m).at({0, -1});
    const Matrix& w0 = original.weights.blocks[0].down.weight;
    EXPECT_LT((fromFactors - w0).cwiseAbs().maxCoeff(), 1e-5 * (1 + w0.cwiseAbs().maxCoeff()));
}

// An edit of a model that already has one reads C of its current weights (by default)
// or of the unedited model (the reference code's); either way the weights are back as
// they were after the statistics pass, also when it is cancelled.
TEST(EditRun, StatisticsAreTheCurrentOrTheUneditedModels) {
    const Model original = loadModel(kFixtures + "golden_gpt2_untied.h5");
    Model edited = original;
    runEdit(edited, kCat, tinySpec(EditMethod::Rome, {0}), test_data::kTinyCorpus);
    const Matrix editedW0 = edited.weights.blocks[0].down.weight;
    // The cache files each model's own layer-1 statistics are written to.
    auto files = [](const std::filesystem::path& dir) {
        std::set<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
        return names;
    };
    auto cacheOf = [&](const Model& model, const test::TempDir& dir) {
        SecondMomentOptions o = tinySpec(EditMethod::Rome, {1}).stats;
        o.useCache = true;
        o.cacheDir = dir.path();
        secondMoments(model, {1}, test_data::kTinyCorpus, o);
        return files(dir.path());
    };
    const test::TempDir originalDir, editedDir;
    const auto originalFiles = cacheOf(original, originalDir), editedFiles = cacheOf(edited, editedDir);
    ASSERT_EQ(originalFiles.size(), 1u);
    ASSERT_NE(originalFiles, editedFiles);
    // Stop once the statistics are done.
    const ProgressFn afterStatistics = [](const Progress& p) { return p.stage == "statistics"; };
    for (bool unedited : {true, false}) {
        test::TempDir dir;
        EditSpec s = tinySpec(EditMethod::Rome, {1});
        s.stats.useCache = true;
        s.stats.cacheDir = dir.path();
        s.statsOfUneditedModel = unedited;
        Model m = edited;
        EXPECT_THROW(runEdit(m, {{"{} sat on", "mat", "a", ""}}, s, test_data::kTinyCorpus, afterStatistics),
                     Cancelled);
        EXPECT_EQ(files(dir.path()), unedited ? originalFiles : editedFiles);
        EXPECT_TRUE(m.weights.blocks[0].down.weight == editedW0);
        // Cancelled within the statistics pass.
        s.stats.useCache = false;
        EXPECT_THROW(runEdit(m, {{"{} sat on", "mat", "a", ""}}, s, test_data::kTinyCorpus,
                             [](const Progress&) { return false; }),
                     Cancelled);
        EXPECT_TRUE(m.weights.blocks[0].down.weight == editedW0);
        EXPECT_EQ(m.edits.size(), 1u);
    }
}

TEST(EditRun, CancelledMemitLeavesTheModelUnchanged) {
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const Model original = m;
    // Stop before the second layer's update, after the first layer's was written
    // (MEMIT reports "layers" as done = requests + layers finished).
    const ProgressFn stopLate = [](const Progress& p) { return !(p.stage == "layers" && p.done >= 2); };
    EXPECT_THROW(runEdit(m, kCat, tinySpec(EditMethod::Memit, {0, 1}), test_data::kTinyCorpus, stopLate), Cancelled);
    EXPECT_TRUE(m.edits.empty());
    for (int i = 0; i < 2; ++i) EXPECT_TRUE(m.weights.blocks[i].down.weight == original.weights.blocks[i].down.weight);
}

TEST(EditRun, BadSpecsAreRefused) {
    Model m = loadModel(kFixtures + "golden_gpt2_untied.h5");
    const auto& corpus = test_data::kTinyCorpus;
    EXPECT_THROW(runEdit(m, kCat, tinySpec(EditMethod::Rome, {2}), corpus), InvalidInput);     // 2 layers only
    EXPECT_THROW(runEdit(m, kCat, tinySpec(EditMethod::Rome, {0, 1}), corpus), InvalidInput);  // ROME: one layer
    EXPECT_THROW(runEdit(m, {kCat[0], kCat[0]}, tinySpec(EditMethod::Rome, {0}), corpus), InvalidInput);
    EXPECT_THROW(runEdit(m, {}, tinySpec(EditMethod::Rome, {0}), corpus), InvalidInput);
    EXPECT_THROW(runEdit(m, {{"{} is in", "cat", "", ""}}, tinySpec(EditMethod::Rome, {0}), corpus), InvalidInput);
    EXPECT_THROW(parseEditMethod("lora"), InvalidInput);
    EXPECT_TRUE(m.edits.empty());
    EXPECT_EQ(memitLayersEndingAt(1), (std::vector<int>{0, 1}));
    EXPECT_EQ(memitLayersEndingAt(5, 2), (std::vector<int>{4, 5}));
}

}  // namespace
}  // namespace mwb
