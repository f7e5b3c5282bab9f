// Decoding of ggml's tensor encodings (see gguf_quants.h). Every layout below is the
// block_* struct of ggml/src/ggml-common.h, and every formula the one of the matching
// dequantize_row_* of ggml/src/ggml-quants.c, with the same order of float operations so
// that the values are bit for bit those llama.cpp computes. All multi-byte fields are
// little-endian; `d`, `m` and `dmin` are IEEE half floats.
#include "io/gguf_quants.h"

#include <cstring>

#include "tensor/bfloat16.h"
#include "tensor/errors.h"
#include "tensor/float16.h"

namespace mwb {

namespace {

constexpr int kQK = 32;    // QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0 in ggml
constexpr int kQKK = 256;  // QK_K: the super-block of the k-quants

float half(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return halfToFloat(h);
}

// Q4_0, 18 bytes: d (half), qs[16]. Byte j holds value j in its low nibble and value
// j + 16 in its high nibble; x = (nibble - 8) * d.
void q4_0(const uint8_t* b, float* y) {
    const float d = half(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < kQK / 2; ++j) {
        y[j] = float((qs[j] & 0x0F) - 8) * d;
        y[j + kQK / 2] = float((qs[j] >> 4) - 8) * d;
    }
}

// Q4_1, 20 bytes: d, m (halves), qs[16] as Q4_0; x = nibble * d + m.
void q4_1(const uint8_t* b, float* y) {
    const float d = half(b), m = half(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < kQK / 2; ++j) {
        y[j] = float(qs[j] & 0x0F) * d + m;
        y[j + kQK / 2] = float(qs[j] >> 4) * d + m;
    }
}

// Q5_0, 22 bytes: d, qh (uint32: bit j is the fifth bit of value j), qs[16] as Q4_0;
// x = (five-bit value - 16) * d.
void q5_0(const uint8_t* b, float* y) {
    const float d = half(b);
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < kQK / 2; ++j) {
        const int x0 = (qs[j] & 0x0F) | int(((qh >> j) & 1u) << 4);
        const int x1 = (qs[j] >> 4) | int(((qh >> (j + 16)) & 1u) << 4);
        y[j] = float(x0 - 16) * d;
        y[j + kQK / 2] = float(x1 - 16) * d;
    }
}

// Q5_1, 24 bytes: d, m, qh, qs[16] as Q5_0; x = five-bit value * d + m.
void q5_1(const uint8_t* b, float* y) {
    const float d = half(b), m = half(b + 2);
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < kQK / 2; ++j) {
        const int x0 = (qs[j] & 0x0F) | int(((qh >> j) & 1u) << 4);
        const int x1 = (qs[j] >> 4) | int(((qh >> (j + 16)) & 1u) << 4);
        y[j] = float(x0) * d + m;
        y[j + kQK / 2] = float(x1) * d + m;
    }
}

// Q8_0, 34 bytes: d, qs[32] (int8); x = q * d.
void q8_0(const uint8_t* b, float* y) {
    const float d = half(b);
    const auto* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int j = 0; j < kQK; ++j) y[j] = float(qs[j]) * d;
}

// Q2_K, 84 bytes: scales[16], qs[64], d, dmin. Sixteen groups of 16 values; byte k of
// `scales` holds the 4-bit scale (low nibble) and 4-bit min (high nibble) of group k.
// The 2-bit quants: each half of 128 values uses 32 bytes of qs, value 32 * s + l of
// the half (s = 0..3 the shift step, l = 0..31) in bits 2s, 2s+1 of byte l. Groups follow
// the values in order. x = d * scale * q - dmin * min.
void q2_K(const uint8_t* b, float* y) {
    const uint8_t* scales = b;
    const uint8_t* q = b + 16;
    const float d = half(b + 80), dmin = half(b + 82);
    int group = 0;
    for (int n = 0; n < kQKK; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int part = 0; part < 2; ++part) {
                const uint8_t sc = scales[group++];
                const float dl = d * float(sc & 0x0F), ml = dmin * float(sc >> 4);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * float((q[l + 16 * part] >> shift) & 3) - ml;
            }
        }
        q += 32;
    }
}

// The sixteen 6-bit scales of Q3_K, packed in 12 bytes: scale j has its low four bits
// in the low (j < 8) or high (j >= 8) nibble of byte j % 8, and its high two bits in
// bits 2 * (j / 4) of byte 8 + j % 4. Stored with an offset of 32.
int q3_KScale(const uint8_t* s, int j) {
    const int low = j < 8 ? (s[j] & 0x0F) : (s[j - 8] >> 4);
    const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

// Q3_K, 110 bytes: hmask[32], qs[64], scales[12], d. The low two bits of each value are
// laid out as Q2_K's; the third bit of value 32 * s + l of half h (s = shift step) is bit
// 4h + s of hmask[l]. A clear bit means 4 is subtracted: q = low2 - (bit ? 0 : 4).
// Groups of 16 values in order; x = d * scale * q.
void q3_K(const uint8_t* b, float* y) {
    const uint8_t* hmask = b;
    const uint8_t* q = b + 32;
    const uint8_t* scales = b + 96;
    const float d = half(b + 108);
    int group = 0;
    uint8_t bit = 1;
    for (int n = 0; n < kQKK; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int part = 0; part < 2; ++part) {
                const float dl = d * float(q3_KScale(scales, group++));
                for (int l = 16 * part; l < 16 * part + 16; ++l) {
                    const int low = (q[l] >> shift) & 3;
                    *y++ = dl * float(low - ((hmask[l] & bit) ? 0 : 4));
                }
            }
            bit = uint8_t(bit << 1);
        }
        q += 32;
    }
}

// Scale and min j (0..7) of Q4_K and Q5_K, six bits each in 12 bytes (ggml's
// get_scale_min_k4): for j < 4 the low six bits of bytes j and j + 4; for j >= 4 the
// nibbles of byte j + 4 plus the top two bits of bytes j - 4 and j as their high bits.
void scaleMinK4(const uint8_t* s, int j, int& scale, int& min) {
    if (j < 4) {
        scale = s[j] & 63;
        min = s[j + 4] & 63;
    } else {
        scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Q4_K, 144 bytes: d, dmin, scales[12], qs[128]. Eight groups of 32 values; each 64
// values use 32 bytes of qs, the first 32 in the low nibbles, the next 32 in the high
// nibbles. x = d * scale * q - dmin * min.
void q4_K(const uint8_t* b, float* y) {
    const float d = half(b), dmin = half(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    for (int j = 0; j < 8; j += 2) {
        int sc, m;
        scaleMinK4(scales, j, sc, m);
        const float d1 = d * float(sc), m1 = dmin * float(m);
        scaleMinK4(scales, j + 1, sc, m);
        const float d2 = d * float(sc), m2 = dmin * float(m);
        for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0x0F) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
        q += 32;
    }
}

// Q5_K, 176 bytes: d, dmin, scales[12] (as Q4_K), qh[32], qs[128] (as Q4_K). The fifth
// bit of value l of group g is bit g of qh[l]. x = d * scale * q - dmin * min.
void q5_K(const uint8_t* b, float* y) {
    const float d = half(b), dmin = half(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* q = b + 48;
    for (int j = 0; j < 8; j += 2) {
        int sc, m;
        scaleMinK4(scales, j, sc, m);
        const float d1 = d * float(sc), m1 = dmin * float(m);
        scaleMinK4(scales, j + 1, sc, m);
        const float d2 = d * float(sc), m2 = dmin * float(m);
        const uint8_t u1 = uint8_t(1u << j), u2 = uint8_t(2u << j);
        for (int l = 0; l < 32; ++l)
            *y++ = d1 * float((q[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l)
            *y++ = d2 * float((q[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        q += 32;
    }
}

// Q6_K, 210 bytes: ql[128], qh[64], scales[16] (int8), d. Each half of 128 values uses
// 64 bytes of ql and 32 of qh: value 32 * k + l (k = 0..3, l = 0..31) takes its low
// four bits from ql[l + 32 * (k % 2)] (low nibble for k < 2, high for k >= 2) and its
// high two bits from bits 2k, 2k+1 of qh[l]; q = six-bit value - 32. Sixteen groups of 16
// values in order; x = d * scale * q.
void q6_K(const uint8_t* b, float* y) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = half(b + 208);
    for (int n = 0; n < kQKK; n += 128) {
        for (int l = 0; l < 32; ++l) {
            const int g = l / 16;
            const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * float(sc[g]) * float(q1);
            y[l + 32] = d * float(sc[g + 2]) * float(q2);
            y[l + 64] = d * float(sc[g + 4]) * float(q3);
            y[l + 96] = d * float(sc[g + 6]) * float(q4);
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

}  // namespace

std::optional<GgmlTypeInfo> ggmlTypeInfo(uint32_t type) {
    switch (GgmlType(type)) {
        case GgmlType::F32: return GgmlTypeInfo{"F32", 1, 4};
        case GgmlType::F16: return GgmlTypeInfo{"F16", 1, 2};
        case GgmlType::BF16: return GgmlTypeInfo{"BF16", 1, 2};
        case GgmlType::Q4_0: return GgmlTypeInfo{"Q4_0", kQK, 18};
        case GgmlType::Q4_1: return GgmlTypeInfo{"Q4_1", kQK, 20};
        case GgmlType::Q5_0: return GgmlTypeInfo{"Q5_0", kQK, 22};
        case GgmlType::Q5_1: return GgmlTypeInfo{"Q5_1", kQK, 24};
        case GgmlType::Q8_0: return GgmlTypeInfo{"Q8_0", kQK, 34};
        case GgmlType::Q2_K: return GgmlTypeInfo{"Q2_K", kQKK, 84};
        case GgmlType::Q3_K: return GgmlTypeInfo{"Q3_K", kQKK, 110};
        case GgmlType::Q4_K: return GgmlTypeInfo{"Q4_K", kQKK, 144};
        case GgmlType::Q5_K: return GgmlTypeInfo{"Q5_K", kQKK, 176};
        case GgmlType::Q6_K: return GgmlTypeInfo{"Q6_K", kQKK, 210};
    }
    return std::nullopt;
}

std::string ggmlTypeName(uint32_t type) {
    // ggml.h's enum ggml_type; empty entries are numbers ggml retired.
    static const char* const kNames[] = {
        "F32",      "F16",      "Q4_0",     "Q4_1",   "",        "",      "Q5_0",   "Q5_1",
        "Q8_0",     "Q8_1",     "Q2_K",     "Q3_K",   "Q4_K",    "Q5_K",  "Q6_K",   "Q8_K",
        "IQ2_XXS",  "IQ2_XS",   "IQ3_XXS",  "IQ1_S",  "IQ4_NL",  "IQ3_S", "IQ2_S",  "IQ4_XS",
        "I8",       "I16",      "I32",      "I64",    "F64",     "IQ1_M", "BF16",   "",
        "",         "",         "TQ1_0",    "TQ2_0",  "",        "",      "",       "MXFP4"};
    if (type < std::size(kNames) && kNames[type][0] != '\0') return kNames[type];
    return "type " + std::to_string(type);
}

void dequantizeBlocks(GgmlType type, const uint8_t* in, int64_t blocks, float* out) {
    const std::optional<GgmlTypeInfo> info = ggmlTypeInfo(uint32_t(type));
    MWB_CHECK(info.has_value());
    const int64_t bytes = info->blockBytes, n = info->blockElements;
    switch (type) {
        case GgmlType::F32:
            std::memcpy(out, in, size_t(blocks) * 4);
            return;
        case GgmlType::F16:
            for (int64_t i = 0; i < blocks; ++i) out[i] = half(in + 2 * i);
            return;
        case GgmlType::BF16:
            for (int64_t i = 0; i < blocks; ++i) {
                uint16_t b;
                std::memcpy(&b, in + 2 * i, 2);
                out[i] = bfloat16ToFloat(b);
            }
            return;
        default:
            break;
    }
    void (*decode)(const uint8_t*, float*) = nullptr;
    switch (type) {
        case GgmlType::Q4_0: decode = q4_0; break;
        case GgmlType::Q4_1: decode = q4_1; break;
        case GgmlType::Q5_0: decode = q5_0; break;
        case GgmlType::Q5_1: decode = q5_1; break;
        case GgmlType::Q8_0: decode = q8_0; break;
        case GgmlType::Q2_K: decode = q2_K; break;
        case GgmlType::Q3_K: decode = q3_K; break;
        case GgmlType::Q4_K: decode = q4_K; break;
        case GgmlType::Q5_K: decode = q5_K; break;
        case GgmlType::Q6_K: decode = q6_K; break;
        default: MWB_CHECK(false);
    }
    for (int64_t i = 0; i < blocks; ++i) decode(in + i * bytes, out + i * n);
}

}  // namespace mwb
