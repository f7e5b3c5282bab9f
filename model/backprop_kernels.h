// Batched building blocks of the differentiable forward pass and of the backward
// pass (backprop.cpp): norms that record what their gradient needs, causal attention
// over (sequence, head) pairs, rotary tables and activations. Internal to the model
// library; row-parallel with OpenMP, results depend only on the thread count.
#pragma once

#include <limits>
#include <span>
#include <utility>  // std::as_const, used by weights.h
#include <vector>

#include "model/config.h"
#include "tensor/tensor.h"
#include "model/weights.h"

namespace mwb::bp {

// out (=, or += when accumulate) x wᵀ, x w and yᵀ x (out resized unless accumulating).
// In float they run on the inference pass's kernels (tensor/matmul.h: the CPU's widest
// vector unit, chosen at run time, deterministic for any thread count), where Eigen's
// GEMM would be compiled for the portable build's SSE2; in double (gradient checks) on
// Eigen's, its rows split over the threads.
template <typename T>
void productXWt(MatrixT<T>& out, const MatrixT<T>& x, const MatrixT<T>& w, bool accumulate);
template <typename T>
void productXW(MatrixT<T>& out, const MatrixT<T>& x, const MatrixT<T>& w, bool accumulate);
template <typename T>
void productYtX(MatrixT<T>& out, const MatrixT<T>& y, const MatrixT<T>& x, bool accumulate);

// y = x Wᵀ + b  (x: [n x in], W: [out x in], y resized to [n x out]).
// A weight kept in float16 is decoded into `scratch` for the product.
template <typename T>
inline void linearForward(const MatrixT<T>& x, const LinearT<T>& l, MatrixT<T>& y, MatrixT<T>& scratch) {
    const MatrixT<T>& weight = l.weightIn(scratch);
    bp::productXWt(y, x, weight, false);
    if (l.bias.size()) y.rowwise() += l.bias.transpose();
}

// Adds the sums of the rows of m (a [n x k] matrix) into acc [k], in row order.
template <typename T>
inline void addRowSum(const MatrixT<T>& m, VectorT<T>& acc) {
    for (Eigen::Index r = 0; r < m.rows(); ++r) acc.transpose() += m.row(r);
}

// Gradient of a linear layer y = x Wᵀ + b given dy: dW += dyᵀ x, db += Σ dy.
template <typename T>
inline void linearWeightGrad(const MatrixT<T>& dy, const MatrixT<T>& x, LinearT<T>& g) {
    bp::productYtX(g.weight, dy, x, true);
    if (g.bias.size()) addRowSum(dy, g.bias);
}

// LayerNorm or RMSNorm (c.rmsNorm()) of every row of x [n x d] into y [n x d], with the
// weight applied as (c.normWeightOffset() + w), recording the normalised rows xhat
// [n x d] and 1/sqrt(var + eps) per row in rstd [n]. y may be x.
template <typename T>
void normForward(const MatrixT<T>& x, const NormT<T>& norm, const ModelConfig& c, MatrixT<T>& xhat,
                 VectorT<T>& rstd, MatrixT<T>& y);

// Given dy = d loss / d y, ADDS d loss / d x into dx and, when grad is not null, adds the
// gradients of the norm's weight (and bias) into *grad.
template <typename T>
void normBackward(const MatrixT<T>& dy, const MatrixT<T>& xhat, const VectorT<T>& rstd,
                  const NormT<T>& norm, const ModelConfig& c, NormT<T>* grad, MatrixT<T>& dx);

// cos/sin of pos * ropeInverseFrequency(config, i, rotaryDims) for pos < seqLen,
// i < rotaryDims/2, computed exactly as ops::rope does (double precision, then rounded
// to T), with the pairs ops::rotaryPair rotates. Built once per shape: a table belongs
// to one model.
template <typename T>
struct RopeTable {
    MatrixT<T> cos;  // [seqLen x rotaryDims/2]
    MatrixT<T> sin;
    std::vector<std::pair<int, int>> pairs;
    void build(int seqLen, const ModelConfig& config);
};

// Rotates every head of x [batch*seqLen x nHeads*dHead] in place; row r has position
// r % seqLen. inverse = true applies the transpose (backward).
template <typename T>
void ropeApply(MatrixT<T>& x, int nHeads, int dHead, int seqLen, const RopeTable<T>& table,
               bool inverse);

// In sequence `sequence`, the queries at positions >= queryBegin may not attend to the
// keys at [keyBegin, keyEnd), in every head of the layers below layerEnd (keyBegin <
// keyEnd <= queryBegin, so a query always keeps itself).
struct BlockedKeys {
    int sequence = 0;
    int keyBegin = 0;
    int keyEnd = 0;
    int queryBegin = 0;
    int layerEnd = std::numeric_limits<int>::max();
    bool operator==(const BlockedKeys&) const = default;
};

struct AttentionShape {
    int batch = 0;
    int seqLen = 0;
    int nHeads = 0;
    int nKvHeads = 0;
    int dHead = 0;
    std::span<const BlockedKeys> blocked;  // on top of the causal mask; usually empty
    int layer = 0;                         // which of blocked apply: layer < layerEnd
    double scale = 0;                      // of the scores: ModelConfig::attentionScale
    double softcap = 0;                    // c * tanh(score / c) when positive (Gemma 2)
    int window = 0;                        // keys i - j >= window masked when positive
};

// Causal softmax attention for every (sequence, head), with s.blocked's keys and those
// outside the sliding window masked too (probability exactly zero, so they get no
// gradient either). q: [n x nHeads*dHead],
// k, v: [n x nKvHeads*dHead], n = batch*seqLen. Writes the probabilities of sequence b,
// head h into rows [(b*nHeads + h)*seqLen, +seqLen) of probs [batch*nHeads*seqLen x seqLen]
// (zero above the diagonal) and the concatenated head outputs into out [n x nHeads*dHead].
template <typename T>
void attentionForward(const MatrixT<T>& q, const MatrixT<T>& k, const MatrixT<T>& v,
                      const AttentionShape& s, MatrixT<T>& probs, MatrixT<T>& out);

// From dOut = d loss / d out, writes (overwrites) dq, dk, dv, with the shapes of q, k, v.
template <typename T>
void attentionBackward(const MatrixT<T>& q, const MatrixT<T>& k, const MatrixT<T>& v,
                       const MatrixT<T>& probs, const MatrixT<T>& dOut, const AttentionShape& s,
                       MatrixT<T>& dq, MatrixT<T>& dk, MatrixT<T>& dv);

// y = act(x) on `len` contiguous elements (y may be x). Vectorised: the packet and the
// scalar paths round differently, so callers that need a value to be independent of
// where it lies hand in aligned buffers (the inference pass does).
template <typename T>
void activate(Activation a, const T* x, T* y, Eigen::Index len);

// m = act(u) elementwise (u, m: [n x dFf]).
template <typename T>
void activationForward(Activation a, const MatrixT<T>& u, MatrixT<T>& m);
// du = dm * act'(u).
template <typename T>
void activationBackward(Activation a, const MatrixT<T>& u, const MatrixT<T>& dm, MatrixT<T>& du);

// SwiGLU (Llama): m = act(g) * u.
template <typename T>
void gluForward(Activation a, const MatrixT<T>& g, const MatrixT<T>& u, MatrixT<T>& m);
// dg = dm * u * act'(g), du = dm * act(g).
template <typename T>
void gluBackward(Activation a, const MatrixT<T>& g, const MatrixT<T>& u, const MatrixT<T>& dm,
                 MatrixT<T>& dg, MatrixT<T>& du);

}  // namespace mwb::bp
