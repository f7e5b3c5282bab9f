// Routing subjects through their last token in training: the mentions found in a
// token stream, and the attention masks of a training window, on hand-made cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "tokenizer/tokenizer.h"
#include "training/subject_routing.h"

namespace mwb {
namespace {

std::vector<int> concat(const std::vector<std::vector<int>>& parts) {
    std::vector<int> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

TEST(SubjectRouting, FindsEveryMentionLongestFirstInBothForms) {
    // A vocabulary in which the words below are whole tokens.
    std::string text;
    for (int i = 0; i < 50; ++i) text += "Eiffel Tower is in New York City, not New York. Rome. ";
    const Tokenizer tok(trainByteBpe(text, 300));
    auto enc = [&](const std::string& s) { return tok.encodeIds(s, /*allowBos=*/false); };
    // Pieces split where the pre-tokenizer splits, so the stream is their concatenation.
    const std::vector<std::vector<int>> parts = {
        enc("Eiffel Tower"), enc(" is in"), enc(" New York City"), enc(","), enc(" not"),
        enc(" New York"), enc("."), enc(" Eiffel"), enc(" Towers"), enc(" Rome")};
    const std::vector<int> stream = concat(parts);
    ASSERT_EQ(stream, enc("Eiffel Tower is in New York City, not New York. Eiffel Towers Rome"));
    ASSERT_EQ(enc(" Rome").size(), 1u) << "the test needs a one-token subject";

    const std::vector<SubjectMention> found =
        findSubjectMentions(tok, stream, {"New York", "Eiffel Tower", "Rome", "New York City"});
    std::vector<int64_t> starts = {0};
    for (const auto& p : parts) starts.push_back(starts.back() + int64_t(p.size()));
    // "Eiffel Tower" at the start (no leading space), the longer "New York City", then
    // "New York"; " Eiffel Towers" is " Eiffel" + " Towers", not the subject's tokens
    // unless the vocabulary splits it so; the one-token " Rome" is skipped.
    std::vector<SubjectMention> expected = {{starts[0], starts[1]},
                                            {starts[2], starts[3]},
                                            {starts[5], starts[6]}};
    const std::vector<int> tower = enc(" Eiffel Tower");
    if (std::equal(tower.begin(), tower.end(), stream.begin() + starts[7]))
        expected.push_back({starts[7], starts[7] + int64_t(tower.size())});
    EXPECT_EQ(found, expected);

    EXPECT_TRUE(findSubjectMentions(tok, stream, {}).empty());
    EXPECT_TRUE(findSubjectMentions(tok, {}, {"New York"}).empty());
}

TEST(SubjectRouting, WindowMasksCoverTheEarlierTokensForTheLaterQueries) {
    // Mentions at tokens [2, 5), [10, 12), [20, 21) (one token: never masked), [28, 31).
    const std::vector<SubjectMention> mentions = {{2, 5}, {10, 12}, {20, 21}, {28, 31}};
    std::vector<bp::BlockedKeys> out;
    appendSubjectMasks(mentions, 0, 16, 0, out);
    EXPECT_EQ(out, (std::vector<bp::BlockedKeys>{{0, 2, 4, 5}, {0, 10, 11, 12}}));

    // The window starts inside the first mention: only its tokens in the window count.
    out.clear();
    appendSubjectMasks(mentions, 3, 10, 1, out);
    EXPECT_EQ(out, (std::vector<bp::BlockedKeys>{{1, 0, 1, 2}, {1, 7, 8, 9}}));

    // Only the last token in the window, or no position after the mention: nothing.
    out.clear();
    appendSubjectMasks(mentions, 4, 7, 0, out);   // [4, 11): mention 2 ends at 12
    appendSubjectMasks(mentions, 11, 17, 0, out); // [11, 28): [10, 12) has only 11 inside
    appendSubjectMasks(mentions, 26, 5, 0, out);  // [26, 31): [28, 31) ends with the window
    EXPECT_TRUE(out.empty());
    appendSubjectMasks(mentions, 26, 6, 2, out);  // [26, 32)
    EXPECT_EQ(out, (std::vector<bp::BlockedKeys>{{2, 2, 4, 5}}));
}

TEST(SubjectRouting, HiddenLayersAlsoHideTheLastTokenBelowTheirEnd) {
    const std::vector<SubjectMention> mentions = {{2, 5}, {10, 12}, {20, 21}, {28, 31}};
    const int all = std::numeric_limits<int>::max();
    std::vector<bp::BlockedKeys> out;
    appendSubjectMasks(mentions, 0, 24, 0, out, /*hiddenLayers=*/2);
    // Each mention: its earlier tokens in every layer, its last token below layer 2; the
    // one-token [20, 21) only the latter.
    EXPECT_EQ(out, (std::vector<bp::BlockedKeys>{{0, 2, 4, 5, all},
                                                 {0, 4, 5, 5, 2},
                                                 {0, 10, 11, 12, all},
                                                 {0, 11, 12, 12, 2},
                                                 {0, 20, 21, 21, 2}}));
    // The window starts at the last token of [10, 12): that token is still hidden.
    out.clear();
    appendSubjectMasks(mentions, 11, 8, 1, out, 1);
    EXPECT_EQ(out, (std::vector<bp::BlockedKeys>{{1, 0, 1, 1, 1}}));
    // No position after the mention in the window: nothing.
    out.clear();
    appendSubjectMasks(mentions, 26, 5, 0, out, 1);
    EXPECT_TRUE(out.empty());
}

TEST(SubjectRouting, OneTokenSubjectsAreFoundWhenAsked) {
    std::string text;
    for (int i = 0; i < 50; ++i) text += "Rome is in Italy. New York is not. ";
    const Tokenizer tok(trainByteBpe(text, 300));
    const std::vector<int> stream = tok.encodeIds("Rome is in Italy. New York is not.", false);
    const std::vector<int> rome = tok.encodeIds("Rome", false);
    ASSERT_EQ(rome.size(), 1u) << "the test needs a one-token subject";
    const std::vector<int> ny = tok.encodeIds(" New York", false);
    ASSERT_GE(ny.size(), 2u);
    const auto nyAt = std::search(stream.begin(), stream.end(), ny.begin(), ny.end()) - stream.begin();
    const std::vector<std::string> subjects = {"Rome", "New York"};
    EXPECT_EQ(findSubjectMentions(tok, stream, subjects),
              (std::vector<SubjectMention>{{nyAt, nyAt + int64_t(ny.size())}}));
    EXPECT_EQ(findSubjectMentions(tok, stream, subjects, /*minTokens=*/1),
              (std::vector<SubjectMention>{{0, 1}, {nyAt, nyAt + int64_t(ny.size())}}));
}

TEST(SubjectRouting, SampledMentionsAreASeededSubsetOfTheRightSize) {
    std::vector<SubjectMention> all;
    for (int64_t i = 0; i < 20000; ++i) all.push_back({3 * i, 3 * i + 2});
    EXPECT_EQ(sampleMentions(all, 1.0, 7), all);
    const auto a = sampleMentions(all, 0.3, 7);
    // Binomial(20000, 0.3): standard deviation 65, so ±600 is far outside chance.
    EXPECT_NEAR(double(a.size()), 6000.0, 600.0);
    EXPECT_TRUE(std::includes(all.begin(), all.end(), a.begin(), a.end(),
                              [](const auto& x, const auto& y) { return x.begin < y.begin; }));
    EXPECT_EQ(sampleMentions(all, 0.3, 7), a);  // the same seed keeps the same mentions
    EXPECT_NE(sampleMentions(all, 0.3, 8), a);
    // A larger fraction keeps a superset: each mention has one draw.
    const auto b = sampleMentions(all, 0.6, 7);
    EXPECT_TRUE(std::includes(b.begin(), b.end(), a.begin(), a.end(),
                              [](const auto& x, const auto& y) { return x.begin < y.begin; }));
}

}  // namespace
}  // namespace mwb
