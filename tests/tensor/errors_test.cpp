// quote(): how error messages show user text.
#include "tensor/errors.h"

#include <gtest/gtest.h>

#include <string>

namespace mwb {
namespace {

TEST(Quote, ShortTextIsQuotedWhole) {
    EXPECT_EQ(quote("Eiffel Tower"), "\"Eiffel Tower\"");
    EXPECT_EQ(quote(""), "\"\"");
}

TEST(Quote, LongTextIsAPrefixWithItsLength) {
    const std::string huge(10 << 20, 'x');
    const std::string q = quote(huge);
    EXPECT_EQ(q, "\"" + std::string(60, 'x') + "...\" (10485760 bytes)");
}

TEST(Quote, APrefixNeverCutsACharacter) {
    std::string text(59, 'a');
    text += "\xc3\xa9";  // é across the 60-byte limit
    text += std::string(100, 'b');
    EXPECT_EQ(quote(text), "\"" + std::string(59, 'a') + "...\" (161 bytes)");
    EXPECT_EQ(utf8Prefix(text, 61), std::string(59, 'a') + "\xc3\xa9");
}

}  // namespace
}  // namespace mwb
