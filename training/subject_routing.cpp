#include "training/subject_routing.h"

#include <algorithm>
#include <unordered_map>

namespace mwb {

std::vector<SubjectMention> findSubjectMentions(const Tokenizer& tokenizer,
                                                std::span<const int> tokens,
                                                const std::vector<std::string>& subjects,
                                                int minTokens) {
    // Candidate token sequences by their first token, longest first.
    std::unordered_map<int, std::vector<std::vector<int>>> byFirst;
    for (const std::string& subject : subjects) {
        for (const std::string& text : {" " + subject, subject}) {
            std::vector<int> ids = tokenizer.encodeIds(text, /*allowBos=*/false);
            if (ids.empty() || int(ids.size()) < minTokens) continue;
            auto& list = byFirst[ids.front()];
            if (std::find(list.begin(), list.end(), ids) == list.end()) list.push_back(std::move(ids));
        }
    }
    for (auto& [first, list] : byFirst)
        std::stable_sort(list.begin(), list.end(),
                         [](const auto& a, const auto& b) { return a.size() > b.size(); });

    std::vector<SubjectMention> mentions;
    const int64_t n = int64_t(tokens.size());
    for (int64_t i = 0; i < n;) {
        const auto it = byFirst.find(tokens[size_t(i)]);
        int64_t length = 0;
        if (it != byFirst.end()) {
            for (const std::vector<int>& ids : it->second) {
                const int64_t m = int64_t(ids.size());
                if (i + m <= n && std::equal(ids.begin(), ids.end(), tokens.begin() + i)) {
                    length = m;
                    break;
                }
            }
        }
        if (length > 0) {
            mentions.push_back({i, i + length});
            i += length;
        } else {
            ++i;
        }
    }
    return mentions;
}

namespace {

// SplitMix64's finaliser (Steele et al. 2014): a well-mixed 64-bit hash of one word.
uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace

std::vector<SubjectMention> sampleMentions(std::span<const SubjectMention> mentions,
                                           double fraction, uint64_t seed) {
    std::vector<SubjectMention> kept;
    const uint64_t salt = mix64(seed);
    for (const SubjectMention& m : mentions) {
        // The top 53 bits as a uniform double in [0, 1).
        const double u = double(mix64(salt ^ uint64_t(m.begin)) >> 11) * 0x1.0p-53;
        if (u < fraction) kept.push_back(m);
    }
    return kept;
}

void appendSubjectMasks(std::span<const SubjectMention> mentions, int64_t start, int len,
                        int sequence, std::vector<bp::BlockedKeys>& out, int hiddenLayers) {
    const int64_t end = start + len;
    // The first mention whose last token (end - 1) is at or after the window's start.
    auto it = std::lower_bound(mentions.begin(), mentions.end(), start,
                               [](const SubjectMention& m, int64_t s) { return m.end - 1 < s; });
    for (; it != mentions.end() && it->end < end; ++it) {
        const int64_t keyBegin = std::max(it->begin, start);
        const int64_t last = it->end - 1;
        if (keyBegin < last)  // earlier tokens of the mention are in the window
            out.push_back({.sequence = sequence,
                           .keyBegin = int(keyBegin - start),
                           .keyEnd = int(last - start),
                           .queryBegin = int(it->end - start)});
        if (hiddenLayers > 0)
            out.push_back({.sequence = sequence,
                           .keyBegin = int(last - start),
                           .keyEnd = int(last - start) + 1,
                           .queryBegin = int(it->end - start),
                           .layerEnd = hiddenLayers});
    }
}

}  // namespace mwb
