// Progress spans: one step of a longer job fills its part of the bar, and a stop
// request still reaches the work.
#include "tensor/progress.h"

#include <gtest/gtest.h>

#include <vector>

namespace mwb {
namespace {

TEST(ProgressSpan, MapsAStepOntoItsPartOfTheBar) {
    std::vector<Progress> seen;
    const ProgressFn bar = [&](const Progress& p) {
        seen.push_back(p);
        return true;
    };
    const ProgressFn first = progressSpan(bar, 0.0, 0.75), second = progressSpan(bar, 0.75, 1.0);
    report(first, {0, 40, "trace"});
    report(first, {20, 40, "trace"});
    report(first, {40, 40, "trace"});
    report(second, {0, 8, "single layers"});
    report(second, {6, 8, "single layers"});
    report(second, {8, 8, "single layers"});
    const std::vector<long> done = {0, 375, 750, 750, 937, 1000};
    ASSERT_EQ(seen.size(), done.size());
    for (size_t i = 0; i < done.size(); ++i) {
        EXPECT_EQ(seen[i].done, done[i]) << i;
        EXPECT_EQ(seen[i].total, 1000);
    }
    EXPECT_EQ(seen[4].stage, "single layers");
    report(second, {0, 0, "no total"});  // nothing to divide by: the start of the span
    EXPECT_EQ(seen.back().done, 750);
}

TEST(ProgressSpan, StopRequestsPassThroughAndNoBarStaysNone) {
    const ProgressFn stop = [](const Progress&) { return false; };
    EXPECT_THROW(report(progressSpan(stop, 0.5, 1.0), {1, 2, "x"}), Cancelled);
    EXPECT_FALSE(progressSpan(ProgressFn{}, 0.0, 1.0));
}

}  // namespace
}  // namespace mwb
