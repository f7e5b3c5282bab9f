// Typed reading of JSON values: which values pass as which type.
#include "tensor/json_read.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace mwb {
namespace {

using nlohmann::json;

TEST(JsonAs, AcceptsOnlyValuesOfTheType) {
    EXPECT_EQ(jsonAs<int>(json(-7)), -7);
    EXPECT_EQ(jsonAs<int>(json(2147483647)), 2147483647);
    EXPECT_FALSE(jsonAs<int>(json(int64_t(2147483648))));
    EXPECT_FALSE(jsonAs<int>(json(int64_t(-2147483649))));
    EXPECT_FALSE(jsonAs<int>(json(1.5)));
    EXPECT_FALSE(jsonAs<int>(json(true)));
    EXPECT_FALSE(jsonAs<int>(json("1")));

    EXPECT_EQ(jsonAs<int64_t>(json(int64_t(1) << 40)), int64_t(1) << 40);
    EXPECT_FALSE(jsonAs<int64_t>(json(1.0)));
    EXPECT_EQ(jsonAs<uint64_t>(json(uint64_t(1) << 63)), uint64_t(1) << 63);
    EXPECT_FALSE(jsonAs<uint64_t>(json(-1)));

    EXPECT_EQ(jsonAs<double>(json(3)), 3.0);
    EXPECT_EQ(jsonAs<double>(json(0.25)), 0.25);
    EXPECT_FALSE(jsonAs<double>(json("0.25")));

    EXPECT_EQ(jsonAs<bool>(json(false)), false);
    EXPECT_FALSE(jsonAs<bool>(json(1)));
    EXPECT_EQ(jsonAs<std::string>(json("x")), "x");
    EXPECT_FALSE(jsonAs<std::string>(json(nullptr)));
}

TEST(JsonAs, NamesTheTypes) {
    EXPECT_STREQ(jsonTypeName<int>(), "an integer");
    EXPECT_STREQ(jsonTypeName<int64_t>(), "an integer");
    EXPECT_STREQ(jsonTypeName<uint64_t>(), "a non-negative integer");
    EXPECT_STREQ(jsonTypeName<double>(), "a number");
    EXPECT_STREQ(jsonTypeName<bool>(), "true or false");
    EXPECT_STREQ(jsonTypeName<std::string>(), "a string");
}

}  // namespace
}  // namespace mwb
