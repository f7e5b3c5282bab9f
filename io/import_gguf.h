// Import of GGUF files (llama.cpp's model format) for the architectures llama (Llama 1-3,
// Mistral, TinyLlama as llama.cpp converts them), qwen2 (Qwen 2 / 2.5), qwen3, gemma2,
// phi3, olmo2, gptneox (GPT-NeoX, Pythia) and gpt2.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/imported_model.h"
#include "model/weights.h"
#include "tensor/progress.h"
#include "tokenizer/tokenizer.h"

namespace mwb {

// Reads the file into an in-memory Model, one tensor at a time, decoding every tensor
// type of io/gguf_quants.h to float32 (`precision` Float16 keeps the linear weights
// that may be kept so in float16 instead, see weights.h). What llama.cpp's converter did
// to the Hugging Face tensors is undone: the rows of llama's attn_q and attn_k go back to
// Hugging Face's rotate-half order; a fused attn_qkv (gpt2, gptneox, phi3) is split into
// q, k and v and phi3's ffn_up into gate and up; gemma2's norm weights, stored as w + 1,
// become w again (up to float32 rounding). A gpt2 output.weight equal to token_embd (the
// converter writes the tied embedding twice) becomes a tied unembedding. <arch>.rope.scaling.*
// (linear) and a rope_freqs tensor matching Llama 3's scaling become the config's
// RopeScaling. Throws InvalidInput naming the file and the key or tensor for anything wrong
// (see GgufFile), for another architecture (named), for what the model core does not compute
// (LongRoPE factors, OLMo 3's sliding pattern, partial rotary of a permuted llama head),
// missing tensors, shapes that disagree with the metadata, tensor types that cannot be
// decoded, NaN/Inf weights and an unusable vocabulary; Cancelled when `progress` returns false.
// `precision` Float16 keeps every linear weight in float16 while reading, mlp/down too
// (as importHf: the model is for writing to a float16 file).
ImportedModel importGguf(const std::filesystem::path& file, const ProgressFn& progress = {},
                         WeightPrecision precision = WeightPrecision::Float32);

// The vocabulary of tokenizer.ggml.*: model "gpt2" (tokens, merges) is byte_bpe, model
// "llama" (tokens, scores) sentencepiece_bpe; bos/eos ids and add_bos_token (default:
// true for llama, false for gpt2, as llama.cpp). Appends to `warnings` what this
// program's tokenizer will not reproduce exactly: a tokenizer.ggml.pre other than GPT-2's
// pre-tokeniser, add_space_prefix false, control tokens it will not split out of text.
// Throws InvalidInput naming the file and key for a missing or mistyped key or another
// tokenizer model. The spec is not checked by a Tokenizer here.
TokenizerSpec readGgufTokenizer(const GgufFile& gguf, std::vector<std::string>& warnings);

}  // namespace mwb
