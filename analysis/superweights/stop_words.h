// Stop words (English function words) and which tokens of a vocabulary are one: the
// super-weight paper measures how much probability moves to them when a super
// weight is removed.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mwb {

// One word per line; blank lines and lines starting with '#' are skipped, words are
// trimmed and lower-cased. Throws InvalidInput naming the file when it cannot be read
// or holds no word.
std::vector<std::string> loadStopWords(const std::filesystem::path& file);

// resources/stopwords.txt: from $MWB_RESOURCE_DIR when set, else the source tree this
// library was built from. Throws InvalidInput when neither has the file.
std::filesystem::path defaultStopWordsFile();

// stopWordMask of the bundled list (defaultStopWordsFile), or an empty mask when the
// list is not installed: stop-word mass is then reported as 0.
std::vector<char> bundledStopWordMask(const Tokenizer& tokenizer);

// Per token id: 1 when the token's text, stripped of surrounding white space (and the
// SentencePiece word marker) and lower-cased, is one of `words`.
std::vector<char> stopWordMask(const Tokenizer& tokenizer, const std::vector<std::string>& words);

}  // namespace mwb
