#include "tokenizer/continuation.h"

#include <algorithm>

#include "tensor/errors.h"

namespace mwb {

std::pair<int, int> findSubjectTokens(const Encoding& encoding, const std::string& text,
                                      const std::string& subject) {
    if (subject.empty()) throw InvalidInput("the subject is empty");
    const auto at = text.find(subject);
    if (at == std::string::npos)
        throw InvalidInput("the subject " + quote(subject) + " is not in the prompt " + quote(text));
    return findSubjectTokens(encoding, text, subject, at);
}

std::pair<int, int> findSubjectTokens(const Encoding& encoding, const std::string& text,
                                      const std::string& subject, size_t at) {
    MWB_CHECK(at <= text.size() && text.compare(at, subject.size(), subject) == 0);
    const int charBegin = static_cast<int>(at), charEnd = static_cast<int>(at + subject.size());
    int begin = -1, end = -1;
    for (size_t i = 0; i < encoding.ids.size(); ++i) {
        const auto [b, e] = encoding.offsets[i];
        if (e <= b) continue;  // BOS and other empty tokens
        if (e > charBegin && b < charEnd) {
            if (begin < 0) begin = static_cast<int>(i);
            end = static_cast<int>(i) + 1;
        }
    }
    if (begin < 0)
        throw InvalidInput("the subject " + quote(subject) + " covers no token of the prompt " + quote(text));
    return {begin, end};
}

std::vector<int> continuationIds(const Tokenizer& tokenizer, const std::string& prompt,
                                 const std::string& target) {
    if (target.empty() || target.find_first_not_of(' ') == std::string::npos)
        throw InvalidInput("the target is empty");
    const bool needsSpace = !prompt.empty() && prompt.back() != ' ' && target.front() != ' ';
    const std::string joined = prompt + (needsSpace ? " " : "") + target;
    const auto promptIds = tokenizer.encodeIds(prompt);
    const auto allIds = tokenizer.encodeIds(joined);
    if (allIds.size() > promptIds.size() && std::equal(promptIds.begin(), promptIds.end(), allIds.begin()))
        return {allIds.begin() + promptIds.size(), allIds.end()};
    // The last prompt token merged with the target: tokenize the target on its own.
    auto alone = tokenizer.encodeIds((needsSpace ? " " : "") + target, false);
    if (alone.empty()) throw InvalidInput("the target " + quote(target) + " gives no tokens");
    return alone;
}

}  // namespace mwb
