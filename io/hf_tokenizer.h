// The tokenizer files of a Hugging Face model folder <-> TokenizerSpec: tokenizer.json
// (a BPE model, either byte-level as GPT-2 and Llama 3, or SentencePiece-style with "▁"
// pieces and <0xNN> byte fallback as Llama 2, Mistral and TinyLlama), or GPT-2's
// vocab.json + merges.txt.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mwb {

// Reads dir/tokenizer.json when present (what Hugging Face's fast tokenizers use), else
// dir/vocab.json + dir/merges.txt (+ added_tokens.json). bosId / eosId come from
// config.json (-1: take them from tokenizer_config.json). The merges are kept in their
// order, which is how both kinds merge; SentencePiece-style vocabularies also get scores
// from the merge ranks (score = -rank of the first merge producing the piece). The
// pre-tokenizer regex, NFC, the dummy prefix, ignore_merges and the added tokens are read
// into the spec. Throws ModelFormatError naming the file (and the JSON key) for missing
// files, malformed JSON, non-BPE models, vocabulary ids with gaps or collisions, any
// normaliser, pre-tokenizer or added-token option this program would not reproduce exactly,
// and vocabularies the Tokenizer refuses.
TokenizerSpec readHfTokenizer(const std::filesystem::path& dir, int bosId, int eosId);

struct TextFile {
    std::string name;
    std::string content;
};

// tokenizer.json and tokenizer_config.json, plus vocab.json and merges.txt for byte_bpe,
// with the spec's pre-tokenizer regex, NFC, dummy prefix, ignore_merges and added tokens.
// A sentencepiece_bpe spec without merges gets them generated from the scores: every split
// of every piece into two vocabulary pieces, pieces by decreasing score. Throws InvalidInput
// when the vocabulary holds a piece twice (a Hugging Face vocabulary is a map).
std::vector<TextFile> hfTokenizerFiles(const TokenizerSpec& spec);

}  // namespace mwb
