#include "tensor/matmul.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/bfloat16.h"
#include "tensor/errors.h"
#include "tensor/float16.h"

namespace mwb {

// The kernels, one per instruction set. This file is compiled with
// -ffp-contract=off (CMakeLists.txt): SSE2's multiply and add stay two roundings
// even in a -march=native build, so each kernel sums the same way in every build.

namespace sse2 {
struct Isa {
    using V = __m128;
    static constexpr int kLanes = 4;
    static constexpr int kVecs = 2;
    static V zero() { return _mm_setzero_ps(); }
    static V load(const float* p) { return _mm_loadu_ps(p); }
    static void store(float* p, V v) { _mm_storeu_ps(p, v); }
    static V broadcast(float x) { return _mm_set1_ps(x); }
    static V madd(V acc, V a, V b) { return _mm_add_ps(acc, _mm_mul_ps(a, b)); }
};
#include "tensor/matmul_kernel.inc"
}  // namespace sse2

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace avx2 {
struct Isa {
    using V = __m256;
    static constexpr int kLanes = 8;
    static constexpr int kVecs = 2;  // 6 x 2 accumulators + 2 weights + 1 broadcast of 16 ymm
    static V zero() { return _mm256_setzero_ps(); }
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
    static V broadcast(float x) { return _mm256_set1_ps(x); }
    static V madd(V acc, V a, V b) { return _mm256_fmadd_ps(a, b, acc); }
};
#include "tensor/matmul_kernel.inc"

// 8 x 8 transpose in registers: r[i] lane j becomes r[j] lane i.
inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

// Packing with 8 x 8 register transposes (see the scalar pack in matmul.cpp).
// load8(o, p) gives w[o][p, p + 8) as floats; one(o, p) a single element.
template <typename Load8, typename One>
void packPanel(int cols, int width, int k, float* panel, Load8&& load8, One&& one) {
    const int k8 = k - k % 8;
    for (int o0 = 0; o0 < cols; o0 += 8) {
        const int m = cols - o0 < 8 ? cols - o0 : 8;
        for (int p0 = 0; p0 < k8; p0 += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; ++i) r[i] = i < m ? load8(o0 + i, p0) : _mm256_setzero_ps();
            transpose8(r);
            for (int j = 0; j < 8; ++j) _mm256_storeu_ps(panel + long(p0 + j) * width + o0, r[j]);
        }
        for (int p = k8; p < k; ++p)
            for (int i = 0; i < 8; ++i) panel[long(p) * width + o0 + i] = i < m ? one(o0 + i, p) : 0.0f;
    }
    const int filled = (cols + 7) / 8 * 8;
    if (filled < width)
        for (int p = 0; p < k; ++p)
            for (int o = filled; o < width; ++o) panel[long(p) * width + o] = 0.0f;
}

void packFloat(const float* w, long ldw, int cols, int width, int k, float* panel) {
    packPanel(
        cols, width, k, panel, [&](int o, int p) { return _mm256_loadu_ps(w + long(o) * ldw + p); },
        [&](int o, int p) { return w[long(o) * ldw + p]; });
}

void packHalf(const uint16_t* w, long ldw, int cols, int width, int k, float* panel) {
    packPanel(
        cols, width, k, panel,
        [&](int o, int p) {
            return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + long(o) * ldw + p)));
        },
        [&](int o, int p) { return _cvtsh_ss(w[long(o) * ldw + p]); });
}

void packBfloat16(const uint16_t* w, long ldw, int cols, int width, int k, float* panel) {
    packPanel(
        cols, width, k, panel,
        [&](int o, int p) {
            const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + long(o) * ldw + p));
            return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        },
        [&](int o, int p) { return bfloat16ToFloat(w[long(o) * ldw + p]); });
}
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
struct Isa {
    using V = __m512;
    static constexpr int kLanes = 16;
    static constexpr int kVecs = 4;  // 6 x 4 accumulators + 4 weights + 1 broadcast of 32 zmm
    static V zero() { return _mm512_setzero_ps(); }
    static V load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
    static V broadcast(float x) { return _mm512_set1_ps(x); }
    static V madd(V acc, V a, V b) { return _mm512_fmadd_ps(a, b, acc); }
};
#include "tensor/matmul_kernel.inc"
}  // namespace avx512
#pragma GCC pop_options

namespace {

using PanelFn = void (*)(const float*, long, const float*, int, float*, long, int, int, bool);

struct Kernel {
    const char* name;
    int panel;  // outputs per packed panel
    PanelFn product;
};

constexpr Kernel kSse2{"sse2", sse2::kPanel, &sse2::panelProduct};
constexpr Kernel kAvx2{"avx2", avx2::kPanel, &avx2::panelProduct};
constexpr Kernel kAvx512{"avx512", avx512::kPanel, &avx512::panelProduct};


bool cpuHas(const Kernel& k) {
    if (&k == &kAvx512) return __builtin_cpu_supports("avx512f");
    if (&k == &kAvx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return true;  // SSE2 is part of x86-64
}

// Chosen once: MWB_ISA when set, else the widest the CPU has.
const Kernel& chooseKernel() {
    const Kernel* all[] = {&kAvx512, &kAvx2, &kSse2};
    if (const char* forced = std::getenv("MWB_ISA"); forced && *forced) {
        for (const Kernel* k : all)
            if (std::string(forced) == k->name) {
                if (!cpuHas(*k))
                    throw InvalidInput(std::string("MWB_ISA=") + forced + " asks for instructions this CPU does not have");
                return *k;
            }
        throw InvalidInput(std::string("MWB_ISA is '") + forced + "'; expected sse2, avx2 or avx512");
    }
    for (const Kernel* k : all)
        if (cpuHas(*k)) return *k;
    return kSse2;
}

const Kernel& activeKernel() {
    static const Kernel& kernel = chooseKernel();
    return kernel;
}

// Below this many multiply-adds threads cost more than they save.
constexpr long kParallelWork = 1L << 18;
// Rows of w transposed per pass of the packing loop: a cache line of each row.
constexpr int kPackStep = 16;

// Writes rows [0, cols) of w into panel[p * width + o] (the layout the tile reads:
// the weights of all outputs at step p side by side), zero-filling outputs cols..width.
// `rowOf(o, p0, n, dst)` writes elements [p0, p0 + n) of row o as floats into dst.
template <typename RowFn>
void pack(int cols, int width, int k, float* panel, RowFn&& rowOf) {
    float chunk[kPackStep];
    for (int p0 = 0; p0 < k; p0 += kPackStep) {
        const int n = std::min(kPackStep, k - p0);
        for (int o = 0; o < cols; ++o) {
            rowOf(o, p0, n, chunk);
            for (int j = 0; j < n; ++j) panel[long(p0 + j) * width + o] = chunk[j];
        }
        for (int j = 0; j < n; ++j)
            for (int o = cols; o < width; ++o) panel[long(p0 + j) * width + o] = 0.0f;
    }
}

// The product over panels of `width` outputs, each packed by packPanel(o0, cols, panel)
// into a per-thread buffer; panels are spread over threads when the product is large.
// Few rows (decoding, short reruns) do too little work per packed weight to pay for
// writing a whole panel out of L1: they pack and multiply kChunk steps at a time.
constexpr int kChunkRows = 6;
constexpr int kChunk = 64;

// packPanel(o0, cols, width, p0, steps, panel) packs steps [p0, p0 + steps) of outputs
// [o0, o0 + cols) into panel[(p - p0) * width + o].
template <typename PackFn>
void multiply(const Kernel& kernel, const float* x, long ldx, float* y, long ldy, int n, int out, int k,
              PackFn&& packPanel) {
    if (n <= 0 || out <= 0) return;
    if (k <= 0) {
        for (int i = 0; i < n; ++i) std::fill(y + i * ldy, y + i * ldy + out, 0.0f);
        return;
    }
    const int width = kernel.panel;
    const int panels = (out + width - 1) / width;
    const bool parallel = !omp_in_parallel() && long(n) * out * k >= kParallelWork && panels > 1;
    const int chunk = n <= kChunkRows ? kChunk : k;
#pragma omp parallel for schedule(static) if (parallel)
    for (int b = 0; b < panels; ++b) {
        thread_local std::vector<float> panel;
        panel.resize(size_t(width) * size_t(std::min(chunk, k)));
        const int o0 = b * width, cols = std::min(width, out - o0);
        for (int p0 = 0; p0 < k; p0 += chunk) {
            const int steps = std::min(chunk, k - p0);
            packPanel(o0, cols, width, p0, steps, panel.data());
            kernel.product(x + p0, ldx, panel.data(), cols, y + o0, ldy, n, steps, p0 > 0);
        }
    }
}

}  // namespace

std::string matmulIsa() { return activeKernel().name; }

namespace {

bool cpuHasAvx2() {
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
    return has;
}

// Steps [first, first + steps) of outputs [o0, o0 + cols) of a float w [out][k] into
// panel[(p - first) * width + o - o0], zeros for outputs cols..width.
void packFloatPanel(const float* w, long ldw, int o0, int cols, int width, int first, int steps, float* panel) {
    const float* w0 = w + long(o0) * ldw + first;
    if (cpuHasAvx2()) return avx2::packFloat(w0, ldw, cols, width, steps, panel);
    pack(cols, width, steps, panel, [&](int o, int p0, int count, float* dst) {
        std::memcpy(dst, w0 + long(o) * ldw + p0, sizeof(float) * size_t(count));
    });
}

// The same for 16-bit weights, decoded to float.
void packHalfPanel(const uint16_t* w, HalfFormat format, long ldw, int o0, int cols, int width, int first,
                   int steps, float* panel) {
    const uint16_t* w0 = w + long(o0) * ldw + first;
    if (cpuHasAvx2()) {
        if (format == HalfFormat::Float16) return avx2::packHalf(w0, ldw, cols, width, steps, panel);
        return avx2::packBfloat16(w0, ldw, cols, width, steps, panel);
    }
    pack(cols, width, steps, panel, [&](int o, int p0, int count, float* dst) {
        const uint16_t* src = w0 + long(o) * ldw + p0;
        if (format == HalfFormat::Float16) {
            halvesToFloats(src, dst, count);
        } else {
            for (int j = 0; j < count; ++j) dst[j] = bfloat16ToFloat(src[j]);
        }
    });
}

void floatProduct(const Kernel& kernel, const float* x, long ldx, const float* w, long ldw, float* y, long ldy,
                  int n, int out, int k) {
    multiply(kernel, x, ldx, y, ldy, n, out, k, [&](int o0, int cols, int width, int first, int steps, float* panel) {
        packFloatPanel(w, ldw, o0, cols, width, first, steps, panel);
    });
}

}  // namespace

void matmulTransposed(const float* x, long ldx, const float* w, long ldw, float* y, long ldy, int n, int out,
                      int k) {
    floatProduct(activeKernel(), x, ldx, w, ldw, y, ldy, n, out, k);
}

void matmul(const float* x, long ldx, const float* w, long ldw, float* y, long ldy, int n, int out, int k) {
    // w is already [k][out]: a panel is a copy of `width` columns of each of its rows.
    multiply(activeKernel(), x, ldx, y, ldy, n, out, k, [&](int o0, int cols, int width, int first, int steps,
                                                             float* panel) {
        for (int p = 0; p < steps; ++p) {
            float* dst = panel + long(p) * width;
            std::memcpy(dst, w + long(first + p) * ldw + o0, sizeof(float) * size_t(cols));
            std::fill(dst + cols, dst + width, 0.0f);
        }
    });
}

bool matmulIsaAvailable(const std::string& isa) {
    for (const Kernel* k : {&kAvx512, &kAvx2, &kSse2})
        if (isa == k->name) return cpuHas(*k);
    return false;
}

void matmulTransposedWith(const std::string& isa, const float* x, long ldx, const float* w, long ldw, float* y,
                          long ldy, int n, int out, int k) {
    for (const Kernel* kernel : {&kAvx512, &kAvx2, &kSse2})
        if (isa == kernel->name) {
            if (!cpuHas(*kernel)) throw InvalidInput("this CPU cannot run the " + isa + " kernel");
            return floatProduct(*kernel, x, ldx, w, ldw, y, ldy, n, out, k);
        }
    throw InvalidInput("unknown kernel " + quote(isa) + " (expected sse2, avx2 or avx512)");
}

void matmulTransposed(const float* x, long ldx, const uint16_t* w, HalfFormat format, long ldw, float* y,
                      long ldy, int n, int out, int k) {
    multiply(activeKernel(), x, ldx, y, ldy, n, out, k, [&](int o0, int cols, int width, int first, int steps,
                                                             float* panel) {
        packHalfPanel(w, format, ldw, o0, cols, width, first, steps, panel);
    });
}

PackedMatrix::PackedMatrix(const float* w, long ldw, int out, int k) : m_out(out), m_k(k) {
    packAll([&](int o0, int cols, float* panel) { packFloatPanel(w, ldw, o0, cols, m_width, 0, k, panel); });
}

PackedMatrix::PackedMatrix(const uint16_t* w, HalfFormat format, long ldw, int out, int k) : m_out(out), m_k(k) {
    packAll([&](int o0, int cols, float* panel) { packHalfPanel(w, format, ldw, o0, cols, m_width, 0, k, panel); });
}

template <typename PackFn>
void PackedMatrix::packAll(PackFn&& packPanel) {
    if (m_out <= 0 || m_k <= 0) return;  // empty(): multiply() has nothing to do
    m_width = activeKernel().panel;
    m_panelCount = (m_out + m_width - 1) / m_width;
    const size_t bytes = (size_t(m_panelCount) * size_t(m_width) * size_t(m_k) * sizeof(float) + 63) / 64 * 64;
    float* data = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!data) throw Error("out of memory packing a " + std::to_string(m_out) + " x " + std::to_string(m_k) +
                           " weight matrix");
    m_panels = std::shared_ptr<float[]>(data, std::free);
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && m_panelCount > 1)
    for (int b = 0; b < m_panelCount; ++b)
        packPanel(b * m_width, std::min(m_width, m_out - b * m_width), data + long(b) * m_width * m_k);
}

void PackedMatrix::multiply(const float* x, long ldx, float* y, long ldy, int n) const {
    if (n <= 0 || empty()) return;
    const Kernel& kernel = activeKernel();
    const bool parallel = !omp_in_parallel() && long(n) * m_out * m_k >= kParallelWork && m_panelCount > 1;
#pragma omp parallel for schedule(static) if (parallel)
    for (int b = 0; b < m_panelCount; ++b) {
        const int o0 = b * m_width;
        kernel.product(x, ldx, m_panels.get() + long(b) * m_width * m_k, std::min(m_width, m_out - o0), y + o0,
                       ldy, n, m_k, false);
    }
}

float dotInvariant(const float* a, const float* b, int k) {
    float y = 0.0f;
    matmulTransposed(a, k, b, k, &y, 1, 1, 1, k);
    return y;
}

}  // namespace mwb
