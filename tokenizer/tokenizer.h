// Tokenizers stored inside a model file (/tokenizer, docs/file-format.md):
// GPT-2 byte-level BPE and SentencePiece-style BPE with byte fallback (Llama).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tensor/progress.h"
#include "tokenizer/byte_level.h"

namespace mwb {

enum class TokenizerKind { ByteBpe, SentencePieceBpe };

// A token Hugging Face's tokenizer.json lists in "added_tokens": matched whole in the text
// and split out before normalisation and pre-tokenisation.
struct AddedToken {
    int id = -1;           // its content is vocab[id]
    bool special = false;  // a control token (skipped by Hugging Face's decode on request)
    bool normalized = false;  // matched in the normalised text rather than the raw text
    bool operator==(const AddedToken&) const = default;
};

// Exactly what the file's /tokenizer group holds.
struct TokenizerSpec {
    TokenizerKind kind = TokenizerKind::ByteBpe;
    int bosId = -1;
    int eosId = -1;
    bool addBos = false;
    std::vector<std::string> vocab;   // token strings as the source writes them ("Ġthe", "▁the")
    std::vector<std::string> merges;  // "Ġ t", highest priority first (see Tokenizer::encode)
    std::vector<float> scores;        // sentencepiece_bpe: piece scores
    // byte_bpe: the pre-tokenisation regex (PCRE2 syntax); empty means GPT-2's.
    std::string preTokenizerPattern;
    // Unicode NFC normalisation of the text before pre-tokenisation (Qwen 2, GPT-NeoX).
    bool nfc = false;
    // sentencepiece_bpe: put a "▁" before the text (Llama 2) or not (Gemma).
    bool addDummyPrefix = true;
    // byte_bpe: a pre-token that is itself a vocabulary piece is taken whole (Llama 3).
    bool ignoreMerges = false;
    // The added tokens in tokenizer.json's order; nullopt when the source lists none (older
    // model files), see Tokenizer::encode.
    std::optional<std::vector<AddedToken>> addedTokens;
};

struct Encoding {
    std::vector<int> ids;
    // Byte offsets [begin, end) of each token in the UTF-8 input; a BOS token is [0, 0).
    std::vector<std::pair<int, int>> offsets;
};

// Thread-safe for concurrent const use; copies are independent.
class Tokenizer {
public:
    Tokenizer() = default;
    // Throws InvalidInput when the spec is inconsistent: empty vocabulary, a merge naming a
    // piece (or producing a piece) not in the vocabulary, a byte_bpe vocabulary without all
    // 256 byte tokens, scores not one per piece (sentencepiece_bpe), bos/eos out of range,
    // an added token id out of range, a pre-tokenisation regex PCRE2 cannot compile.
    explicit Tokenizer(TokenizerSpec spec);

    // Adds BOS when the spec says so and addBos is not overridden to false. Then, as Hugging
    // Face's tokenizers do: the added tokens are split out of the text (leftmost first,
    // longest on a tie; first those with normalized false in the raw text, then in each
    // remaining stretch, normalised, those with normalized true in their normalised form);
    // each remaining stretch is normalised (NFC when the spec says so; sentencepiece_bpe:
    // "▁" for spaces, a leading "▁" when addDummyPrefix) and encoded by the model.
    // Without a list of added tokens, byte_bpe treats vocabulary pieces "<|name|>" (name of
    // letters, digits, "_") as added tokens and sentencepiece_bpe has none.
    // byte_bpe: split by the pre-tokenisation regex, then each pre-token is merged by
    // merge rank (Hugging Face's BPE); any bytes are accepted (invalid UTF-8 becomes byte
    // tokens and is not normalised).
    // sentencepiece_bpe with merges: Hugging Face's BPE with byte_fallback on the whole
    // stretch: characters outside the vocabulary become byte pieces "<0xNN>" (else "<unk>",
    // runs fused), then adjacent pairs merge by merge rank.
    // sentencepiece_bpe without merges: llama.cpp / llama2.c SPM behaviour (merge by piece
    // score; byte fallback "<0xNN>", else "<unk>"; throws InvalidInput if neither exists for
    // a byte). Merging never produces BOS, EOS, "<unk>" or a byte piece.
    // Offsets of tokens inside a stretch NFC changed point to the start of the change.
    // Throws InvalidInput on a default-constructed (empty) tokenizer.
    Encoding encode(std::string_view text, bool allowBos = true) const;
    std::vector<int> encodeIds(std::string_view text, bool allowBos = true) const {
        return encode(text, allowBos).ids;
    }
    // Lossless: the bytes the ids stand for (may be invalid UTF-8 for partial tokens).
    // sentencepiece_bpe leaves out BOS/EOS and drops the space the dummy prefix added to
    // the first piece, so decode(encode(x)) == x. Throws InvalidInput on an id out of range.
    std::string decode(const std::vector<int>& ids) const;
    // The bytes of one token (BOS/EOS and other control pieces give their string).
    // Throws InvalidInput on an id out of range.
    std::string tokenBytes(int id) const;
    // A printable form of one token for display (invalid UTF-8 shown as \xNN, control
    // characters as \n, \t, \r or \xNN).
    std::string tokenDisplay(int id) const;
    // Id of an exact vocabulary string, or -1.
    int pieceId(const std::string& piece) const;

    int vocabSize() const { return static_cast<int>(m_spec.vocab.size()); }
    const TokenizerSpec& spec() const { return m_spec; }

private:
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    struct Merge {
        int rank;  // position in spec.merges: lower merges first
        int id;    // the merged piece
    };
    struct Symbol {
        int id;   // a piece
        int len;  // its length in bytes of the normalised text
    };
    // Leftmost-longest matching of the added tokens (a byte trie).
    class AddedMatcher {
    public:
        void add(std::string_view content, int id);
        bool empty() const { return m_nodes.size() <= 1; }
        // (length, id) of the longest token starting at text[pos], or (0, -1).
        std::pair<std::size_t, int> longestAt(std::string_view text, std::size_t pos) const;

    private:
        struct Node {
            std::vector<std::pair<unsigned char, int>> next;
            int id = -1;
        };
        std::vector<Node> m_nodes{1};
        bool m_first[256] = {};
    };
    // A normalised stretch of text: norm[j] came from byte at[j] of the original text.
    struct Normalized {
        std::string text;
        std::vector<int> at;  // norm.size() + 1 entries
    };
    // The symbols of each distinct word (pre-token or segment) met during one encode call.
    struct WordCache {
        std::unordered_map<std::string, std::pair<std::uint32_t, std::uint32_t>, StringHash,
                           std::equal_to<>>
            spans;  // word -> (first, count) in symbols
        std::vector<Symbol> symbols;
    };
    static std::uint32_t symbolKey(std::string_view symbol);
    static std::uint64_t pairKey(int left, int right) {
        return (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
    }

    void initMerges();
    void initByteBpe();
    void initSentencePiece();
    void initAddedTokens();
    int findPiece(std::string_view piece) const;
    // text[begin, end) as the normaliser leaves it.
    Normalized normalize(std::string_view text, std::size_t begin, std::size_t end) const;
    // Calls fn(begin, end, id) for consecutive ranges covering text[begin, end): matches of
    // `matcher` with their id, the stretches between them with -1.
    static void splitAdded(const AddedMatcher& matcher, std::string_view text, std::size_t begin,
                           std::size_t end, const std::function<void(std::size_t, std::size_t, int)>& fn);
    // The Hugging Face pipeline (see encode) on text without BOS.
    void encodeWithAddedTokens(std::string_view text, Encoding& out) const;
    // The model on norm.text[begin, end), a stretch without added tokens.
    void encodeNormalized(const Normalized& norm, std::size_t begin, std::size_t end,
                          WordCache& cache, Encoding& out) const;
    // Appends the tokens of `symbols`, which cover norm.text from `begin` on.
    static void appendSymbols(const Normalized& norm, std::size_t begin, const Symbol* symbols,
                              std::size_t count, Encoding& out);
    // (first, count) of the symbols of `word` in cache.symbols, computed by fn(word, symbols)
    // the first time the word is met.
    template <class Fn>
    static std::pair<std::uint32_t, std::uint32_t> cachedWord(WordCache& cache,
                                                              std::string_view word, const Fn& fn);
    // sentencepiece by score on norm.text[begin, end).
    void encodeSpmByScore(const Normalized& norm, std::size_t begin, std::size_t end,
                          WordCache& cache, Encoding& out) const;
    // sentencepiece: (id, length in bytes) of the tokens of one normalised segment, appended.
    void encodeSpmSegment(std::string_view segment, std::vector<std::pair<int, int>>& out) const;
    // Hugging Face's BPE::merge_word: merges adjacent symbols by rank, in place.
    void mergeByRank(std::vector<Symbol>& syms) const;
    // byte_bpe: the BPE symbols of one pre-token, appended to out.
    void bpeWord(std::string_view word, std::vector<Symbol>& out) const;
    // sentencepiece_bpe with merges: the symbols of one normalised stretch, appended to out.
    void hfSentencePieceWord(std::string_view word, std::vector<Symbol>& out) const;

    TokenizerSpec m_spec;
    std::unordered_map<std::string, int, StringHash, std::equal_to<>> m_pieceToId;
    std::unordered_map<std::uint64_t, Merge> m_merges;  // pairKey(left, right)
    std::vector<std::string> m_idToBytes;               // decoded bytes per id
    PreTokenRegex m_preTokenizer;                       // byte_bpe
    AddedMatcher m_rawAdded;                            // added tokens matched in raw text
    AddedMatcher m_normalizedAdded;                     // ... in normalised text
    std::vector<char> m_mergeable;                      // sentencepiece: may a merge produce it
    std::unordered_set<std::uint64_t> m_joins;          // sentencepiece: adjacent characters
                                                        // inside some mergeable piece
    int m_byteToId[256] = {};  // byte_bpe: single-byte tokens; sentencepiece: <0xNN>, -1 if absent
    int m_unkId = -1;          // sentencepiece "<unk>", -1 if absent
};

// Train a GPT-2 style byte-level BPE vocabulary on `text` (the GPT-2 pre-tokenisation
// regex splits words; literal "<|endoftext|>" separates documents and is not learned).
// Each step merges the adjacent pair with the highest count over all words; ties go to
// the pair whose (left bytes, right bytes) is lexicographically smallest, so the result
// depends only on the text. The vocabulary is the 256 byte tokens in GPT-2's order (ids
// 0..255 equal GPT-2's), then the merged pieces, then "<|endoftext|>" (bosId = eosId,
// addBos false). Training stops early, giving a smaller vocabulary, when no adjacent pair
// occurs at least twice. Throws InvalidInput when vocabSize < 257; Cancelled when the
// progress callback returns false.
TokenizerSpec trainByteBpe(std::string_view text, int vocabSize, const ProgressFn& progress = {});

// Display of bytes: valid UTF-8 stays, other bytes become \xNN.
std::string printableBytes(std::string_view bytes);

}  // namespace mwb
