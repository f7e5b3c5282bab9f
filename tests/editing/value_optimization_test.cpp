// Placing an edit request in its context templates: the subject keeps the tokens
// it has in the prompt, so k* averages keys of the tokens the prompt is edited at.
// Uses the demo model's byte-level BPE, which splits "Norway" at the start of a
// text ("Nor" "way") differently from " Norway" after a space.
#include <gtest/gtest.h>

#include "editing/value_optimization.h"
#include "model/model_file.h"

namespace mwb {
namespace {

const std::vector<std::string> kTemplates = {"{}", "The river was wide. {}", "The day was long and cold. {}"};

class PlaceRequest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        model = new Model(loadModel(std::string(MWB_SOURCE_DIR) + "/resources/models/demo.h5"));
    }
    static void TearDownTestSuite() { delete model; }
    static std::vector<int> ids(const std::string& text) { return model->tokenizer.encodeIds(text); }
    static Model* model;
};
Model* PlaceRequest::model = nullptr;

TEST_F(PlaceRequest, SubjectOpeningThePromptKeepsItsTokensInEveryContext) {
    const std::vector<int> bare = ids("Norway is located in");
    const std::vector<int> spaced = ids(" Norway");
    ASSERT_EQ(ids("Norway").size(), 2u);  // the scenario: "Nor" "way" vs one token
    ASSERT_EQ(spaced.size(), 1u);
    const EditRequest r{"{} is located in", "Norway", "Africa", ""};
    const PlacedRequest p = placeRequest(*model, r, kTemplates, FactToken::SubjectLast);
    ASSERT_EQ(p.ids.size(), 3u);
    EXPECT_EQ(p.ids[0], bare);
    EXPECT_EQ(p.lookup[0], 1);
    for (size_t j = 1; j < p.ids.size(); ++j) {
        // The prefix, a line break, then the prompt's own tokens.
        std::vector<int> expected = ids(kTemplates[j].substr(0, kTemplates[j].size() - 3) + "\n");
        const int lookup = static_cast<int>(expected.size()) + 1;
        expected.insert(expected.end(), bare.begin(), bare.end());
        EXPECT_EQ(p.ids[j], expected) << kTemplates[j];
        EXPECT_EQ(p.lookup[j], lookup) << kTemplates[j];
    }
    // The reference code's join: " Norway", one token, is the lookup.
    const PlacedRequest paper = placeRequest(*model, r, kTemplates, FactToken::SubjectLast, false);
    EXPECT_EQ(paper.ids[1], ids("The river was wide. Norway is located in"));
    EXPECT_EQ(paper.ids[1][paper.lookup[1]], spaced[0]);
    // Subject first: the first subject token of the prompt ("Nor") in every context.
    const PlacedRequest first = placeRequest(*model, r, kTemplates, FactToken::SubjectFirst);
    for (size_t j = 0; j < first.ids.size(); ++j) EXPECT_EQ(first.ids[j][first.lookup[j]], bare[0]);
}

TEST_F(PlaceRequest, SubjectInsideThePromptIsJoinedAsInThePaper) {
    const EditRequest r{"The capital of {} is", "Norway", "Rome", ""};
    const PlacedRequest p = placeRequest(*model, r, kTemplates, FactToken::SubjectLast);
    for (size_t j = 0; j < kTemplates.size(); ++j) {
        const std::string text = kTemplates[j].substr(0, kTemplates[j].size() - 2) + "The capital of Norway is";
        EXPECT_EQ(p.ids[j], ids(text)) << text;
        EXPECT_EQ(p.ids[j][p.lookup[j]], ids(" Norway")[0]);
        EXPECT_EQ(p.lookup[j] + 2, static_cast<int>(p.ids[j].size()));  // " Norway" " is"
    }
}

}  // namespace
}  // namespace mwb
