// IEEE 754 half precision (numpy's float16, as h5py stores it) <-> float32 conversion.
#pragma once

#include <bit>
#include <cstdint>

namespace mwb {

// Exact: every half value is representable as a float (NaN payloads are kept).
inline float halfToFloat(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    const uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
        const float magnitude = float(mantissa) * 0x1p-24f;
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Round to nearest, ties to even. Values of magnitude >= 65520 become infinity; NaN
// stays NaN.
inline uint16_t floatToHalf(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
    uint32_t magnitude = x & 0x7fffffffu;
    if (magnitude >= 0x7f800000u) {  // Inf or NaN (keep a quiet NaN with the top payload bits)
        if (magnitude == 0x7f800000u) return sign | 0x7c00u;
        return uint16_t(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
    }
    if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to infinity
    if (magnitude < 0x38800000u) {                        // below 2^-14: half subnormal
        // Adding 0.5f (whose ulp is 2^-24, the half subnormal step) rounds to nearest
        // even in the FPU; the low bits are then the subnormal mantissa.
        const float shifted = std::bit_cast<float>(magnitude) + 0.5f;
        return uint16_t(sign | (std::bit_cast<uint32_t>(shifted) - 0x3f000000u));
    }
    // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits,
    // ties to even (add 0xfff, plus one when the kept mantissa is odd).
    const uint32_t keptOdd = (magnitude >> 13) & 1u;
    magnitude += 0xc8000fffu + keptOdd;
    return uint16_t(sign | (magnitude >> 13));
}

// n halves to floats, exactly like halfToFloat, with the CPU's conversion
// instruction when it has one (the forward pass of models kept in float16).
void halvesToFloats(const uint16_t* in, float* out, long n);

// Largest finite half value.
inline constexpr float kHalfMax = 65504.0f;

}  // namespace mwb
