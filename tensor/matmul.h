// Batch-invariant matrix products for the inference forward pass.
//
// General GEMM libraries (Eigen included) choose a kernel and a blocking of the
// summation by the shape of the whole product and the number of threads: one row
// computed alone (a matrix-vector product) and the same row inside a batch are
// summed in different orders and differ in the last bits. Causal tracing compares
// a full run with a run that reuses cached prefixes, and generation compares a
// KV-cache step with a full recomputation; both must agree exactly. Here every
// output element is one dot product summed in an order that depends only on the
// inner dimension k, never on how many rows are computed together, which rows,
// or how many threads share the work.
//
// The product runs on the widest of three kernels the CPU supports, chosen once at
// the first call: SSE2 (4 lanes, multiply then add), AVX2 with FMA (8 lanes) or
// AVX-512 (16 lanes), both fused. MWB_ISA=sse2|avx2|avx512 forces one. Every output is
// one accumulator summed in k order, so AVX2 and AVX-512 give the same bits; SSE2
// rounds each product before adding it and differs from them in the last bits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace mwb {

// How 16-bit weights encode a float: IEEE half, or bfloat16 (a float's upper half).
enum class HalfFormat { Float16, BFloat16 };

// The kernel in use: "sse2", "avx2" or "avx512". Throws InvalidInput when MWB_ISA
// names an unknown kernel or one the CPU cannot run.
std::string matmulIsa();

// y[i][o] = sum_k x[i][k] * w[o][k]   for i < n, o < out.
// x: n rows of k floats, row stride ldx; w: out rows of k floats, stride ldw;
// y: n rows of out floats, stride ldy. Large products are split over OpenMP
// threads (unless called inside a parallel region); the result does not change.
void matmulTransposed(const float* x, long ldx, const float* w, long ldw, float* y, long ldy, int n,
                      int out, int k);

// The same product with w in 16 bits (raw bits in `format`): w is converted to float
// a panel of rows at a time, inside the product, and summed exactly as above, so the
// result is identical, bit for bit, to matmulTransposed on the decoded float matrix.
void matmulTransposed(const float* x, long ldx, const uint16_t* w, HalfFormat format, long ldw, float* y,
                      long ldy, int n, int out, int k);

// y[i][o] = sum_k x[i][k] * w[k][o]: the same product with w stored [k][out] (row
// stride ldw), summed the same way (one accumulator per output, k in order).
void matmul(const float* x, long ldx, const float* w, long ldw, float* y, long ldy, int n, int out, int k);

// A weight matrix w [out][k] packed once into the panels the kernel in use reads,
// for a run of many products with the same weights: the product functions above
// pack the weights anew on every call, which costs as much as the multiply-adds
// when only a few rows are multiplied (decoding, the reruns of causal tracing).
// multiply() gives the same bits as matmulTransposed on the matrix it was packed
// from: the same tile sums every output in the same k order. The packed copy takes
// 4 bytes per weight (16-bit weights are decoded into it).
class PackedMatrix {
public:
    PackedMatrix() = default;
    PackedMatrix(const float* w, long ldw, int out, int k);
    PackedMatrix(const uint16_t* w, HalfFormat format, long ldw, int out, int k);

    bool empty() const { return !m_panels; }
    int outFeatures() const { return m_out; }
    int inFeatures() const { return m_k; }
    long bytes() const { return long(m_panelCount) * m_width * m_k * long(sizeof(float)); }

    // y[i][o] = sum_k x[i][k] * w[o][k] for i < n, o < outFeatures(); threads as
    // in matmulTransposed.
    void multiply(const float* x, long ldx, float* y, long ldy, int n) const;

private:
    template <typename PackFn>
    void packAll(PackFn&& packPanel);

    int m_out = 0, m_k = 0, m_width = 0, m_panelCount = 0;
    std::shared_ptr<float[]> m_panels;  // panel b at b * m_width * m_k: [k][m_width]
};

// For tests and benchmarks: whether the CPU can run the named kernel, and the float
// product on it (InvalidInput for an unknown name or one the CPU cannot run).
bool matmulIsaAvailable(const std::string& isa);
void matmulTransposedWith(const std::string& isa, const float* x, long ldx, const float* w, long ldw, float* y,
                          long ldy, int n, int out, int k);

// The same dot product for a single pair of vectors (for callers that need one
// element and must agree with matmulTransposed bit for bit).
float dotInvariant(const float* a, const float* b, int k);

}  // namespace mwb
