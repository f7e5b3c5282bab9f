// Tokenizers stored inside a model file (/tokenizer, spec/model-format.md):
// GPT-2 byte-level BPE and SentencePiece-style BPE with byte fallback (Llama).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/progress.h"

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

class Tokenizer {
public:
    Tokenizer() = default;
    // Throws InvalidInput when the spec is inconsistent (merge of unknown tokens, ...).
    explicit Tokenizer(TokenizerSpec spec);

    // Adds BOS when the spec says so and addBos is not overridden to false.
    Encoding encode(std::string_view text, bool allowBos = true) const;
    std::vector<int> encodeIds(std::string_view text, bool allowBos = true) const {
        return encode(text, allowBos).ids;
    }
    // Lossless: the bytes the ids stand for (may be invalid UTF-8 for partial tokens).
    std::string decode(const std::vector<int>& ids) const;
    // The bytes of one token (BOS/EOS and other control pieces give their string).
    std::string tokenBytes(int id) const;
    // A printable form of one token for display (invalid UTF-8 shown as \xNN).
    std::string tokenDisplay(int id) const;
    // Id of an exact vocabulary string, or -1.
    int pieceId(const std::string& piece) const;

    int vocabSize() const { return static_cast<int>(m_spec.vocab.size()); }
    const TokenizerSpec& spec() const { return m_spec; }

private:
    TokenizerSpec m_spec;
    std::unordered_map<std::string, int> m_pieceToId;
    std::unordered_map<std::string, int> m_mergeRank;  // "left right" -> rank
    std::vector<std::string> m_idToBytes;             // decoded bytes per id
    int m_byteFallback[256] = {};                     // sentencepiece <0xNN> ids, -1 if absent
};

// Train a GPT-2 style byte-level BPE vocabulary on `text` (the GPT-2 pre-tokenisation
// regex splits words; merges are learned by pair frequency, ties broken
// deterministically). The vocabulary starts with the 256 byte tokens and ends with
// "<|endoftext|>" (used as EOS).
TokenizerSpec trainByteBpe(std::string_view text, int vocabSize, const ProgressFn& progress = {});

// Display of bytes: valid UTF-8 stays, other bytes become \xNN.
std::string printableBytes(std::string_view bytes);

}  // namespace mwb
