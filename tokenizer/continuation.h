// Where a prompt's subject and a target continuation fall among the tokens.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mwb {

// Token range [begin, end) covering the first occurrence of `subject` in `text`,
// from the tokenizer's byte offsets (tokens with an empty byte range, such as BOS,
// never count). Throws InvalidInput if the subject is empty or not in the text.
// A caller that needs the last subject token uses end - 1.
std::pair<int, int> findSubjectTokens(const Encoding& encoding, const std::string& text,
                                      const std::string& subject);

// The same for the occurrence of `subject` that starts at byte `at` of `text` (where a
// template put it, which need not be the first occurrence).
std::pair<int, int> findSubjectTokens(const Encoding& encoding, const std::string& text,
                                      const std::string& subject, size_t at);

// The token ids of `target` as the continuation of `prompt`: the space the prompt
// implies is added (docs/datasets.md: targets are written without it), and the ids
// are those that encode(prompt + " " + target) has after the prompt's own ids.
// Throws InvalidInput for an empty target.
std::vector<int> continuationIds(const Tokenizer& tokenizer, const std::string& prompt,
                                 const std::string& target);

}  // namespace mwb
