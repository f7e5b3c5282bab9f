#include "tensor/matmul.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "tensor/float16.h"

namespace mwb {

namespace {

// One SIMD register of floats (GCC vector extension: SSE in the portable build,
// AVX with -march=native). The lane width fixes the summation order, so it is a
// property of the binary, not of the call.
#if defined(__AVX__)
constexpr int kLanes = 8;
constexpr int kTileRows = 6;  // rows of x per tile: 12 accumulators + 6 + 1 loads fit 16 ymm
constexpr int kTileCols = 2;
#else
constexpr int kLanes = 4;
constexpr int kTileRows = 3;
constexpr int kTileCols = 4;
#endif
using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));

// Rows of w swept per x tile: they stay in L2 while the x rows are in L1.
constexpr int kBlockCols = 96;
// Below this many multiply-adds threads cost more than they save.
constexpr long kParallelWork = 1L << 18;

inline Vec load(const float* p) {
    Vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Lanes summed as a fixed tree.
inline float horizontalSum(Vec v) {
    float s[kLanes];
    std::memcpy(s, &v, sizeof v);
    for (int width = kLanes / 2; width >= 1; width /= 2)
        for (int i = 0; i < width; ++i) s[i] = s[i] + s[i + width];
    return s[0];
}

// R x C outputs. Every output runs the same sequence: lane j accumulates the
// products at k = j, j + kLanes, ... in increasing k; the lanes are summed by
// horizontalSum; the k % kLanes leftover products are added in order. R and C
// change how many outputs share the loads, never an output's sequence.
template <int R, int C>
void tile(const float* x, long ldx, const float* w, long ldw, float* y, long ldy, int k) {
    Vec acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = Vec{};
    const int kv = k - k % kLanes;
    for (int p = 0; p < kv; p += kLanes) {
        Vec xv[R];
        for (int r = 0; r < R; ++r) xv[r] = load(x + r * ldx + p);
        for (int c = 0; c < C; ++c) {
            const Vec wv = load(w + c * ldw + p);
            for (int r = 0; r < R; ++r) acc[r][c] += xv[r] * wv;
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) {
            float s = horizontalSum(acc[r][c]);
            for (int p = kv; p < k; ++p) s += x[r * ldx + p] * w[c * ldw + p];
            y[r * ldy + c] = s;
        }
}

using TileFn = void (*)(const float*, long, const float*, long, float*, long, int);

// tiles[r - 1][c - 1] = tile<r, c>, for the edges of the product.
template <int... Cs>
constexpr std::array<TileFn, kTileCols> tileRow(std::integer_sequence<int, Cs...>, auto rows) {
    return {&tile<decltype(rows)::value, Cs + 1>...};
}
template <int... Rs>
constexpr std::array<std::array<TileFn, kTileCols>, kTileRows> tileTable(std::integer_sequence<int, Rs...>) {
    return {tileRow(std::make_integer_sequence<int, kTileCols>{}, std::integral_constant<int, Rs + 1>{})...};
}
constexpr auto kTiles = tileTable(std::make_integer_sequence<int, kTileRows>{});

}  // namespace

namespace {

// One block of kBlockCols rows of w against all n rows of x.
void multiplyBlock(const float* x, long ldx, const float* w, long ldw, float* y, long ldy, int n, int rows,
                   int k) {
    for (int i = 0; i < n; i += kTileRows) {
        const int r = std::min(kTileRows, n - i);
        for (int o = 0; o < rows; o += kTileCols) {
            const int c = std::min(kTileCols, rows - o);
            kTiles[r - 1][c - 1](x + i * ldx, ldx, w + o * ldw, ldw, y + i * ldy + o, ldy, k);
        }
    }
}

// Splits the output columns into blocks of kBlockCols rows of w, over threads when
// the product is large; `block(b, o0, o1)` computes one.
template <typename BlockFn>
void forEachBlock(int n, int out, int k, BlockFn&& block) {
    const int blocks = (out + kBlockCols - 1) / kBlockCols;
    const bool parallel = !omp_in_parallel() && long(n) * out * k >= kParallelWork && blocks > 1;
#pragma omp parallel for schedule(static) if (parallel)
    for (int b = 0; b < blocks; ++b) block(b * kBlockCols, std::min(out, (b + 1) * kBlockCols));
}

bool zeroInner(float* y, long ldy, int n, int out, int k) {
    if (k > 0) return false;
    for (int i = 0; i < n; ++i) std::fill(y + i * ldy, y + i * ldy + out, 0.0f);
    return true;
}

}  // namespace

void matmulTransposed(const float* x, long ldx, const float* w, long ldw, float* y, long ldy, int n, int out,
                      int k) {
    if (n <= 0 || out <= 0 || zeroInner(y, ldy, n, out, k)) return;
    forEachBlock(n, out, k, [&](int o0, int o1) {
        multiplyBlock(x, ldx, w + o0 * ldw, ldw, y + o0, ldy, n, o1 - o0, k);
    });
}

void matmulTransposed(const float* x, long ldx, const uint16_t* w, long ldw, float* y, long ldy, int n,
                      int out, int k) {
    if (n <= 0 || out <= 0 || zeroInner(y, ldy, n, out, k)) return;
    // Few rows of x (decoding token by token): decode a tile's worth of w rows at a
    // time so that they are still in L1 when multiplied; many rows: a whole block,
    // which the rows of x then share.
    const int panelRows = n <= kTileRows ? kTileCols : kBlockCols;
    forEachBlock(n, out, k, [&](int o0, int o1) {
        thread_local std::vector<float> panel;
        panel.resize(size_t(panelRows) * k);
        for (int p0 = o0; p0 < o1; p0 += panelRows) {
            const int rows = std::min(panelRows, o1 - p0);
            for (int o = 0; o < rows; ++o) halvesToFloats(w + (p0 + o) * ldw, panel.data() + size_t(o) * k, k);
            multiplyBlock(x, ldx, panel.data(), k, y + p0, ldy, n, rows, k);
        }
    });
}

float dotInvariant(const float* a, const float* b, int k) {
    float y;
    tile<1, 1>(a, 0, b, 0, &y, 0, k);
    return y;
}

// The compiler's predefined macros name the widest instruction set this file may use:
// the build flags (-march), not the processor the program runs on.
std::string matmulIsa() {
#if defined(__AVX512F__)
    return "avx512";
#elif defined(__AVX2__)
    return "avx2";
#elif defined(__AVX__)
    return "avx";
#elif defined(__SSE2__)
    return "sse2";
#else
    return "generic";
#endif
}

}  // namespace mwb
