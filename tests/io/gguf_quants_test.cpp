// The block decoders of io/gguf_quants.cpp on hand-built blocks whose values are worked
// out by hand from ggml's block layouts (ggml-common.h) in the comments.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "io/gguf_quants.h"

namespace mwb {
namespace {

// Halves used below: 1.0 = 0x3C00, 0.5 = 0x3800, 2.0 = 0x4000, 0.25 = 0x3400.
void putHalf(std::vector<uint8_t>& b, size_t at, uint16_t h) {
    b[at] = uint8_t(h & 0xFF);
    b[at + 1] = uint8_t(h >> 8);
}

std::vector<float> decode(GgmlType t, const std::vector<uint8_t>& block) {
    const GgmlTypeInfo info = *ggmlTypeInfo(uint32_t(t));
    EXPECT_EQ(block.size() % size_t(info.blockBytes), 0u);
    const int64_t blocks = int64_t(block.size()) / info.blockBytes;
    std::vector<float> out(size_t(blocks * info.blockElements));
    dequantizeBlocks(t, block.data(), blocks, out.data());
    return out;
}

TEST(GgufQuants, BlockSizesAreGgmls) {
    EXPECT_EQ(ggmlTypeInfo(2)->blockBytes, 18);    // Q4_0: half + 16
    EXPECT_EQ(ggmlTypeInfo(8)->blockBytes, 34);    // Q8_0: half + 32
    EXPECT_EQ(ggmlTypeInfo(10)->blockBytes, 84);   // Q2_K: 16 + 64 + 2 halves
    EXPECT_EQ(ggmlTypeInfo(11)->blockBytes, 110);  // Q3_K: 32 + 64 + 12 + half
    EXPECT_EQ(ggmlTypeInfo(12)->blockBytes, 144);  // Q4_K: 2 halves + 12 + 128
    EXPECT_EQ(ggmlTypeInfo(13)->blockBytes, 176);  // Q5_K: 2 halves + 12 + 32 + 128
    EXPECT_EQ(ggmlTypeInfo(14)->blockBytes, 210);  // Q6_K: 128 + 64 + 16 + half
    EXPECT_FALSE(ggmlTypeInfo(16).has_value());    // IQ2_XXS
    EXPECT_EQ(ggmlTypeName(16), "IQ2_XXS");
    EXPECT_EQ(ggmlTypeName(99), "type 99");
}

TEST(GgufQuants, FloatTypes) {
    // F16 0x3C00 = 1, 0xC000 = -2; BF16 0x3F80 = 1, 0xC040 = -3.
    EXPECT_EQ(decode(GgmlType::F16, {0x00, 0x3C, 0x00, 0xC0}), (std::vector<float>{1.0f, -2.0f}));
    EXPECT_EQ(decode(GgmlType::BF16, {0x80, 0x3F, 0x40, 0xC0}), (std::vector<float>{1.0f, -3.0f}));
}

TEST(GgufQuants, Q4_0AndQ4_1) {
    std::vector<uint8_t> b(18, 0);
    putHalf(b, 0, 0x3800);  // d = 0.5
    b[2] = 0x3F;            // value 0: nibble 15 -> (15 - 8) * 0.5 = 3.5; value 16: 3 -> -2.5
    b[17] = 0x80;           // value 15: 0 -> -4; value 31: 8 -> 0
    std::vector<float> y = decode(GgmlType::Q4_0, b);
    EXPECT_EQ(y[0], 3.5f);
    EXPECT_EQ(y[16], -2.5f);
    EXPECT_EQ(y[15], -4.0f);
    EXPECT_EQ(y[31], 0.0f);
    EXPECT_EQ(y[1], -4.0f);  // byte 0x00

    std::vector<uint8_t> c(20, 0);
    putHalf(c, 0, 0x4000);  // d = 2
    putHalf(c, 2, 0x3800);  // m = 0.5
    c[4] = 0x3F;            // value 0: 15 * 2 + 0.5 = 30.5; value 16: 3 * 2 + 0.5 = 6.5
    y = decode(GgmlType::Q4_1, c);
    EXPECT_EQ(y[0], 30.5f);
    EXPECT_EQ(y[16], 6.5f);
    EXPECT_EQ(y[5], 0.5f);
}

TEST(GgufQuants, Q5_0AndQ5_1) {
    std::vector<uint8_t> b(22, 0);
    putHalf(b, 0, 0x3C00);  // d = 1
    // qh = bit 0 and bit 17: value 0 and value 17 get their fifth bit.
    b[2] = 0x01;
    b[4] = 0x02;
    b[6] = 0x07;  // qs[0]: value 0 low nibble 7 -> 7 | 16 = 23 -> 23 - 16 = 7; value 16: 0 -> -16
    b[7] = 0x20;  // qs[1]: value 1: 0 -> -16; value 17: 2 | 16 = 18 -> 2
    std::vector<float> y = decode(GgmlType::Q5_0, b);
    EXPECT_EQ(y[0], 7.0f);
    EXPECT_EQ(y[16], -16.0f);
    EXPECT_EQ(y[1], -16.0f);
    EXPECT_EQ(y[17], 2.0f);

    std::vector<uint8_t> c(24, 0);
    putHalf(c, 0, 0x3800);  // d = 0.5
    putHalf(c, 2, 0x3C00);  // m = 1
    c[7] = 0x80;            // qh bit 31: value 31 gets 16
    c[8 + 15] = 0x30;       // qs[15]: value 15: 0 -> 1; value 31: 3 | 16 = 19 -> 19 * 0.5 + 1 = 10.5
    y = decode(GgmlType::Q5_1, c);
    EXPECT_EQ(y[15], 1.0f);
    EXPECT_EQ(y[31], 10.5f);
}

TEST(GgufQuants, Q8_0) {
    std::vector<uint8_t> b(34, 0);
    putHalf(b, 0, 0x3400);  // d = 0.25
    b[2] = 0x7F;            // 127 * 0.25
    b[3] = 0x80;            // -128 * 0.25
    b[33] = 0xFE;           // -2 * 0.25
    const std::vector<float> y = decode(GgmlType::Q8_0, b);
    EXPECT_EQ(y[0], 31.75f);
    EXPECT_EQ(y[1], -32.0f);
    EXPECT_EQ(y[31], -0.5f);
    EXPECT_EQ(y[2], 0.0f);
}

TEST(GgufQuants, Q2_K) {
    // scales[16] at 0, qs[64] at 16, d at 80, dmin at 82.
    std::vector<uint8_t> b(84, 0);
    putHalf(b, 80, 0x3C00);  // d = 1
    putHalf(b, 82, 0x3800);  // dmin = 0.5
    b[0] = 0x23;             // group 0 (values 0..15): scale 3, min 2
    b[3] = 0x15;             // group 3 (values 48..63): scale 5, min 1
    b[8] = 0x07;             // group 8 (values 128..143): scale 7, min 0
    b[16 + 0] = 0x03;        // value 0: bits 0-1 = 3 -> 3 * 3 - 2 * 0.5 = 8
    // Value 48 is the 17th of shift step 1 (values 32..63 use bits 2-3 of bytes 0..31):
    // byte 16, bits 2-3.
    b[16 + 16] = 0x08;       // bits 2-3 = 2 -> value 48 = 2 * 5 - 1 * 0.5 = 9.5
    b[16 + 32] = 0x01;       // second half, byte 0, bits 0-1 = 1 -> value 128 = 1 * 7 - 0 = 7
    const std::vector<float> y = decode(GgmlType::Q2_K, b);
    EXPECT_EQ(y[0], 8.0f);
    EXPECT_EQ(y[1], -1.0f);  // q 0 in group 0: -min = -1
    EXPECT_EQ(y[48], 9.5f);
    EXPECT_EQ(y[16], 0.0f);  // group 1: scale 0, min 0
    EXPECT_EQ(y[128], 7.0f);
}

TEST(GgufQuants, Q3_K) {
    // hmask[32] at 0, qs[64] at 32, scales[12] at 96, d at 108.
    std::vector<uint8_t> b(110, 0);
    putHalf(b, 108, 0x3C00);  // d = 1
    // Scale 0: low nibble of byte 0 = 5, high bits (byte 8, bits 0-1) = 2 -> 5 | 32 = 37 -> 5.
    b[96 + 0] = 0x05;
    b[96 + 8] = 0x02;
    // Scale 9 (values 144..159): low = high nibble of byte 1 = 1, high bits = bits 4-5 of
    // byte 8 + 9 % 4 = 9: 2 -> 1 | 32 = 33 -> 1.
    b[96 + 1] = 0x10;
    b[96 + 9] = 0x20;
    // Value 0: low two bits (qs[0] bits 0-1) = 3, hmask[0] bit 0 set -> q = 3 -> 5 * 3 = 15.
    b[32] = 0x03;
    b[0] = 0x01;
    // Value 1: low bits 0, hmask[1] bit 0 clear -> q = -4 -> -20.
    // Value 144: second half (bytes 32..63 of qs), shift step 0, l = 16: qs[48] bits 0-1 = 2,
    // hmask[16] bit 4 clear -> q = 2 - 4 = -2 -> scale 1 * -2 = -2.
    b[32 + 48] = 0x02;
    const std::vector<float> y = decode(GgmlType::Q3_K, b);
    EXPECT_EQ(y[0], 15.0f);
    EXPECT_EQ(y[1], -20.0f);
    EXPECT_EQ(y[144], -2.0f);
    // Scale 1 (values 16..31) = (0 | 0) - 32 = -32; q = -4 -> 128.
    EXPECT_EQ(y[16], 128.0f);
}

TEST(GgufQuants, Q4_KAndQ5_K) {
    // Q4_K: d at 0, dmin at 2, scales[12] at 4, qs[128] at 16.
    std::vector<uint8_t> b(144, 0);
    putHalf(b, 0, 0x3C00);  // d = 1
    putHalf(b, 2, 0x3800);  // dmin = 0.5
    b[4 + 0] = 3;           // scale 0 = 3
    b[4 + 4] = 4;           // min 0 = 4
    b[4 + 1] = 2;           // scale 1 = 2, min 1 = 0
    // Scale 4 (values 128..159): (byte 8 low nibble) | (byte 0 top bits << 4) = 1 | (1 << 4) = 17;
    // min 4: (byte 8 high nibble) | (byte 4 top bits << 4) = 2.
    b[4 + 8] = 0x21;
    b[4 + 0] |= 0x40;
    b[16 + 0] = 0x5A;        // value 0: 10 * 3 - 4 * 0.5 = 28; value 32: 5 * 2 - 0 = 10
    b[16 + 64] = 0x01;       // value 128: 1 * 17 - 2 * 0.5 = 16
    std::vector<float> y = decode(GgmlType::Q4_K, b);
    EXPECT_EQ(y[0], 28.0f);
    EXPECT_EQ(y[32], 10.0f);
    EXPECT_EQ(y[1], -2.0f);
    EXPECT_EQ(y[128], 16.0f);

    // Q5_K: d, dmin, scales[12], qh[32] at 16, qs[128] at 48. Same scales as above.
    std::vector<uint8_t> c(176, 0);
    std::memcpy(c.data(), b.data(), 16);
    c[16 + 0] = 0x01 | 0x02;  // value 0 and value 32 (groups 0 and 1) get their fifth bit
    c[16 + 1] = 0x10;         // value 129 (group 4, l = 1) gets its fifth bit
    c[48 + 0] = 0x5A;         // value 0: (10 + 16) * 3 - 2 = 76; value 32: (5 + 16) * 2 = 42
    y = decode(GgmlType::Q5_K, c);
    EXPECT_EQ(y[0], 76.0f);
    EXPECT_EQ(y[32], 42.0f);
    EXPECT_EQ(y[129], 16.0f * 17 - 1);  // (0 + 16) * 17 - 2 * 0.5
}

TEST(GgufQuants, Q6_K) {
    // ql[128] at 0, qh[64] at 128, scales[16] (int8) at 192, d at 208.
    std::vector<uint8_t> b(210, 0);
    putHalf(b, 208, 0x3800);  // d = 0.5
    b[192 + 0] = 2;           // scale of values 0..15
    b[192 + 2] = 0xFF;        // scale of values 32..47: -1
    b[192 + 6] = 4;           // scale of values 96..111
    b[192 + 8] = 1;           // scale of values 128..143
    // Value 0: ql[0] low nibble 5, qh[0] bits 0-1 = 2 -> 5 | 32 = 37 - 32 = 5 -> 0.5 * 2 * 5 = 5.
    // Value 96: ql[32] high nibble 15, qh[0] bits 6-7 = 3 -> 63 - 32 = 31 -> 0.5 * 4 * 31 = 62.
    // Value 32: ql[32] low nibble 0, qh[0] bits 2-3 = 0 -> -32 -> 0.5 * -1 * -32 = 16.
    b[0] = 0x05;
    b[32] = 0xF0;
    b[128] = 0x02 | 0xC0;
    // Value 128: second half, ql[64] low nibble 1, qh[32] bits 0-1 = 1 -> 17 - 32 = -15 -> -7.5.
    b[64] = 0x01;
    b[128 + 32] = 0x01;
    const std::vector<float> y = decode(GgmlType::Q6_K, b);
    EXPECT_EQ(y[0], 5.0f);
    EXPECT_EQ(y[96], 62.0f);
    EXPECT_EQ(y[32], 16.0f);
    EXPECT_EQ(y[128], -7.5f);
}

}  // namespace
}  // namespace mwb
