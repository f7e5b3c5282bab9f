// Tokenizers stored inside a model file (/tokenizer, docs/file-format.md):
// GPT-2 byte-level BPE and SentencePiece-style BPE with byte fallback (Llama).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tensor/progress.h"

namespace mwb {

enum class TokenizerKind { ByteBpe, SentencePieceBpe };

// Exactly what the file's /tokenizer group holds.
struct TokenizerSpec {
    TokenizerKind kind = TokenizerKind::ByteBpe;
    int bosId = -1;
    int eosId = -1;
    bool addBos = false;
    std::vector<std::string> vocab;   // token strings as the source writes them ("Ġthe", "▁the")
    std::vector<std::string> merges;  // byte_bpe: "Ġ t", highest priority first
    std::vector<float> scores;        // sentencepiece_bpe: piece scores
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
    // 256 byte tokens, scores not one per piece (sentencepiece_bpe), bos/eos out of range.
    explicit Tokenizer(TokenizerSpec spec);

    // Adds BOS when the spec says so and addBos is not overridden to false.
    // byte_bpe: Hugging Face GPT-2 behaviour; vocabulary pieces "<|name|>" (name of letters,
    // digits, "_") found in the text are special tokens, split out before pre-tokenisation.
    // Any bytes are accepted (invalid UTF-8 becomes byte tokens).
    // sentencepiece_bpe: llama.cpp / llama2.c SPM behaviour (dummy-prefix space, byte
    // fallback "<0xNN>", else "<unk>"; throws InvalidInput if neither exists for a byte).
    // Merging never produces BOS, EOS, "<unk>" or a byte piece.
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
    static std::uint32_t symbolKey(std::string_view symbol);
    static std::uint64_t pairKey(int left, int right) {
        return (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
    }

    void initByteBpe();
    void initSentencePiece();
    int findPiece(std::string_view piece) const;
    void encodeByteBpe(std::string_view text, Encoding& out) const;
    void encodeSentencePiece(std::string_view text, Encoding& out) const;
    // sentencepiece: (id, length in bytes) of the tokens of one normalised segment, appended.
    void encodeSpmSegment(std::string_view segment, std::vector<std::pair<int, int>>& out) const;
    // byte_bpe: the BPE ids of one pre-token, appended to out.
    void bpeWord(std::string_view word, std::vector<int>& out) const;

    TokenizerSpec m_spec;
    std::unordered_map<std::string, int, StringHash, std::equal_to<>> m_pieceToId;
    std::unordered_map<std::uint64_t, Merge> m_merges;  // byte_bpe: pairKey(left, right)
    std::vector<std::string> m_idToBytes;               // decoded bytes per id
    std::vector<std::string> m_specials;                // byte_bpe "<|...|>" pieces
    std::vector<int> m_specialIds;                      // their ids
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
