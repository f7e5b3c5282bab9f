// Where a prompt's subject and a target continuation fall among the tokens.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mwb {

// Token range [begin, end) covering the first occurrence of `subject` in `text`,
// from the tokenizer's byte offsets. Throws InvalidInput if the subject is empty
// or not in the text.
std::pair<int, int> findSubjectTokens(const Encoding& encoding, const std::string& text,
                                      const std::string& subject);

// The token ids of `target` as the continuation of `prompt`: the space the prompt
// implies is added (docs/datasets.md: targets are written without it), and the ids
// are those that encode(prompt + " " + target) has after the prompt's own ids.
// Throws InvalidInput for an empty target.
std::vector<int> continuationIds(const Tokenizer& tokenizer, const std::string& prompt,
                                 const std::string& target);

}  // namespace mwb
