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
#pragma once

#include <cstdint>
#include <string>

namespace mwb {

// y[i][o] = sum_k x[i][k] * w[o][k]   for i < n, o < out.
// x: n rows of k floats, row stride ldx; w: out rows of k floats, stride ldw;
// y: n rows of out floats, stride ldy. Large products are split over OpenMP
// threads (unless called inside a parallel region); the result does not change.
void matmulTransposed(const float* x, long ldx, const float* w, long ldw, float* y, long ldy, int n,
                      int out, int k);

// The same product with w in IEEE half precision (raw bits): w is converted to
// float a panel of rows at a time and summed exactly as above, so the result is
// identical, bit for bit, to matmulTransposed on the decoded float matrix.
void matmulTransposed(const float* x, long ldx, const uint16_t* w, long ldw, float* y, long ldy, int n,
                      int out, int k);

// The same dot product for a single pair of vectors (for callers that need one
// element and must agree with matmulTransposed bit for bit).
float dotInvariant(const float* a, const float* b, int k);

// The instruction set the products above run on ("sse2", "avx", "avx2", "avx512"; on
// other processors "generic"), for benchmark reports. Today it is what this file was
// compiled for; a kernel chosen at run time would report its choice here instead.
std::string matmulIsa();

}  // namespace mwb
