// Byte-level BPE training (GPT-2 style): count pre-token frequencies, then repeatedly
// merge the most frequent adjacent pair. Pair counts are kept up to date incrementally:
// a merge only revisits the words that contain the merged pair (an index from pair to
// words), and a max-heap with lazily discarded stale entries picks the next pair.
#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tensor/errors.h"
#include "tokenizer/tokenizer.h"

namespace mwb {
namespace {

const std::string kEndOfText = "<|endoftext|>";

struct Word {
    std::vector<int> symbols;  // token ids
    long count = 0;            // occurrences in the text
};

struct HeapEntry {
    long count;
    int left, right;
};

std::uint64_t key(int left, int right) {
    return (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
}

class BpeTrainer {
public:
    BpeTrainer(std::string_view text, int vocabSize, const ProgressFn& progress)
        : m_text(text), m_vocabSize(vocabSize), m_progress(progress) {}

    TokenizerSpec run() {
        const long totalMerges = m_vocabSize - 257;
        report(m_progress, {0, totalMerges, "counting words"});
        initTokens();
        countWords();
        countPairs();
        report(m_progress, {0, totalMerges, "merging pairs"});
        while (static_cast<int>(m_tokens.size()) + 1 < m_vocabSize) {
            if (!mergeBestPair()) break;  // no pair occurs twice any more
            const long done = static_cast<long>(m_tokens.size()) - 256;
            if (done % 64 == 0) report(m_progress, {done, totalMerges, "merging pairs"});
        }
        report(m_progress, {totalMerges, totalMerges, "merging pairs"});
        return spec();
    }

private:
    void initTokens() {
        const auto& order = gpt2ByteOrder();
        for (int i = 0; i < 256; ++i) {
            m_tokens.emplace_back(1, char(order[i]));
            m_idOfByte[order[i]] = i;
            m_idOfToken.emplace(m_tokens.back(), i);
        }
    }

    void countWords() {
        std::unordered_map<std::string_view, int> index;
        forEachGpt2PreToken(m_text, {kEndOfText}, [&](std::size_t begin, std::size_t end, int special) {
            if (special >= 0) return;  // a document separator, not a word
            const std::string_view word = m_text.substr(begin, end - begin);
            auto [it, inserted] = index.try_emplace(word, static_cast<int>(m_words.size()));
            if (inserted) {
                Word w;
                w.symbols.reserve(word.size());
                for (unsigned char b : word) w.symbols.push_back(m_idOfByte[b]);
                m_words.push_back(std::move(w));
            }
            ++m_words[it->second].count;
        });
    }

    void countPairs() {
        for (int w = 0; w < static_cast<int>(m_words.size()); ++w) {
            const Word& word = m_words[w];
            for (std::size_t i = 0; i + 1 < word.symbols.size(); ++i) {
                const auto k = key(word.symbols[i], word.symbols[i + 1]);
                m_pairCount[k] += word.count;
                addWhere(k, w);
            }
        }
        for (const auto& [k, count] : m_pairCount) push({count, int(k >> 32), int(k & 0xFFFFFFFFu)});
    }

    void addWhere(std::uint64_t k, int w) {
        auto& list = m_where[k];
        if (list.empty() || list.back() != w) list.push_back(w);
    }

    // Heap order: higher count first, then the lexicographically smaller (left, right) bytes.
    bool lowerPriority(const HeapEntry& a, const HeapEntry& b) const {
        if (a.count != b.count) return a.count < b.count;
        const int c = m_tokens[a.left].compare(m_tokens[b.left]);
        if (c != 0) return c > 0;
        return m_tokens[a.right] > m_tokens[b.right];
    }
    void push(const HeapEntry& e) {
        m_heap.push_back(e);
        std::push_heap(m_heap.begin(), m_heap.end(),
                       [this](const HeapEntry& a, const HeapEntry& b) { return lowerPriority(a, b); });
    }
    HeapEntry pop() {
        std::pop_heap(m_heap.begin(), m_heap.end(),
                      [this](const HeapEntry& a, const HeapEntry& b) { return lowerPriority(a, b); });
        const HeapEntry e = m_heap.back();
        m_heap.pop_back();
        return e;
    }

    // Merges the best pair; false when none occurs at least twice.
    bool mergeBestPair() {
        while (!m_heap.empty()) {
            const HeapEntry e = pop();
            const auto k = key(e.left, e.right);
            const auto it = m_pairCount.find(k);
            if (it == m_pairCount.end() || it->second != e.count) continue;  // stale entry
            if (e.count < 2) return false;
            applyMerge(e.left, e.right);
            return true;
        }
        return false;
    }

    void applyMerge(int left, int right) {
        // Two different merges can spell the same bytes ("a bc", "ab c"): reuse the token.
        const std::string merged = m_tokens[left] + m_tokens[right];
        int newId;
        if (auto found = m_idOfToken.find(merged); found != m_idOfToken.end()) {
            newId = found->second;
        } else {
            newId = static_cast<int>(m_tokens.size());
            m_tokens.push_back(merged);
            m_idOfToken.emplace(merged, newId);
        }
        m_merges.emplace_back(left, right);

        const auto k = key(left, right);
        std::vector<int> affected = std::move(m_where[k]);
        m_where.erase(k);  // after this merge no word holds the pair
        std::sort(affected.begin(), affected.end());
        affected.erase(std::unique(affected.begin(), affected.end()), affected.end());

        m_delta.clear();
        std::vector<int> next;
        for (const int w : affected) {
            Word& word = m_words[w];
            std::vector<int>& s = word.symbols;
            next.clear();
            bool changed = false;
            for (std::size_t i = 0; i < s.size(); ++i) {
                if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
                    next.push_back(newId);
                    ++i;
                    changed = true;
                } else {
                    next.push_back(s[i]);
                }
            }
            if (!changed) continue;  // a stale index entry
            for (std::size_t i = 0; i + 1 < s.size(); ++i) m_delta[key(s[i], s[i + 1])] -= word.count;
            for (std::size_t i = 0; i + 1 < next.size(); ++i) {
                const auto pk = key(next[i], next[i + 1]);
                m_delta[pk] += word.count;
                // Only pairs with the new token can be new to this word.
                if (next[i] == newId || next[i + 1] == newId) addWhere(pk, w);
            }
            s.swap(next);
        }
        for (const auto& [pk, d] : m_delta) {
            if (d == 0) continue;
            long& count = m_pairCount[pk];
            count += d;
            if (count > 0) push({count, int(pk >> 32), int(pk & 0xFFFFFFFFu)});
            else m_pairCount.erase(pk);
        }
    }

    TokenizerSpec spec() const {
        TokenizerSpec spec;
        spec.kind = TokenizerKind::ByteBpe;
        spec.vocab.reserve(m_tokens.size() + 1);
        for (const std::string& t : m_tokens) spec.vocab.push_back(byteLevelEncode(t));
        spec.vocab.push_back(kEndOfText);
        spec.merges.reserve(m_merges.size());
        for (const auto& [l, r] : m_merges)
            spec.merges.push_back(byteLevelEncode(m_tokens[l]) + " " + byteLevelEncode(m_tokens[r]));
        spec.bosId = spec.eosId = static_cast<int>(spec.vocab.size()) - 1;
        spec.addBos = false;
        return spec;
    }

    std::string_view m_text;
    int m_vocabSize;
    const ProgressFn& m_progress;
    std::vector<std::string> m_tokens;  // bytes of each token id
    std::unordered_map<std::string, int> m_idOfToken;
    int m_idOfByte[256] = {};
    std::vector<Word> m_words;  // distinct pre-tokens, in order of first appearance
    std::unordered_map<std::uint64_t, long> m_pairCount;
    std::unordered_map<std::uint64_t, std::vector<int>> m_where;  // pair -> words (may be stale)
    std::unordered_map<std::uint64_t, long> m_delta;              // pair count changes of one merge
    std::vector<HeapEntry> m_heap;
    std::vector<std::pair<int, int>> m_merges;
};

}  // namespace

TokenizerSpec trainByteBpe(std::string_view text, int vocabSize, const ProgressFn& progress) {
    if (vocabSize < 257)
        throw InvalidInput("A byte-level BPE vocabulary needs at least 257 tokens (256 bytes and "
                           "<|endoftext|>), not " + std::to_string(vocabSize) + ".");
    return BpeTrainer(text, vocabSize, progress).run();
}

}  // namespace mwb
