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
// config.json (-1: take them from tokenizer_config.json). SentencePiece-style vocabularies
// get scores from the merge ranks (score = -rank of the first merge producing the piece), so
// that the highest-scoring merge is the one Hugging Face applies first. Appends to `warnings`
// where this program's tokenizer will not reproduce Hugging Face's exactly (another
// pre-tokenisation regex, no dummy prefix, merges not listed for every split). Throws
// ModelFormatError naming the file for missing files, malformed JSON, non-BPE models,
// vocabulary ids with gaps or collisions, and vocabularies the Tokenizer refuses.
TokenizerSpec readHfTokenizer(const std::filesystem::path& dir, int bosId, int eosId,
                              std::vector<std::string>& warnings);

struct TextFile {
    std::string name;
    std::string content;
};

// tokenizer.json and tokenizer_config.json, plus vocab.json and merges.txt for byte_bpe.
// SentencePiece-style merges are generated from the scores: every split of every piece into
// two vocabulary pieces, pieces by decreasing score. Throws InvalidInput when the vocabulary
// holds a piece twice (a Hugging Face vocabulary is a map).
std::vector<TextFile> hfTokenizerFiles(const TokenizerSpec& spec);

}  // namespace mwb
