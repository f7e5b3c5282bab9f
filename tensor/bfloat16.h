// bfloat16 (the upper half of an IEEE float32, as PyTorch and safetensors store it)
// <-> float32 conversion.
#pragma once

#include <bit>
#include <cstdint>

namespace mwb {

// Exact: every bfloat16 value is a float.
inline float bfloat16ToFloat(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

// Round to nearest, ties to even (PyTorch's rounding); NaN stays a quiet NaN.
inline uint16_t floatToBfloat16(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x0040u);
    return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace mwb
