// The shipped demo model: it loads, knows its facts at the accuracy docs/demo-model.md
// reports (minus a small margin), and a ROME edit flips a fact while its neighbours
// keep theirs.
#include <gtest/gtest.h>

#include <filesystem>

#include "editing/edit_run.h"
#include "editing/knowledge_eval.h"
#include "tokenizer/continuation.h"
#include "data/datasets.h"
#include "io/hdf5_model_file.h"
#include "model/transformer.h"

namespace mwb {
namespace {

const std::string kResources = std::string(MWB_SOURCE_DIR) + "/resources/";

// A fixed sample: every 4th fact.
std::vector<KnownFact> everyFourth(const std::string& file) {
    const auto facts = loadKnownFacts(kResources + "data/" + file);
    std::vector<KnownFact> sample;
    for (size_t i = 0; i < facts.size(); i += 4) sample.push_back(facts[i]);
    return sample;
}

TEST(DemoModel, KnowsItsFactsAtTheReportedAccuracy) {
    const Model m = loadModel(kResources + "models/demo.h5");
    EXPECT_EQ(m.config.nLayers, 8);
    EXPECT_EQ(m.config.architecture, Architecture::Gpt2);
    // docs/demo-model.md reports 99.27 % on all 1,914 facts, 82.05 % in the held-out
    // templates and 66.2 % in the unseen phrasings; on these samples the model scores
    // 99.79, 87.57 and 72.20 % (every 4th record of the paraphrase sets is always its
    // relation's first template of the two).
    EXPECT_GT(evaluateKnowledge(m, everyFourth("facts.json")).firstTokenAccuracy, 99.79 - 2.0);
    EXPECT_GT(evaluateKnowledge(m, everyFourth("paraphrase_facts.json")).firstTokenAccuracy, 87.57 - 5.0);
    EXPECT_GT(evaluateKnowledge(m, everyFourth("unseen_phrasing_facts.json")).firstTokenAccuracy, 72.20 - 5.0);
}

int topToken(const Model& m, const std::string& prompt) {
    Eigen::Index top;
    Transformer(m).run(m.tokenizer.encodeIds(prompt)).lastLogits().maxCoeff(&top);
    return static_cast<int>(top);
}

TEST(DemoModel, RomeEditFlipsTheFactAndKeepsItsNeighbours) {
    Model m = loadModel(kResources + "models/demo.h5");
    const std::string rewrite = "The Eiffel Tower is located in the city of";
    const std::vector<std::string> neighbours = {"The Louvre is located in the city of",
                                                 "The Notre-Dame Cathedral is located in the city of",
                                                 "LVMH is headquartered in the city of"};
    const int paris = continuationIds(m.tokenizer, rewrite, "Paris")[0];
    const int rome = continuationIds(m.tokenizer, rewrite, "Rome")[0];
    ASSERT_EQ(topToken(m, rewrite), paris);
    for (const auto& n : neighbours) ASSERT_EQ(topToken(m, n), paris) << n;

    EditSpec spec;
    spec.layers = {0};  // where causal tracing of the MLP at "Tower" peaks
    // ROME's defaults. Stopping on the whole loss (the reference's rule, which on this
    // model runs every step) also moved "The Louvre" to Rome (docs/editing.md).
    spec.stats.maxTokens = 20000;
    spec.stats.useCache = false;
    runEdit(m, {{"The {} is located in the city of", "Eiffel Tower", "Rome", "Paris"}}, spec,
            readTextFile(kResources + "data/corpus.txt"));
    EXPECT_EQ(topToken(m, rewrite), rome);
    for (const auto& n : neighbours) EXPECT_EQ(topToken(m, n), paris) << n;
}

}  // namespace
}  // namespace mwb
