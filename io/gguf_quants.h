// The tensor encodings of GGUF files (ggml's ggml_type) and their decoding to float32.
// Block layouts follow ggml (ggml/src/ggml-common.h, dequantize_row_* in
// ggml/src/ggml-quants.c); gguf_quants.cpp describes each one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mwb {

// ggml_type numbers as GGUF stores them (ggml.h). Only the types below are decoded; the
// others (IQ*, Q8_1, Q8_K, integer types, ...) are refused by name.
enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    BF16 = 30,
};

struct GgmlTypeInfo {
    const char* name;    // "Q4_K", as llama.cpp prints it
    int blockElements;   // values per block (1 for F32, F16, BF16)
    int blockBytes;      // bytes per block
};

// The layout of a decodable type; nullopt for a number this program cannot decode.
std::optional<GgmlTypeInfo> ggmlTypeInfo(uint32_t type);

// ggml's name of any type number ("IQ2_XXS", "Q8_K", ...), or "type N" when unknown.
std::string ggmlTypeName(uint32_t type);

// Decodes `blocks` consecutive blocks of `type` (a decodable type) from `in` into
// blocks * blockElements floats at `out`.
void dequantizeBlocks(GgmlType type, const uint8_t* in, int64_t blocks, float* out);

}  // namespace mwb
