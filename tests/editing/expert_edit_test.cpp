// Editing experts of a mixture-of-experts model with ROME: the expert's keys, its
// second moments over the tokens routed to it, the update divided by the mixing weight,
// the record in the file, undo, diff, the routing report and the refusals, on tiny
// random models.
#include <gtest/gtest.h>

#include <algorithm>

#include "data/datasets.h"
#include "editing/edit_history.h"
#include "editing/edit_run.h"
#include "editing/memit.h"
#include "editing/model_diff.h"
#include "editing/rome.h"
#include "editing/routing_change.h"
#include "editing/second_moments.h"
#include "io/hdf5_model_file.h"
#include "model/transformer.h"
#include "model/weight_overrides.h"
#include "tensor/errors.h"
#include "tests/editing/tiny_corpus.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_models.h"

namespace mwb {
namespace {

const std::string& kCorpus = test_data::kTinyCorpus;

// Not renormalised: the mixing weights are then not 1 in sum, and the scaling shows.
Model moeModel() { return makeTinyModel(Architecture::Llama, 5, tinyMoeOptions(false)); }

RomeParams tinyParams(int layer) {
    RomeParams p;
    p.layer = layer;
    p.templates.lengths = {{2, 3}};
    p.templates.seed = 3;
    p.factToken = FactToken::Last;
    p.keyMode = KeyMode::Original;  // the update delivers exactly δ at the bare prompt
    p.value.steps = 10;
    p.value.weightDecay = 0;
    return p;
}

const EditRequest kRequest = {"{} is in", "cat", "dog", ""};

MatrixD expertMoment(const Model& m, int layer, int expert) {
    SecondMomentOptions o;
    o.useCache = false;
    return keySecondMoments(m, {{layer, expert}}, kCorpus, o).at({layer, expert}).moment;
}

std::vector<int> bareIds(const Model& m) { return m.tokenizer.encodeIds("cat is in"); }

// The update adds δ / g to the expert's output at the bare prompt's key, and the
// mixture multiplies the expert's output by g: the layer's output changes by δ there.
TEST(ExpertEdit, TheLayersOutputAtTheSubjectChangesByDelta) {
    Model m = moeModel();
    const int layer = 1;
    const std::vector<int> ids = bareIds(m);
    const int last = int(ids.size()) - 1;
    Hooks capture;
    capture.captures = {{HookSite::MlpOut, layer}};
    const RunState before = Transformer(m).run(ids, capture, LogitsMode::None, layer + 1);
    const int top = before.routing[layer].experts(last, 0);

    const RomeParams p = tinyParams(layer);
    const RomeResult r = computeRome(m, kRequest, p, expertMoment(m, layer, top));
    EXPECT_EQ(r.expert, top);
    EXPECT_FLOAT_EQ(float(r.mixingWeight), before.routing[layer].weights(last, 0));
    EXPECT_LT(r.mixingWeight, 0.99);
    ASSERT_GT(r.delta.norm(), 0);
    EXPECT_EQ(r.right.size(), 8);

    const Matrix untouched = m.weights.blocks[layer].moe.experts[size_t((top + 1) % 5)].down.weight;
    applyRankOne(m, layer, r.left, r.right, r.expert);
    const RunState after = Transformer(m).run(ids, capture, LogitsMode::None, layer + 1);
    const Vector change = (after.captured.at({HookSite::MlpOut, layer}).row(last) -
                           before.captured.at({HookSite::MlpOut, layer}).row(last))
                              .transpose();
    EXPECT_LT((change - r.delta).norm(), 1e-4 * (1 + r.delta.norm())) << change.norm() << " vs " << r.delta.norm();
    EXPECT_TRUE(m.weights.blocks[layer].moe.experts[size_t((top + 1) % 5)].down.weight == untouched);
}

// Where the router sends the token elsewhere, the expert's key is still the input of its
// down projection: the same as a run in which the other experts are removed from the
// layer's routing, so that the token is routed to it.
TEST(ExpertEdit, AnExpertsKeyWhereTheTokenGoesElsewhereIsItsOwn) {
    const Model m = moeModel();
    const int layer = 1;
    const std::vector<int> ids = bareIds(m);
    const int last = int(ids.size()) - 1;
    const RunState s = Transformer(m).run(ids, {}, LogitsMode::None, layer + 1);
    int other = 0;
    while (other == s.routing[layer].experts(last, 0) || other == s.routing[layer].experts(last, 1)) ++other;

    PlacedRequest placed;
    placed.ids = {ids};
    placed.lookup = {last};
    const RequestKeys keys = requestKeys(m, placed, layer, {}, other);
    EXPECT_EQ(keys.mixingWeightBare, 0.0);
    EXPECT_EQ(keys.routedBare, (std::vector<int>{s.routing[layer].experts(last, 0), s.routing[layer].experts(last, 1)}));

    WeightOverrides onlyTwo;
    for (int e = 0, kept = 0; e < 5; ++e)
        if (e != other && kept++ > 0) onlyTwo.removeExpert(m, layer, e);
    Hooks capture;
    capture.captures = {{HookSite::ExpertIn, layer, other}};
    const RunState routed = Transformer(m, &onlyTwo).run(ids, capture, LogitsMode::None, layer + 1);
    const Vector expected = routed.capturedExperts.at({HookSite::ExpertIn, layer, other}).row(last).transpose();
    ASSERT_GT(expected.norm(), 0);
    EXPECT_LT((keys.keyBare - expected).norm(), 1e-6 * expected.norm());
    EXPECT_EQ(keys.mlpOutBare.size(), m.config.dModel);
}

// C of an expert: the mean of k kᵀ over the (token, choice) pairs routed to it, by hand
// from each corpus line's run (every line fits the context: one chunk each).
TEST(ExpertEdit, SecondMomentsAreOverTheTokensRoutedToTheExpert) {
    const Model m = moeModel();
    const int layer = 2;
    SecondMomentOptions o;
    o.useCache = false;
    const auto moments = keySecondMoments(m, {{layer, 0}, {layer, 3}, {1, 1}}, kCorpus, o);
    for (int expert : {0, 3}) {
        MatrixD sum = MatrixD::Zero(8, 8);
        long n = 0;
        Hooks capture;
        capture.captures = {{HookSite::ExpertIn, layer, expert}};
        for (const std::string& line : splitDocuments(kCorpus)) {
            const RunState s = Transformer(m).run(m.tokenizer.encodeIds(line), capture, LogitsMode::None);
            const Matrix& keys = s.capturedExperts.at({HookSite::ExpertIn, layer, expert});
            for (int t = 0; t < s.nTokens; ++t)
                if (s.routing[layer].experts(t, 0) == expert || s.routing[layer].experts(t, 1) == expert) {
                    sum += keys.row(t).transpose().cast<double>() * keys.row(t).cast<double>();
                    ++n;
                }
        }
        const SecondMoment& got = moments.at({layer, expert});
        ASSERT_GT(n, 0);
        EXPECT_EQ(got.tokens, n) << expert;
        EXPECT_EQ(got.expert, expert);
        EXPECT_LT((got.moment - sum / double(n)).norm(), 1e-9 * (sum / double(n)).norm()) << expert;
    }
}

// runEdit picks the subject's top expert, records it, the file keeps it, undo restores
// the expert's weights bit for bit, and diff explains the changed tensor by the record.
TEST(ExpertEdit, RecordFileUndoAndDiff) {
    Model m = moeModel();
    const Model original = m;
    EditSpec spec;
    spec.layers = {1};
    spec.factToken = FactToken::Last;
    spec.templates = tinyParams(1).templates;
    spec.value = tinyParams(1).value;
    spec.stats.useCache = false;
    const EditRun run = runEdit(m, {kRequest}, spec, kCorpus);
    const RunState s = Transformer(original).run(bareIds(original), {}, LogitsMode::None, 2);
    const int top = s.routing[1].experts(int(bareIds(original).size()) - 1, 0);
    ASSERT_EQ(run.record.experts, std::vector<int>{top});
    EXPECT_EQ(editedPlaces(m.edits.back()), "layer 1, expert " + std::to_string(top));
    EXPECT_FALSE(editedDown(m.weights, 1, top) == editedDown(original.weights, 1, top));

    test::TempDir dir;
    saveModel(m, dir / "edited.h5");
    Model loaded = loadModel(dir / "edited.h5");
    ASSERT_EQ(loaded.edits.size(), 1u);
    EXPECT_EQ(loaded.edits[0].experts, std::vector<int>{top});
    EXPECT_EQ(loaded.edits[0].right[0].rows(), 8);
    EXPECT_TRUE(editedDown(loaded.weights, 1, top) == editedDown(m.weights, 1, top));

    const ModelDiff d = diffModels(original, loaded);
    ASSERT_EQ(d.tensors.size(), 1u);
    EXPECT_EQ(d.tensors[0].path, editedDownPath(1, top));
    EXPECT_TRUE(d.tensors[0].explained);
    EXPECT_EQ(d.tensors[0].rank, 1);

    undoLastEdit(loaded);
    EXPECT_TRUE(editedDown(loaded.weights, 1, top) == editedDown(original.weights, 1, top));
    EXPECT_TRUE(diffModels(original, loaded).identical);
}

// The edit's layer and those below route as before (routing at a layer is decided
// before its down projections); above it, the places that change are exactly those whose
// sets of experts differ.
TEST(ExpertEdit, RoutingChangeIsAboveTheEditedLayerAndCountedExactly) {
    Model m = moeModel();
    const std::vector<std::string> prompts = {"cat is in", "the dog is on the mat", "a bird sat"};
    const RoutingSnapshot before = routingSnapshot(m, prompts);
    EXPECT_EQ(routingChange(before, before, m.config).changed(), 0);
    // A large change of one expert at layer 0, so that later routing moves.
    auto& w = editedDown(m.weights, 0, 1);
    w += Matrix::Constant(w.rows(), w.cols(), 0.8f);
    const RoutingSnapshot after = routingSnapshot(m, prompts);
    const RoutingChange change = routingChange(before, after, m.config);
    long expected = 0, places = 0;
    for (size_t p = 0; p < prompts.size(); ++p)
        for (size_t l = 0; l < 3; ++l)
            for (size_t t = 0; t < before.experts[p][l].size(); ++t) {
                ++places;
                auto x = before.experts[p][l][t], y = after.experts[p][l][t];
                std::sort(x.begin(), x.end());
                std::sort(y.begin(), y.end());
                expected += x != y;
                if (l == 0) EXPECT_EQ(x, y);
            }
    EXPECT_EQ(change.places(), places);
    EXPECT_EQ(change.changed(), expected);
    EXPECT_GT(expected, 0);
    for (const auto& p : change.prompts)
        for (const auto& at : p.changes) EXPECT_GT(at.layer, 0);
    EXPECT_EQ(toJson(change)["changed"], expected);
}

// MEMIT on one sparse layer with little regularisation, bare prompts only (k* is the
// prompt's own key): each request's top expert is asked for R / g, so the layer's
// output at the request moves by its whole residual, z − h = δ (eq. 14 with λ → 0),
// though the update is written into the expert and mixed with its weight.
TEST(ExpertEdit, MemitDeliversEachRequestsResidualThroughItsExpert) {
    Model m = moeModel();
    const Model original = m;
    const int layer = 1;
    MemitParams p;
    p.layers = {layer};
    p.factToken = FactToken::Last;
    p.templates.lengths = {};
    p.momentWeight = 1e-6;
    const std::vector<EditRequest> one = {kRequest};
    p.experts = subjectExperts(m, one, p.layers, p.factToken);
    const RunState s = Transformer(m).run(bareIds(m), {}, LogitsMode::None, layer + 1);
    const int last = int(bareIds(m).size()) - 1;
    ASSERT_EQ(p.experts.at(layer), std::vector<int>{s.routing[layer].experts(last, 0)});
    const int expert = p.experts.at(layer)[0];
    const MemitResult r = applyMemit(m, one, p, {{{layer, expert}, expertMoment(m, layer, expert)}});
    ASSERT_EQ(r.updates.size(), 1u);
    EXPECT_EQ(r.updates[0].expert, expert);
    EXPECT_EQ(r.updates[0].right.rows(), 8);
    const PlacedRequest bare = placeRequest(m, kRequest, {"{}"}, FactToken::Last);
    const Vector moved = residualAtLookup(m, bare, layer) - residualAtLookup(original, bare, layer);
    const Vector& delta = r.targets[0].delta;
    ASSERT_GT(delta.norm(), 0);
    EXPECT_LT((moved - delta).norm(), 1e-3 * delta.norm()) << moved.norm() << " vs " << delta.norm();
    for (int e = 0; e < 5; ++e)
        EXPECT_EQ(editedDown(m.weights, layer, e) == editedDown(original.weights, layer, e), e != expert) << e;
}

// runEdit's MEMIT on sparse layers: one record entry per (layer, expert) the requests
// are routed to, experts recorded, undone bit for bit.
TEST(ExpertEdit, MemitRecordsOneEntryPerEditedExpert) {
    Model m = moeModel();
    const Model original = m;
    EditSpec spec;
    spec.method = EditMethod::Memit;
    spec.layers = {0, 1};
    spec.factToken = FactToken::Last;
    spec.templates = ContextTemplateOptions{};
    spec.templates->lengths = {};
    spec.stats.useCache = false;
    const std::vector<EditRequest> requests = {kRequest, {"{} sat on", "the dog", "mat", ""}};
    const auto assigned = subjectExperts(m, requests, {0, 1}, FactToken::Last);
    runEdit(m, requests, spec, kCorpus);
    const EditRecord& e = m.edits.back();
    std::vector<std::pair<int, int>> expected;
    for (int l : {0, 1})
        for (int x : assigned.at(l))
            if (std::find(expected.begin(), expected.end(), std::pair{l, x}) == expected.end()) expected.push_back({l, x});
    std::sort(expected.begin(), expected.end());
    ASSERT_EQ(e.layers.size(), expected.size());
    for (size_t j = 0; j < expected.size(); ++j) {
        EXPECT_EQ(e.layers[j], expected[j].first);
        EXPECT_EQ(e.experts[j], expected[j].second);
    }
    undoLastEdit(m);
    for (int l : {0, 1})
        for (int x = 0; x < 5; ++x) EXPECT_TRUE(editedDown(m.weights, l, x) == editedDown(original.weights, l, x));
}

TEST(ExpertEdit, RefusesWhatCannotBeEdited) {
    Model m = moeModel();
    const int layer = 1;
    const std::vector<int> ids = bareIds(m);
    const RunState s = Transformer(m).run(ids, {}, LogitsMode::None, layer + 1);
    int other = 0;
    const int last = int(ids.size()) - 1;
    while (other == s.routing[layer].experts(last, 0) || other == s.routing[layer].experts(last, 1)) ++other;
    RomeParams p = tinyParams(layer);
    p.expert = other;  // the subject's token does not go there
    EXPECT_THROW(computeRome(m, kRequest, p, expertMoment(m, layer, other)), InvalidInput);
    p.expert = 7;  // no such expert
    EXPECT_THROW(computeRome(m, kRequest, p, MatrixD::Identity(8, 8)), InvalidInput);

    MemitParams noExperts;
    noExperts.layers = {1};
    EXPECT_THROW(applyMemit(m, {kRequest}, noExperts, std::map<KeySite, MatrixD>{}), InvalidInput);

    EditRecord mlpOfSparseLayer;
    mlpOfSparseLayer.layers = {1};
    mlpOfSparseLayer.left = {Matrix::Zero(m.config.dModel, 1)};
    mlpOfSparseLayer.right = {Matrix::Zero(8, 1)};
    EXPECT_THROW(applyEdit(m, mlpOfSparseLayer), InvalidInput);  // names no expert
    mlpOfSparseLayer.experts = {2};
    mlpOfSparseLayer.right = {Matrix::Zero(m.config.dFf, 1)};
    EXPECT_THROW(applyEdit(m, mlpOfSparseLayer), InvalidInput);  // wrong width
    EXPECT_TRUE(m.edits.empty());

    TinyModelOptions dense;
    dense.nLayers = 2;
    Model d = makeTinyModel(Architecture::Llama, 5, dense);
    EditRecord expertOfDense;
    expertOfDense.layers = {0};
    expertOfDense.experts = {0};
    expertOfDense.left = {Matrix::Zero(d.config.dModel, 1)};
    expertOfDense.right = {Matrix::Zero(d.config.dFf, 1)};
    EXPECT_THROW(applyEdit(d, expertOfDense), InvalidInput);
    SecondMomentOptions o;
    o.useCache = false;
    EXPECT_THROW(keySecondMoments(d, {{0, 0}}, kCorpus, o), InvalidInput);
}

}  // namespace
}  // namespace mwb
