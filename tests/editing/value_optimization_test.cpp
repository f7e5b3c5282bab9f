// Placing an edit request in its context templates: the subject keeps the tokens
// it has in the prompt, so k* averages keys of the tokens the prompt is edited at.
// Uses the demo model's byte-level BPE, which splits "Norway" at the start of a
// text ("Nor" "way") differently from " Norway" after a space.
#include <gtest/gtest.h>

#include "editing/value_optimization.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "model/transformer.h"

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

// The paper's k* context, x_j + s: the relation's words are left out and the subject
// keeps the tokens the prompt gives it.
TEST_F(PlaceRequest, SubjectContextDropsTheRelationsWords) {
    const std::vector<int> spaced = ids(" Norway"), bare = ids("Norway");
    ASSERT_EQ(spaced.size(), 1u);
    ASSERT_EQ(bare.size(), 2u);
    // Inside the prompt: " Norway", one token, after each prefix's space; alone in [0].
    const EditRequest inside{"The capital of {} is", "Norway", "Rome", ""};
    const PlacedRequest p = placeSubject(*model, inside, kTemplates, FactToken::SubjectLast);
    ASSERT_EQ(p.ids.size(), kTemplates.size());
    EXPECT_EQ(p.ids[0], spaced);
    EXPECT_EQ(p.lookup[0], 0);
    for (size_t j = 1; j < kTemplates.size(); ++j) {
        EXPECT_EQ(p.ids[j], ids(kTemplates[j].substr(0, kTemplates[j].size() - 2) + "Norway")) << kTemplates[j];
        EXPECT_EQ(p.lookup[j], static_cast<int>(p.ids[j].size()) - 1);
        EXPECT_EQ(p.ids[j].back(), spaced[0]);
    }
    // Opening the prompt: "Nor" "way", after a line break where the space would merge it.
    const EditRequest opening{"{} is located in", "Norway", "Africa", ""};
    const PlacedRequest q = placeSubject(*model, opening, kTemplates, FactToken::SubjectLast);
    EXPECT_EQ(q.ids[0], bare);
    EXPECT_EQ(q.lookup[0], 1);
    for (size_t j = 1; j < kTemplates.size(); ++j)
        EXPECT_EQ(q.ids[j], ids(kTemplates[j].substr(0, kTemplates[j].size() - 3) + "\nNorway")) << kTemplates[j];
    const PlacedRequest firstToken = placeSubject(*model, opening, kTemplates, FactToken::SubjectFirst);
    for (size_t j = 0; j < kTemplates.size(); ++j)
        EXPECT_EQ(firstToken.ids[j][firstToken.lookup[j]], bare[0]);
    // 'last' is a prompt position: the prompt's placement is used, and placeSubject refuses.
    EXPECT_THROW(placeSubject(*model, opening, kTemplates, FactToken::Last), InvalidInput);
    const PlacedRequest inPrompt = placeRequest(*model, opening, kTemplates, FactToken::Last);
    EXPECT_EQ(keyPlacement(*model, opening, kTemplates, FactToken::Last, KeyContext::Subject, inPrompt).ids,
              inPrompt.ids);
    EXPECT_EQ(keyPlacement(*model, inside, kTemplates, FactToken::SubjectLast, KeyContext::Prompt, inPrompt).ids,
              inPrompt.ids);
    EXPECT_EQ(parseKeyContext("subject"), KeyContext::Subject);
    EXPECT_EQ(toString(KeyContext::Prompt), "prompt");
    EXPECT_THROW(parseKeyContext("relation"), InvalidInput);
}

TEST(KeyWeights, RomeAveragesEveryTemplateMemitTheBarePromptAndEachLength) {
    const std::vector<double> rome = keyWeights(ContextTemplateOptions{});
    ASSERT_EQ(rome.size(), 21u);
    for (double w : rome) EXPECT_DOUBLE_EQ(w, 1.0 / 21);
    const std::vector<double> memit = keyWeights(memitContextTemplates());
    ASSERT_EQ(memit.size(), 6u);
    EXPECT_DOUBLE_EQ(memit[0], 0.5);
    for (size_t j = 1; j < 6; ++j) EXPECT_DOUBLE_EQ(memit[j], 0.1);
    ContextTemplateOptions two;
    two.lengths = {{5, 2}, {10, 4}};
    two.averagePerLength = true;
    EXPECT_EQ(keyWeights(two), (std::vector<double>{1.0 / 3, 1.0 / 6, 1.0 / 6, 1.0 / 12, 1.0 / 12, 1.0 / 12,
                                                    1.0 / 12}));
}

TEST_F(PlaceRequest, MemitTemplatesStartWithItsFiveWordsAndWeighTheKeys) {
    ContextTemplateOptions o = memitContextTemplates();
    o.lengths = {{3, 5}};  // short texts: the test is about their openings
    const std::vector<std::string> templates = contextTemplates(*model, o);
    ASSERT_EQ(templates.size(), 6u);
    EXPECT_EQ(templates[0], "{}");
    const char* starts[] = {"The", "Therefore", "Because", "I", "You"};
    for (int j = 0; j < 5; ++j) {
        EXPECT_EQ(templates[j + 1].rfind(starts[j], 0), 0u) << templates[j + 1];
        EXPECT_EQ(templates[j + 1].substr(templates[j + 1].size() - 4), ". {}");
    }
    // k* is the weighted sum of each template's key at the lookup.
    const EditRequest r{"The capital of {} is", "Norway", "Rome", ""};
    const PlacedRequest p = placeRequest(*model, r, templates, FactToken::SubjectLast);
    const std::vector<double> w = keyWeights(o);
    const RequestKeys k = requestKeys(*model, p, 1, w);
    const Transformer t(*model);
    Hooks capture;
    capture.captures = {{HookSite::MlpIn, 1}};
    Vector expected = Vector::Zero(model->config.dFf);
    for (size_t j = 0; j < templates.size(); ++j)
        expected += static_cast<float>(w[j]) *
                    t.run(p.ids[j], capture).captured.at({HookSite::MlpIn, 1}).row(p.lookup[j]).transpose();
    EXPECT_LT((k.keyStar - expected).norm(), 1e-5 * expected.norm());
    EXPECT_GT((k.keyStar - requestKeys(*model, p, 1).keyStar).norm(), 1e-3 * expected.norm());  // not the plain mean
    EXPECT_THROW(requestKeys(*model, p, 1, {1.0}), InvalidInput);
}

}  // namespace
}  // namespace mwb
