// Tokenizers: byte-level BPE and SentencePiece-style BPE with byte fallback, as Hugging
// Face's tokenizers run them (added tokens, normaliser, pre-tokenizer, BPE by merge rank),
// and SentencePiece's merging by score (llama.cpp's llm_tokenizer_spm / llama2.c) for
// vocabularies without merges. The trainer is in bpe_trainer.cpp, the byte-level mapping and
// the pre-tokenisation regex in byte_level.cpp.
#include "tokenizer/tokenizer.h"

#include <unicode/bytestream.h>
#include <unicode/edits.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>

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

// Appends the NFC form of s to out and, for each byte appended, the offset (base + index in
// s) it came from; bytes inside a change point to the change's start. Invalid UTF-8 bytes,
// which Hugging Face never sees, are kept as they are.
void appendNfc(std::string_view s, int base, std::string& out, std::vector<int>& at) {
    UErrorCode ec = U_ZERO_ERROR;
    const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(ec);
    if (U_FAILURE(ec)) throw Error(std::string("ICU's NFC normaliser is unavailable: ") + u_errorName(ec));
    std::size_t pos = 0;
    while (pos < s.size()) {
        std::size_t runEnd = pos;
        for (int len; runEnd < s.size() && (len = utf8CharLength(s, runEnd)) > 0;) runEnd += len;
        if (runEnd > pos) {
            const icu::StringPiece run(s.data() + pos, static_cast<int32_t>(runEnd - pos));
            ec = U_ZERO_ERROR;
            if (nfc->isNormalizedUTF8(run, ec) && U_SUCCESS(ec)) {
                out.append(s.substr(pos, runEnd - pos));
                for (std::size_t k = pos; k < runEnd; ++k) at.push_back(base + static_cast<int>(k));
            } else {
                ec = U_ZERO_ERROR;
                std::string normalized;
                icu::StringByteSink<std::string> sink(&normalized);
                icu::Edits edits;
                nfc->normalizeUTF8(0, run, sink, &edits, ec);
                if (U_FAILURE(ec)) throw Error(std::string("NFC normalisation failed: ") + u_errorName(ec));
                for (auto it = edits.getFineIterator(); it.next(ec);) {
                    const int src = base + static_cast<int>(pos) + it.sourceIndex();
                    out.append(normalized, it.destinationIndex(), it.newLength());
                    for (int k = 0; k < it.newLength(); ++k) at.push_back(it.hasChange() ? src : src + k);
                }
            }
        }
        for (; runEnd < s.size() && utf8CharLength(s, runEnd) == 0; ++runEnd) {
            out += s[runEnd];
            at.push_back(base + static_cast<int>(runEnd));
        }
        pos = runEnd;
    }
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
    if (m_spec.kind == TokenizerKind::ByteBpe) {
        m_preTokenizer = PreTokenRegex(m_spec.preTokenizerPattern);
        initByteBpe();
    } else {
        if (!m_spec.preTokenizerPattern.empty())
            throw InvalidInput("A sentencepiece_bpe tokenizer has no pre-tokenisation regex, but this "
                               "one names " + inQuotes(m_spec.preTokenizerPattern) + ".");
        if (m_spec.ignoreMerges)
            throw InvalidInput("ignore_merges applies to byte_bpe tokenizers only.");
        initSentencePiece();
    }
    initMerges();
    initAddedTokens();
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
}

void Tokenizer::initMerges() {
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

void Tokenizer::initAddedTokens() {
    const int n = vocabSize();
    if (!m_spec.addedTokens) {
        if (m_spec.kind == TokenizerKind::ByteBpe)
            for (int i = 0; i < n; ++i)
                if (isSpecialPiece(m_spec.vocab[i]) && findPiece(m_spec.vocab[i]) == i)
                    m_rawAdded.add(m_spec.vocab[i], i);
        return;
    }
    for (const AddedToken& t : *m_spec.addedTokens) {
        if (t.id < 0 || t.id >= n)
            throw InvalidInput("Added token id " + std::to_string(t.id) +
                               " is outside the vocabulary of " + std::to_string(n) + " pieces.");
        const std::string& content = m_spec.vocab[t.id];
        if (!t.normalized) {
            m_rawAdded.add(content, t.id);
        } else {
            // Hugging Face matches these in normalised text, so it normalises them too.
            m_normalizedAdded.add(normalize(content, 0, content.size()).text, t.id);
        }
    }
}

void Tokenizer::AddedMatcher::add(std::string_view content, int id) {
    if (content.empty()) return;
    int node = 0;
    for (const char c : content) {
        const auto byte = static_cast<unsigned char>(c);
        auto& next = m_nodes[node].next;
        const auto it = std::find_if(next.begin(), next.end(), [&](const auto& e) { return e.first == byte; });
        if (it != next.end()) {
            node = it->second;
        } else {
            const int created = static_cast<int>(m_nodes.size());
            next.emplace_back(byte, created);
            m_nodes.emplace_back();
            node = created;
        }
    }
    if (m_nodes[node].id < 0) m_nodes[node].id = id;  // the first of equal contents wins
    m_first[static_cast<unsigned char>(content[0])] = true;
}

std::pair<std::size_t, int> Tokenizer::AddedMatcher::longestAt(std::string_view text,
                                                               std::size_t pos) const {
    std::pair<std::size_t, int> best{0, -1};
    if (!m_first[static_cast<unsigned char>(text[pos])]) return best;
    int node = 0;
    for (std::size_t i = pos; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        const auto& next = m_nodes[node].next;
        const auto it = std::find_if(next.begin(), next.end(), [&](const auto& e) { return e.first == byte; });
        if (it == next.end()) break;
        node = it->second;
        if (m_nodes[node].id >= 0) best = {i + 1 - pos, m_nodes[node].id};
    }
    return best;
}

void Tokenizer::splitAdded(const AddedMatcher& matcher, std::string_view text, std::size_t begin,
                           std::size_t end,
                           const std::function<void(std::size_t, std::size_t, int)>& fn) {
    std::size_t stretch = begin;
    if (!matcher.empty()) {
        const std::string_view part = text.substr(0, end);
        for (std::size_t pos = begin; pos < end;) {
            const auto [len, id] = matcher.longestAt(part, pos);
            if (len == 0) {
                ++pos;
                continue;
            }
            if (pos > stretch) fn(stretch, pos, -1);
            fn(pos, pos + len, id);
            pos += len;
            stretch = pos;
        }
    }
    if (end > stretch) fn(stretch, end, -1);
}

Tokenizer::Normalized Tokenizer::normalize(std::string_view text, std::size_t begin,
                                           std::size_t end) const {
    Normalized out;
    const std::string_view piece = text.substr(begin, end - begin);
    if (m_spec.nfc) {
        out.at.reserve(piece.size() + 1);
        appendNfc(piece, static_cast<int>(begin), out.text, out.at);
    } else {
        out.text.assign(piece);
        out.at.resize(piece.size());
        for (std::size_t k = 0; k < piece.size(); ++k) out.at[k] = static_cast<int>(begin + k);
    }
    out.at.push_back(static_cast<int>(end));
    if (m_spec.kind == TokenizerKind::ByteBpe || out.text.empty()) return out;
    // SentencePiece: spaces become "▁", and the dummy prefix "▁" stands for nothing.
    Normalized spm;
    spm.text.reserve(out.text.size() + out.text.size() / 4 + 8);
    spm.at.reserve(spm.text.capacity() + 1);
    if (m_spec.addDummyPrefix) {
        spm.text.append(kSpaceMark);
        spm.at.insert(spm.at.end(), kSpaceMark.size(), out.at[0]);
    }
    for (std::size_t i = 0; i < out.text.size(); ++i) {
        if (out.text[i] == ' ') {
            spm.text.append(kSpaceMark);
            spm.at.insert(spm.at.end(), kSpaceMark.size(), out.at[i]);
        } else {
            spm.text += out.text[i];
            spm.at.push_back(out.at[i]);
        }
    }
    spm.at.push_back(out.at.back());
    return spm;
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
    encodeWithAddedTokens(text, out);
    return out;
}

void Tokenizer::encodeWithAddedTokens(std::string_view text, Encoding& out) const {
    WordCache cache;
    splitAdded(m_rawAdded, text, 0, text.size(), [&](std::size_t begin, std::size_t end, int id) {
        if (id >= 0) {
            out.ids.push_back(id);
            out.offsets.emplace_back(static_cast<int>(begin), static_cast<int>(end));
            return;
        }
        const Normalized norm = normalize(text, begin, end);
        splitAdded(m_normalizedAdded, norm.text, 0, norm.text.size(),
                   [&](std::size_t b, std::size_t e, int added) {
                       if (added >= 0) {
                           out.ids.push_back(added);
                           out.offsets.emplace_back(norm.at[b], norm.at[e]);
                       } else {
                           encodeNormalized(norm, b, e, cache, out);
                       }
                   });
    });
}

template <class Fn>
std::pair<std::uint32_t, std::uint32_t> Tokenizer::cachedWord(WordCache& cache,
                                                               std::string_view word, const Fn& fn) {
    auto it = cache.spans.find(word);
    if (it == cache.spans.end()) {
        const auto first = static_cast<std::uint32_t>(cache.symbols.size());
        fn(word, cache.symbols);
        const auto count = static_cast<std::uint32_t>(cache.symbols.size() - first);
        it = cache.spans.emplace(std::string(word), std::pair{first, count}).first;
    }
    return it->second;
}

void Tokenizer::appendSymbols(const Normalized& norm, std::size_t begin, const Symbol* symbols,
                              std::size_t count, Encoding& out) {
    std::size_t pos = begin;
    for (std::size_t k = 0; k < count; ++k) {
        out.ids.push_back(symbols[k].id);
        out.offsets.emplace_back(norm.at[pos], norm.at[pos + symbols[k].len]);
        pos += symbols[k].len;
    }
}

void Tokenizer::encodeNormalized(const Normalized& norm, std::size_t begin, std::size_t end,
                                 WordCache& cache, Encoding& out) const {
    if (m_spec.kind == TokenizerKind::ByteBpe) {
        // Pre-tokens repeat a lot in real text: BPE each distinct one once per call.
        m_preTokenizer.split(norm.text, begin, end, [&](std::size_t b, std::size_t e) {
            const auto [first, count] = cachedWord(
                cache, std::string_view(norm.text).substr(b, e - b),
                [&](std::string_view word, std::vector<Symbol>& syms) { bpeWord(word, syms); });
            appendSymbols(norm, b, cache.symbols.data() + first, count, out);
        });
    } else if (!m_spec.merges.empty()) {
        // No pre-tokenizer: the whole stretch is one word.
        std::vector<Symbol> syms;
        hfSentencePieceWord(std::string_view(norm.text).substr(begin, end - begin), syms);
        appendSymbols(norm, begin, syms.data(), syms.size(), out);
    } else {
        encodeSpmByScore(norm, begin, end, cache, out);
    }
}

// Hugging Face's Word::merge_all: repeatedly merge the adjacent pair with the lowest merge
// rank (leftmost first on equal rank), using a heap with lazily discarded stale entries.
void Tokenizer::mergeByRank(std::vector<Symbol>& syms) const {
    const int n = static_cast<int>(syms.size());
    if (n < 2) return;
    struct Node { int id, len, prev, next; };  // id -1: merged into its left neighbour
    struct Candidate { int rank, pos, left, right, merged; };
    std::vector<Node> nodes(n);
    for (int i = 0; i < n; ++i) nodes[i] = {syms[i].id, syms[i].len, i - 1, i + 1 < n ? i + 1 : -1};
    const auto later = [](const Candidate& a, const Candidate& b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    std::vector<Candidate> heap;
    const auto consider = [&](int pos) {
        if (pos < 0 || nodes[pos].next < 0) return;
        const int left = nodes[pos].id, right = nodes[nodes[pos].next].id;
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
        Node& s = nodes[c.pos];
        if (s.id != c.left || s.next < 0 || nodes[s.next].id != c.right) continue;  // stale
        const int removed = s.next;
        s.id = c.merged;
        s.len += nodes[removed].len;
        s.next = nodes[removed].next;
        if (s.next >= 0) nodes[s.next].prev = c.pos;
        nodes[removed].id = -1;
        consider(s.prev);
        consider(c.pos);
    }
    syms.clear();
    for (int i = 0; i >= 0; i = nodes[i].next) syms.push_back({nodes[i].id, nodes[i].len});
}

void Tokenizer::bpeWord(std::string_view word, std::vector<Symbol>& out) const {
    if (m_spec.ignoreMerges) {
        const int whole = findPiece(byteLevelEncode(word));
        if (whole >= 0) {
            out.push_back({whole, static_cast<int>(word.size())});
            return;
        }
    }
    std::vector<Symbol> syms;
    syms.reserve(word.size());
    for (const char c : word) syms.push_back({m_byteToId[static_cast<unsigned char>(c)], 1});
    mergeByRank(syms);
    out.insert(out.end(), syms.begin(), syms.end());
}

// Hugging Face's BPE::merge_word with byte_fallback: each character is its vocabulary piece,
// else its bytes as "<0xNN>" pieces when all exist, else "<unk>" (a run of them fused).
void Tokenizer::hfSentencePieceWord(std::string_view word, std::vector<Symbol>& out) const {
    std::vector<Symbol> syms;
    syms.reserve(word.size());
    Symbol unk{-1, 0};
    for (std::size_t pos = 0; pos < word.size();) {
        const int len = std::max(1, utf8CharLength(word, pos));
        const std::string_view ch = word.substr(pos, len);
        pos += len;
        const int id = findPiece(ch);
        if (id >= 0) {
            if (unk.id >= 0) syms.push_back(std::exchange(unk, Symbol{-1, 0}));
            syms.push_back({id, len});
            continue;
        }
        const bool allBytes = std::all_of(ch.begin(), ch.end(), [&](char c) {
            return m_byteToId[static_cast<unsigned char>(c)] >= 0;
        });
        if (allBytes) {
            if (unk.id >= 0) syms.push_back(std::exchange(unk, Symbol{-1, 0}));
            for (const char c : ch) syms.push_back({m_byteToId[static_cast<unsigned char>(c)], 1});
        } else if (m_unkId >= 0) {
            unk = {m_unkId, unk.len + len};
        } else {
            throw InvalidInput("The sentencepiece vocabulary cannot encode " + inQuotes(ch) +
                               ": it has neither byte pieces <0xNN> for it nor <unk>.");
        }
    }
    if (unk.id >= 0) syms.push_back(unk);
    mergeByRank(syms);
    out.insert(out.end(), syms.begin(), syms.end());
}

// A character (or a stray byte) of normalised text packed into 32 bits; distinct
// characters give distinct keys since UTF-8 lead bytes differ by length.
std::uint32_t Tokenizer::symbolKey(std::string_view symbol) {
    std::uint32_t key = 0;
    for (unsigned char c : symbol) key = (key << 8) | c;
    return key;
}

// llama.cpp's llm_tokenizer_spm on normalised text (spaces written as "▁", the dummy prefix
// already there): start from one symbol per UTF-8 character, and repeatedly merge the
// adjacent pair whose concatenation is the vocabulary piece with the highest score (leftmost
// first on equal score). Characters that end up outside the vocabulary become byte pieces
// "<0xNN>".
//
// Speed-up with the same result: two neighbouring characters that are next to each other
// in no mergeable piece can never end up in one token, so the text falls apart into
// segments there (for Llama: before each "▁" that follows another character), which are
// tokenized independently, and only once per distinct segment.
void Tokenizer::encodeSpmByScore(const Normalized& norm, std::size_t begin, std::size_t end,
                                 WordCache& cache, Encoding& out) const {
    const std::string_view text(norm.text);
    const auto emit = [&](std::size_t segBegin, std::size_t segEnd) {
        const auto [first, count] = cachedWord(
            cache, text.substr(segBegin, segEnd - segBegin),
            [&](std::string_view segment, std::vector<Symbol>& syms) {
                std::vector<std::pair<int, int>> pieces;
                encodeSpmSegment(segment, pieces);
                for (const auto& [id, len] : pieces) syms.push_back({id, len});
            });
        appendSymbols(norm, segBegin, cache.symbols.data() + first, count, out);
    };
    std::size_t segBegin = begin;
    std::uint32_t prevKey = 0;
    for (std::size_t p = begin; p < end;) {
        const int len = std::max(1, utf8CharLength(text.substr(0, end), p));
        const std::uint32_t key = symbolKey(text.substr(p, len));
        if (p > begin && !m_joins.contains(pairKey(int(prevKey), int(key)))) {
            emit(segBegin, p);
            segBegin = p;
        }
        prevKey = key;
        p += len;
    }
    if (end > segBegin) emit(segBegin, end);
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
            if (first && m_spec.addDummyPrefix && m_spec.vocab[id].starts_with(kSpaceMark)) {
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
