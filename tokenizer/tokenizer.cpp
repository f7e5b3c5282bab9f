// Tokenizers: GPT-2 byte-level BPE (Hugging Face behaviour) and SentencePiece-style BPE
// with byte fallback (llama.cpp's llm_tokenizer_spm / llama2.c). The trainer is in
// bpe_trainer.cpp, the byte-level mapping and the pre-tokenisation regex in byte_level.cpp.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <climits>
#include <cstdio>

#include "tokenizer/byte_level.h"
#include "tensor/errors.h"

namespace mwb {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // "▁", SentencePiece's space

// "<|endoftext|>", "<|im_start|>": special tokens matched whole before pre-tokenisation.
bool isSpecialPiece(std::string_view s) {
    if (s.size() < 5 || !s.starts_with("<|") || !s.ends_with("|>")) return false;
    return std::all_of(s.begin() + 2, s.end() - 2, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

// The byte of a SentencePiece byte piece "<0xNN>", or -1.
int bytePieceValue(std::string_view s) {
    if (s.size() != 6 || !s.starts_with("<0x") || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; ++i) {
        const char c = s[i];
        int d = -1;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

std::string replaceAll(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(s.size());
    std::size_t pos = 0;
    for (std::size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
        out.append(s.substr(pos, hit - pos));
        out.append(to);
    }
    out.append(s.substr(pos));
    return out;
}

std::string hexByte(unsigned char b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", b);
    return buf;
}

std::string inQuotes(std::string_view s) {
    std::string out(1, '"');
    out += printableBytes(s);
    out += '"';
    return out;
}

}  // namespace

std::string printableBytes(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (std::size_t pos = 0; pos < bytes.size();) {
        const int len = utf8CharLength(bytes, pos);
        if (len == 0) {
            out += hexByte(static_cast<unsigned char>(bytes[pos++]));
        } else {
            out.append(bytes.substr(pos, len));
            pos += len;
        }
    }
    return out;
}

Tokenizer::Tokenizer(TokenizerSpec spec) : m_spec(std::move(spec)) {
    const int n = vocabSize();
    if (n == 0) throw InvalidInput("The tokenizer vocabulary is empty.");
    const auto checkId = [&](int id, const char* what) {
        if (id < -1 || id >= n)
            throw InvalidInput(std::string("The tokenizer's ") + what + " " + std::to_string(id) +
                               " is outside its vocabulary of " + std::to_string(n) + " pieces.");
    };
    checkId(m_spec.bosId, "BOS id");
    checkId(m_spec.eosId, "EOS id");
    if (m_spec.addBos && m_spec.bosId < 0)
        throw InvalidInput("The tokenizer asks for a BOS token before every prompt but has no BOS id.");
    m_pieceToId.reserve(n);
    for (int i = 0; i < n; ++i) m_pieceToId.emplace(m_spec.vocab[i], i);  // the first copy wins
    std::fill(std::begin(m_byteToId), std::end(m_byteToId), -1);
    if (m_spec.kind == TokenizerKind::ByteBpe) initByteBpe();
    else initSentencePiece();
}

int Tokenizer::findPiece(std::string_view piece) const {
    const auto it = m_pieceToId.find(piece);
    return it == m_pieceToId.end() ? -1 : it->second;
}

int Tokenizer::pieceId(const std::string& piece) const { return findPiece(piece); }

void Tokenizer::initByteBpe() {
    const int n = vocabSize();
    m_idToBytes.resize(n);
    for (int i = 0; i < n; ++i) m_idToBytes[i] = byteLevelDecode(m_spec.vocab[i]);
    for (int b = 0; b < 256; ++b) {
        m_byteToId[b] = findPiece(byteToUnicode()[b]);
        if (m_byteToId[b] < 0)
            throw InvalidInput("The byte_bpe vocabulary has no token for byte " +
                               hexByte(static_cast<unsigned char>(b)) + " (\"" + byteToUnicode()[b] +
                               "\"), so not every text could be encoded.");
    }
    m_merges.reserve(m_spec.merges.size());
    for (std::size_t r = 0; r < m_spec.merges.size(); ++r) {
        const std::string& m = m_spec.merges[r];
        if (r == 0 && m.starts_with("#version")) continue;  // header line of a merges.txt
        const std::string where = "Merge " + std::to_string(r) + " (" + inQuotes(m) + ")";
        const std::size_t space = m.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 == m.size() ||
            m.find(' ', space + 1) != std::string::npos)
            throw InvalidInput(where + " is not two pieces separated by one space.");
        const std::string_view left = std::string_view(m).substr(0, space);
        const std::string_view right = std::string_view(m).substr(space + 1);
        const int leftId = findPiece(left);
        const int rightId = findPiece(right);
        const int mergedId = findPiece(std::string(left) + std::string(right));
        if (leftId < 0 || rightId < 0)
            throw InvalidInput(where + " refers to " + inQuotes(leftId < 0 ? left : right) +
                               ", which is not in the vocabulary.");
        if (mergedId < 0)
            throw InvalidInput(where + " produces " + inQuotes(std::string(left) + std::string(right)) +
                               ", which is not in the vocabulary.");
        m_merges.emplace(pairKey(leftId, rightId), Merge{static_cast<int>(r), mergedId});
    }
    for (int i = 0; i < n; ++i)
        if (isSpecialPiece(m_spec.vocab[i]) && findPiece(m_spec.vocab[i]) == i) {
            m_specials.push_back(m_spec.vocab[i]);
            m_specialIds.push_back(i);
        }
}

void Tokenizer::initSentencePiece() {
    const int n = vocabSize();
    if (m_spec.scores.size() != m_spec.vocab.size())
        throw InvalidInput("The sentencepiece_bpe tokenizer has " + std::to_string(m_spec.scores.size()) +
                           " scores for " + std::to_string(n) + " pieces; it needs one score per piece.");
    for (int i = 0; i < n; ++i)
        if (m_spec.scores[i] != m_spec.scores[i])
            throw InvalidInput("The score of sentencepiece piece " + std::to_string(i) + " (" +
                               inQuotes(m_spec.vocab[i]) + ") is not a number.");
    m_unkId = findPiece("<unk>");
    m_idToBytes.resize(n);
    m_mergeable.assign(n, 1);
    for (int i = 0; i < n; ++i) {
        const std::string& piece = m_spec.vocab[i];
        const int byte = bytePieceValue(piece);
        if (byte >= 0) {
            m_idToBytes[i] = std::string(1, char(byte));
            if (m_byteToId[byte] < 0) m_byteToId[byte] = i;
            m_mergeable[i] = 0;
        } else if (i == m_spec.bosId || i == m_spec.eosId || i == m_unkId) {
            m_idToBytes[i] = piece;  // control pieces are never produced by merging text
            m_mergeable[i] = 0;
        } else {
            m_idToBytes[i] = replaceAll(piece, kSpaceMark, " ");
            std::uint32_t prevKey = 0;
            for (std::size_t pos = 0; pos < piece.size();) {
                const int len = std::max(1, utf8CharLength(piece, pos));
                const std::uint32_t key = symbolKey(std::string_view(piece).substr(pos, len));
                if (pos > 0) m_joins.insert(pairKey(int(prevKey), int(key)));
                prevKey = key;
                pos += len;
            }
        }
    }
}

Encoding Tokenizer::encode(std::string_view text, bool allowBos) const {
    if (m_spec.vocab.empty()) throw InvalidInput("The tokenizer is empty: no vocabulary was loaded.");
    if (text.size() > static_cast<std::size_t>(INT_MAX / 4))
        throw InvalidInput("The text to tokenize is larger than 512 MB.");
    Encoding out;
    out.ids.reserve(text.size() / 3 + 2);
    out.offsets.reserve(text.size() / 3 + 2);
    if (allowBos && m_spec.addBos && m_spec.bosId >= 0) {
        out.ids.push_back(m_spec.bosId);
        out.offsets.emplace_back(0, 0);
    }
    if (m_spec.kind == TokenizerKind::ByteBpe) encodeByteBpe(text, out);
    else encodeSentencePiece(text, out);
    return out;
}

// Hugging Face's BPE::merge_word: repeatedly merge the adjacent pair with the lowest merge
// rank (leftmost first on equal rank), using a heap with lazily discarded stale entries.
void Tokenizer::bpeWord(std::string_view word, std::vector<int>& out) const {
    const int n = static_cast<int>(word.size());
    if (n == 1) {
        out.push_back(m_byteToId[static_cast<unsigned char>(word[0])]);
        return;
    }
    struct Symbol { int id, prev, next; };  // id -1: merged into its left neighbour
    struct Candidate { int rank, pos, left, right, merged; };
    std::vector<Symbol> syms(n);
    for (int i = 0; i < n; ++i)
        syms[i] = {m_byteToId[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1};
    const auto later = [](const Candidate& a, const Candidate& b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    std::vector<Candidate> heap;
    const auto consider = [&](int pos) {
        if (pos < 0 || syms[pos].next < 0) return;
        const int left = syms[pos].id, right = syms[syms[pos].next].id;
        const auto it = m_merges.find(pairKey(left, right));
        if (it == m_merges.end()) return;
        heap.push_back({it->second.rank, pos, left, right, it->second.id});
        std::push_heap(heap.begin(), heap.end(), later);
    };
    for (int i = 0; i + 1 < n; ++i) consider(i);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        const Candidate c = heap.back();
        heap.pop_back();
        Symbol& s = syms[c.pos];
        if (s.id != c.left || s.next < 0 || syms[s.next].id != c.right) continue;  // stale
        const int removed = s.next;
        s.id = c.merged;
        s.next = syms[removed].next;
        if (s.next >= 0) syms[s.next].prev = c.pos;
        syms[removed].id = -1;
        consider(s.prev);
        consider(c.pos);
    }
    for (int i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

void Tokenizer::encodeByteBpe(std::string_view text, Encoding& out) const {
    // Pre-tokens repeat a lot in real text: BPE each distinct one once per call.
    struct Span { std::uint32_t begin, count; };
    std::unordered_map<std::string_view, Span> cache;
    std::vector<int> cachedIds;
    forEachGpt2PreToken(text, m_specials, [&](std::size_t begin, std::size_t end, int special) {
        if (special >= 0) {
            out.ids.push_back(m_specialIds[special]);
            out.offsets.emplace_back(static_cast<int>(begin), static_cast<int>(end));
            return;
        }
        const std::string_view word = text.substr(begin, end - begin);
        auto [it, inserted] = cache.try_emplace(word);
        if (inserted) {
            const auto first = static_cast<std::uint32_t>(cachedIds.size());
            bpeWord(word, cachedIds);
            it->second = {first, static_cast<std::uint32_t>(cachedIds.size() - first)};
        }
        int pos = static_cast<int>(begin);
        for (std::uint32_t k = 0; k < it->second.count; ++k) {
            const int id = cachedIds[it->second.begin + k];
            const int len = static_cast<int>(m_idToBytes[id].size());
            out.ids.push_back(id);
            out.offsets.emplace_back(pos, pos + len);
            pos += len;
        }
    });
}

// A character (or a stray byte) of normalised text packed into 32 bits; distinct
// characters give distinct keys since UTF-8 lead bytes differ by length.
std::uint32_t Tokenizer::symbolKey(std::string_view symbol) {
    std::uint32_t key = 0;
    for (unsigned char c : symbol) key = (key << 8) | c;
    return key;
}

// llama.cpp's llm_tokenizer_spm: prepend a space, write spaces as "▁", start from one
// symbol per UTF-8 character, and repeatedly merge the adjacent pair whose concatenation
// is the vocabulary piece with the highest score (leftmost first on equal score).
// Characters that end up outside the vocabulary become byte pieces "<0xNN>".
//
// Speed-up with the same result: two neighbouring characters that are next to each other
// in no mergeable piece can never end up in one token, so the text falls apart into
// segments there (for Llama: before each "▁" that follows another character), which are
// tokenized independently, and only once per distinct segment.
void Tokenizer::encodeSentencePiece(std::string_view text, Encoding& out) const {
    if (text.empty()) return;  // no dummy prefix for empty text, as SentencePiece
    // norm: the normalised text; at[j]: offset in `text` of the boundary before norm[j].
    std::string norm;
    std::vector<int> at;
    norm.reserve(text.size() + text.size() / 4 + 8);
    at.reserve(norm.capacity() + 1);
    norm.append(kSpaceMark);
    at.insert(at.end(), kSpaceMark.size(), 0);  // the dummy prefix stands for nothing
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == ' ') {
            norm.append(kSpaceMark);
            at.insert(at.end(), kSpaceMark.size(), static_cast<int>(i));
        } else {
            norm += text[i];
            at.push_back(static_cast<int>(i));
        }
    }
    at.push_back(static_cast<int>(text.size()));

    struct Span { std::uint32_t begin, count; };
    std::unordered_map<std::string_view, Span> cache;
    std::vector<std::pair<int, int>> cached;  // (id, length in norm)
    std::size_t pos = 0;                      // where the next token starts in norm
    const auto emit = [&](std::size_t segBegin, std::size_t segEnd) {
        const std::string_view segment = std::string_view(norm).substr(segBegin, segEnd - segBegin);
        auto [it, inserted] = cache.try_emplace(segment);
        if (inserted) {
            const auto first = static_cast<std::uint32_t>(cached.size());
            encodeSpmSegment(segment, cached);
            it->second = {first, static_cast<std::uint32_t>(cached.size() - first)};
        }
        for (std::uint32_t k = 0; k < it->second.count; ++k) {
            const auto [id, len] = cached[it->second.begin + k];
            out.ids.push_back(id);
            out.offsets.emplace_back(at[pos], at[pos + len]);
            pos += len;
        }
    };
    std::size_t segBegin = 0;
    std::uint32_t prevKey = 0;
    for (std::size_t p = 0; p < norm.size();) {
        const int len = std::max(1, utf8CharLength(norm, p));
        const std::uint32_t key = symbolKey(std::string_view(norm).substr(p, len));
        if (p > 0 && !m_joins.contains(pairKey(int(prevKey), int(key)))) {
            emit(segBegin, p);
            segBegin = p;
        }
        prevKey = key;
        p += len;
    }
    emit(segBegin, norm.size());
}

void Tokenizer::encodeSpmSegment(std::string_view norm, std::vector<std::pair<int, int>>& out) const {
    struct Symbol { int start, len, prev, next; };  // len 0: merged into its left neighbour
    std::vector<Symbol> syms;
    syms.reserve(norm.size());
    for (std::size_t pos = 0; pos < norm.size();) {
        const int len = std::max(1, utf8CharLength(norm, pos));
        const int index = static_cast<int>(syms.size());
        syms.push_back({static_cast<int>(pos), len, index - 1, index + 1});
        pos += len;
    }
    syms.back().next = -1;

    struct Bigram { float score; int left, right, size; };
    const auto lower = [](const Bigram& a, const Bigram& b) {
        return a.score != b.score ? a.score < b.score : a.left > b.left;
    };
    std::vector<Bigram> heap;
    const auto tryAdd = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const int size = syms[left].len + syms[right].len;
        const int id = findPiece(norm.substr(syms[left].start, size));
        if (id < 0 || !m_mergeable[id]) return;
        heap.push_back({m_spec.scores[id], left, right, size});
        std::push_heap(heap.begin(), heap.end(), lower);
    };
    for (std::size_t i = 1; i < syms.size(); ++i) tryAdd(static_cast<int>(i) - 1, static_cast<int>(i));
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), lower);
        const Bigram b = heap.back();
        heap.pop_back();
        Symbol& left = syms[b.left];
        Symbol& right = syms[b.right];
        if (left.len == 0 || right.len == 0 || left.len + right.len != b.size) continue;  // stale
        left.len += right.len;
        right.len = 0;
        left.next = right.next;
        if (right.next >= 0) syms[right.next].prev = b.left;
        tryAdd(left.prev, b.left);
        tryAdd(b.left, left.next);
    }

    for (int i = 0; i >= 0; i = syms[i].next) {
        const Symbol& s = syms[i];
        const std::string_view piece = norm.substr(s.start, s.len);
        const int id = findPiece(piece);
        if (id >= 0) {
            out.emplace_back(id, s.len);
            continue;
        }
        const bool allBytes = std::all_of(piece.begin(), piece.end(), [&](char c) {
            return m_byteToId[static_cast<unsigned char>(c)] >= 0;
        });
        if (allBytes) {
            for (const char c : piece) out.emplace_back(m_byteToId[static_cast<unsigned char>(c)], 1);
        } else if (m_unkId >= 0) {
            out.emplace_back(m_unkId, s.len);
        } else {
            throw InvalidInput("The sentencepiece vocabulary cannot encode " + inQuotes(piece) +
                               ": it has neither byte pieces <0xNN> for it nor <unk>.");
        }
    }
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
    std::string out;
    const bool sentencePiece = m_spec.kind == TokenizerKind::SentencePieceBpe;
    bool first = true;
    for (const int id : ids) {
        if (id < 0 || id >= vocabSize())
            throw InvalidInput("Token id " + std::to_string(id) + " is outside the vocabulary of " +
                               std::to_string(vocabSize()) + " pieces.");
        if (sentencePiece) {
            if (id == m_spec.bosId || id == m_spec.eosId) continue;
            // SentencePiece drops the space the dummy prefix put before the first piece.
            if (first && m_spec.vocab[id].starts_with(kSpaceMark)) {
                out.append(m_idToBytes[id], 1);
                first = false;
                continue;
            }
        }
        first = false;
        out += m_idToBytes[id];
    }
    return out;
}

std::string Tokenizer::tokenBytes(int id) const {
    if (id < 0 || id >= vocabSize())
        throw InvalidInput("Token id " + std::to_string(id) + " is outside the vocabulary of " +
                           std::to_string(vocabSize()) + " pieces.");
    return m_idToBytes[id];
}

std::string Tokenizer::tokenDisplay(int id) const {
    const std::string shown = printableBytes(tokenBytes(id));
    std::string out;
    out.reserve(shown.size());
    for (const char c : shown) {
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if ((c >= 0 && c < 0x20) || c == 0x7F) out += hexByte(static_cast<unsigned char>(c));
        else out += c;
    }
    return out;
}

}  // namespace mwb
