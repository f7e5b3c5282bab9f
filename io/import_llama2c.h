// Import of llama2.c checkpoints (the legacy format, export.py --version 0) and of
// llama2.c's tokenizer.bin.
#pragma once

#include <filesystem>

#include "io/imported_model.h"
#include "tensor/progress.h"
#include "tokenizer/tokenizer.h"

namespace mwb {

// Checkpoint: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
// vocab_size < 0 means an untied classifier), then float32 token_embedding, rms_att, wq, wk,
// wv, wo, rms_ffn, w1 (gate), w2 (down), w3 (up), rms_final, freq_cis_real, freq_cis_imag
// (skipped), [wcls]. wq and wk are in Meta's interleaved rotary layout and are permuted
// into the rotate_half layout of the forward pass, so the model gives llama2.c's logits.
// RMSNorm epsilon 1e-5 and rope theta 10000, as llama2.c's run.c.
// Without a tokenizer file the vocabulary is llama2.c's SentencePiece layout with
// placeholders: <unk>, <s>, </s>, the 256 byte pieces <0xNN>, then unused pieces (a warning
// says so; needs vocab_size >= 259).
// Throws ModelFormatError naming the file for a bad header, a file size that does not match
// the header, NaN/Inf weights, the newer versioned format, or a tokenizer whose piece count
// differs from vocab_size; Cancelled via `progress`.
ImportedModel importLlama2c(const std::filesystem::path& checkpoint,
                            const std::filesystem::path& tokenizerBin = {},
                            const ProgressFn& progress = {});

// tokenizer.bin: int32 max_token_length, then per piece float32 score, int32 length, bytes.
// llama2.c writes SentencePiece's "▁" as a space and BOS/EOS as "\n<s>\n", "\n</s>\n";
// both are undone. BOS = 1, EOS = 2, BOS added to prompts (as llama2.c's run.c). Throws
// ModelFormatError when the file is truncated or does not hold exactly vocabSize pieces.
TokenizerSpec readLlama2cTokenizer(const std::filesystem::path& file, int vocabSize);

}  // namespace mwb
