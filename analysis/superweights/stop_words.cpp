#include "analysis/superweights/stop_words.h"

#include <cstdlib>
#include <fstream>
#include <unordered_set>

#include "tensor/errors.h"

namespace mwb {

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string lowerTrimmed(std::string s) {
    const std::string marker = "\xE2\x96\x81";  // SentencePiece's "▁"
    bool changed = true;
    while (changed) {
        changed = false;
        while (!s.empty() && isSpace(s.back())) s.pop_back(), changed = true;
        size_t lead = 0;
        while (lead < s.size() && isSpace(s[lead])) ++lead;
        if (lead) s.erase(0, lead), changed = true;
        if (s.rfind(marker, 0) == 0) s.erase(0, marker.size()), changed = true;
    }
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

}  // namespace

std::vector<std::string> loadStopWords(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw InvalidInput("cannot read the stop-word list " + file.string());
    std::vector<std::string> words;
    std::string line;
    while (std::getline(in, line)) {
        const std::string w = lowerTrimmed(line);
        if (!w.empty() && w[0] != '#') words.push_back(w);
    }
    if (words.empty()) throw InvalidInput("the stop-word list " + file.string() + " holds no word");
    return words;
}

std::filesystem::path defaultStopWordsFile() {
    std::vector<std::filesystem::path> candidates;
    if (const char* dir = std::getenv("MWB_RESOURCE_DIR")) candidates.emplace_back(std::filesystem::path(dir) / "stopwords.txt");
    candidates.push_back(std::filesystem::path(MWB_RESOURCE_DIR) / "stopwords.txt");
    for (const auto& p : candidates)
        if (std::filesystem::exists(p)) return p;
    throw InvalidInput("cannot find resources/stopwords.txt; set MWB_RESOURCE_DIR or give the list explicitly");
}

std::vector<char> stopWordMask(const Tokenizer& tokenizer, const std::vector<std::string>& words) {
    const std::unordered_set<std::string> set(words.begin(), words.end());
    std::vector<char> mask(tokenizer.vocabSize(), 0);
    for (int id = 0; id < tokenizer.vocabSize(); ++id) {
        const std::string text = lowerTrimmed(tokenizer.tokenBytes(id));
        mask[id] = !text.empty() && set.count(text) ? 1 : 0;
    }
    return mask;
}

std::vector<char> bundledStopWordMask(const Tokenizer& tokenizer) {
    try {
        return stopWordMask(tokenizer, loadStopWords(defaultStopWordsFile()));
    } catch (const InvalidInput&) {
        return {};
    }
}

}  // namespace mwb
