#include "editing/ngram_entropy.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <unordered_map>

namespace mwb {

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool alwaysSplit(char c) { return c != '\0' && std::strchr(";@#$%&?!()[]{}<>\"`", c) != nullptr; }
bool closer(char c) { return c != '\0' && std::strchr(")]}>\"',;:!?.", c) != nullptr; }

bool endsWith(const std::string& lower, const char* suffix) {
    const size_t n = std::strlen(suffix);
    return lower.size() > n && lower.compare(lower.size() - n, n, suffix) == 0;
}

// A word without punctuation, with its clitic split off: "don't" -> "do" "n't".
void emitWord(std::string& word, std::vector<std::string>& out) {
    if (word.empty()) return;
    std::string lower = word;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    size_t cut = word.size();
    if (endsWith(lower, "n't"))
        cut = word.size() - 3;
    else if (endsWith(lower, "'s") || endsWith(lower, "'m") || endsWith(lower, "'d"))
        cut = word.size() - 2;
    else if (endsWith(lower, "'re") || endsWith(lower, "'ve") || endsWith(lower, "'ll"))
        cut = word.size() - 3;
    else if (endsWith(lower, "'"))
        cut = word.size() - 1;
    out.push_back(word.substr(0, cut));
    if (cut < word.size()) out.push_back(word.substr(cut));
    word.clear();
}

// The tokens of one white-space separated chunk.
void splitChunk(std::string_view chunk, std::vector<std::string>& out) {
    std::string word;
    for (size_t i = 0; i < chunk.size(); ++i) {
        const char c = chunk[i];
        const char next = i + 1 < chunk.size() ? chunk[i + 1] : '\0';
        if (alwaysSplit(c) || ((c == ',' || c == ':') && !isDigit(next))) {
            emitWord(word, out);
            out.emplace_back(1, c);
        } else if (c == '.' || (c == '-' && next == '-')) {
            size_t end = i;
            while (end < chunk.size() && chunk[end] == c) ++end;
            bool split = end - i >= 2;  // "..", "...", "--"
            if (!split) {               // a single period: split only at the end of the word
                split = true;
                for (size_t j = end; j < chunk.size(); ++j) split = split && closer(chunk[j]);
            }
            if (split) {
                emitWord(word, out);
                out.emplace_back(chunk.substr(i, end - i));
                i = end - 1;
            } else {
                word += std::string(chunk.substr(i, end - i));
                i = end - 1;
            }
        } else {
            word += c;
        }
    }
    emitWord(word, out);
}

}  // namespace

std::vector<std::string> wordTokens(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && isSpace(text[i])) ++i;
        size_t end = i;
        while (end < text.size() && !isSpace(text[end])) ++end;
        if (end > i) splitChunk(text.substr(i, end - i), out);
        i = end;
    }
    return out;
}

double nGramEntropy(const std::vector<std::string>& tokens, int n) {
    if (n < 1 || tokens.size() < size_t(n)) return 0.0;
    std::unordered_map<std::string, long> counts;
    const size_t total = tokens.size() - size_t(n) + 1;
    for (size_t i = 0; i < total; ++i) {
        std::string key;
        for (int k = 0; k < n; ++k) {
            key += std::to_string(tokens[i + k].size());  // length-prefixed: no collisions
            key += ':';
            key += tokens[i + k];
        }
        ++counts[key];
    }
    double h = 0.0;
    for (const auto& [gram, count] : counts) {
        const double f = double(count) / double(total);
        h -= f * std::log2(f);
    }
    return h;
}

double weightedNGramEntropy(const std::vector<std::string>& tokens) {
    return 0.5 * (2.0 / 3.0 * nGramEntropy(tokens, 2) + 4.0 / 3.0 * nGramEntropy(tokens, 3));
}

std::string asciiOnly(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text)
        if (static_cast<unsigned char>(c) < 0x80) out += c;
    return out;
}

double textEntropy(std::string_view text) { return weightedNGramEntropy(wordTokens(asciiOnly(text))); }

}  // namespace mwb
