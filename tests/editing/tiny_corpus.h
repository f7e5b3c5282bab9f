// Text for second-moment statistics of the byte-level test fixtures
// (tests/fixtures/golden_*.h5: one token per byte, n_ctx 24), shared by the
// ROME and MEMIT tests.
#pragma once

#include <string>

namespace mwb::test_data {

inline const std::string kFixtures = std::string(MWB_SOURCE_DIR) + "/tests/fixtures/";
// Short lines: every one fits the fixtures' context.
inline const std::string kTinyCorpus =
    "the cat is in the house\nthe dog is on the mat\na bird sat in a tree\n"
    "it is a sunny day\nthe sea is blue and deep\nwe go to the shop\n"
    "my hat is red\nthe sun is up\nten men ran far\nall of us eat rice\n";

}  // namespace mwb::test_data
