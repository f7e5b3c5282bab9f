// The subject's token span: [begin, end) from the byte offsets, at the first occurrence
// or at a given one.
#include "tokenizer/continuation.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "tensor/errors.h"

namespace mwb {
namespace {

// "Paris. Paris is" as BOS, "Paris", ".", " Paris", " is".
Encoding encoding() {
    return {{0, 1, 2, 3, 4}, {{0, 0}, {0, 5}, {5, 6}, {6, 12}, {12, 15}}};
}

TEST(FindSubjectTokens, FirstOccurrenceOrTheOneAtAByte) {
    const std::string text = "Paris. Paris is";
    EXPECT_EQ(findSubjectTokens(encoding(), text, "Paris"), std::make_pair(1, 2));
    EXPECT_EQ(findSubjectTokens(encoding(), text, "Paris", 7), std::make_pair(3, 4));
    EXPECT_EQ(findSubjectTokens(encoding(), text, "ris. Pa"), std::make_pair(1, 4));
    EXPECT_THROW(findSubjectTokens(encoding(), text, "Rome"), InvalidInput);
    EXPECT_THROW(findSubjectTokens(encoding(), text, ""), InvalidInput);
    Encoding bosOnly{{0}, {{0, 0}}};
    EXPECT_THROW(findSubjectTokens(bosOnly, text, "Paris"), InvalidInput);
}

}  // namespace
}  // namespace mwb
