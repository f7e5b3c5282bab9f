// Kernels of the batched differentiable forward and backward passes. Every parallel
// loop writes disjoint outputs and every reduction runs in a fixed order, so results
// depend only on the inputs and the thread count (through Eigen's GEMM blocking in the
// double-precision products).
#include "model/backprop_kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "model/ops.h"
#include "tensor/matmul.h"

namespace mwb::bp {

namespace {

using Eigen::Index;

template <typename T>
using FlatMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstFlatMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

constexpr Index kChunk = 8192;  // elements per task of the elementwise loops
// Below this many scalar operations a loop runs on one thread: waking the team costs
// more than it saves for the tiny passes of tests and single-prompt edits.
constexpr Index kParallelWork = Index(1) << 18;
// Attention works on blocks of this many query rows, each against the keys up to its
// last row only, which skips most of the masked half of the score matrix.
constexpr int kCausalBlock = 32;

// Calls fn(begin, length) on consecutive chunks of [0, total), in parallel.
template <typename Fn>
void parallelChunks(Index total, Fn&& fn) {
    const Index nChunks = (total + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (nChunks > 1)
    for (Index c = 0; c < nChunks; ++c) {
        const Index begin = c * kChunk;
        fn(begin, std::min(kChunk, total - begin));
    }
}

// y = act'(x) on `len` contiguous elements (same formulas as ops::activateGrad).
template <typename T>
void actGradChunk(Activation a, const T* xp, T* yp, Index len) {
    ConstFlatMap<T> x(xp, len);
    FlatMap<T> y(yp, len);
    const T c = T(0.7978845608028654);
    const T k = T(0.044715);
    switch (a) {
        case Activation::GeluTanh:
            y = (c * (x + k * x.cube())).tanh();
            y = T(0.5) * (T(1) + y) +
                T(0.5) * x * (T(1) - y.square()) * c * (T(1) + T(3) * k * x.square());
            break;
        case Activation::Gelu:
            y = x.unaryExpr([](T v) { return ops::activateGrad(Activation::Gelu, v); });
            break;
        case Activation::Relu: y = (x > T(0)).template cast<T>(); break;
        case Activation::Silu:
            y = T(1) / (T(1) + (-x).exp());
            y = y * (T(1) + x * (T(1) - y));
            break;
    }
}

// (Eigen's GEMM, for the double-precision pass.) Products over all tokens are split by rows of the result between the OpenMP
// threads, each running a single-threaded Eigen GEMM on its slice. Eigen's own
// parallel GEMM synchronises its threads by spinning, which wastes the CPU when the
// machine is busy; slices only meet at the end of the region. Slices depend only on
// the thread count, so results are deterministic for it. Below kGemmParallelWork
// multiply-adds the product runs on one thread.
constexpr double kGemmParallelWork = 1e5;

Index sliceBegin(Index n, int part, int parts) {
    if (part >= parts) return n;
    return (n * part / parts) / 16 * 16;
}

// out (=, or += when accumulate) a * b, with a and b any Eigen expressions.
template <typename Out, typename A, typename B>
void gemm(Out& out, const A& a, const B& b, bool accumulate) {
    const double work = double(a.rows()) * double(a.cols()) * double(b.cols());
    if (work < kGemmParallelWork) {
        if (accumulate) out.noalias() += a * b;
        else out.noalias() = a * b;
        return;
    }
#pragma omp parallel
    {
        const int parts = omp_get_num_threads(), part = omp_get_thread_num();
        const Index r0 = sliceBegin(out.rows(), part, parts);
        const Index n = sliceBegin(out.rows(), part + 1, parts) - r0;
        if (n > 0) {
            if (accumulate) out.middleRows(r0, n).noalias() += a.middleRows(r0, n) * b;
            else out.middleRows(r0, n).noalias() = a.middleRows(r0, n) * b;
        }
    }
}

template <typename T>
void addOrSet(MatrixT<T>& out, const MatrixT<T>& product, bool accumulate) {
    if (accumulate) out += product;
    else out = product;
}

}  // namespace

template <typename T>
void activate(Activation a, const T* xp, T* yp, Index len) {
    ConstFlatMap<T> x(xp, len);
    FlatMap<T> y(yp, len);
    const T c = T(0.7978845608028654);  // sqrt(2/pi)
    const T k = T(0.044715);
    switch (a) {
        case Activation::GeluTanh:
            y = T(0.5) * x * (T(1) + (c * (x + k * x.cube())).tanh());
            break;
        case Activation::Gelu:
            y = x.unaryExpr([](T v) { return ops::activate(Activation::Gelu, v); });
            break;
        case Activation::Relu: y = x.max(T(0)); break;
        case Activation::Silu: y = x / (T(1) + (-x).exp()); break;
    }
}

template <typename T>
void productXWt(MatrixT<T>& out, const MatrixT<T>& x, const MatrixT<T>& w, bool accumulate) {
    if constexpr (std::is_same_v<T, float>) {
        thread_local Matrix y;
        y.resize(x.rows(), w.rows());
        matmulTransposed(x.data(), x.cols(), w.data(), w.cols(), y.data(), y.cols(), int(x.rows()), int(w.rows()),
                         int(x.cols()));
        addOrSet(out, y, accumulate);
    } else {
        if (!accumulate) out.resize(x.rows(), w.rows());
        gemm(out, x, w.transpose(), accumulate);
    }
}

template <typename T>
void productXW(MatrixT<T>& out, const MatrixT<T>& x, const MatrixT<T>& w, bool accumulate) {
    if constexpr (std::is_same_v<T, float>) {
        thread_local Matrix y;
        y.resize(x.rows(), w.cols());
        matmul(x.data(), x.cols(), w.data(), w.cols(), y.data(), y.cols(), int(x.rows()), int(w.cols()),
               int(x.cols()));
        addOrSet(out, y, accumulate);
    } else {
        if (!accumulate) out.resize(x.rows(), w.cols());
        gemm(out, x, w, accumulate);
    }
}

template <typename T>
void productYtX(MatrixT<T>& out, const MatrixT<T>& y, const MatrixT<T>& x, bool accumulate) {
    if constexpr (std::is_same_v<T, float>) {
        thread_local Matrix yt, product;
        yt = y.transpose();
        product.resize(y.cols(), x.cols());
        matmul(yt.data(), yt.cols(), x.data(), x.cols(), product.data(), product.cols(), int(yt.rows()),
               int(x.cols()), int(yt.cols()));
        addOrSet(out, product, accumulate);
    } else {
        if (!accumulate) out.resize(y.cols(), x.cols());
        gemm(out, y.transpose(), x, accumulate);
    }
}

template <typename T>
void normForward(const MatrixT<T>& x, const NormT<T>& norm, const ModelConfig& c, MatrixT<T>& xhat,
                 VectorT<T>& rstd, MatrixT<T>& y) {
    const Index n = x.rows(), d = x.cols();
    const bool rms = c.rmsNorm();
    const T eps = T(c.normEps);
    const VectorT<T> weight = norm.weight.array() + T(c.normWeightOffset());
    xhat.resize(n, d);
    rstd.resize(n);
    y.resize(n, d);
    const bool hasBias = !rms && norm.bias.size() > 0;
#pragma omp parallel for schedule(static) if (n * d > kParallelWork)
    for (Index r = 0; r < n; ++r) {
        const auto xr = x.row(r);
        T inv;
        if (rms) {
            inv = T(1) / std::sqrt(xr.squaredNorm() / T(d) + eps);
            xhat.row(r) = xr * inv;
        } else {
            const T mean = xr.mean();
            const T var = (xr.array() - mean).square().sum() / T(d);
            inv = T(1) / std::sqrt(var + eps);
            xhat.row(r) = (xr.array() - mean) * inv;
        }
        rstd[r] = inv;
        y.row(r) = xhat.row(r).cwiseProduct(weight.transpose());
        if (hasBias) y.row(r) += norm.bias.transpose();
    }
}

template <typename T>
void normBackward(const MatrixT<T>& dy, const MatrixT<T>& xhat, const VectorT<T>& rstd,
                  const NormT<T>& norm, const ModelConfig& c, NormT<T>* grad, MatrixT<T>& dx) {
    const Index n = dy.rows(), d = dy.cols();
    const bool rms = c.rmsNorm();
    const VectorT<T> weight = norm.weight.array() + T(c.normWeightOffset());
    const auto w = weight.transpose().array();
    // With g = dy * w:  LayerNorm  dx = rstd (g - mean(g) - xhat mean(g xhat)),
    //                   RMSNorm    dx = rstd (g - xhat mean(g xhat)).
#pragma omp parallel for schedule(static) if (n * d > kParallelWork)
    for (Index r = 0; r < n; ++r) {
        const auto g = dy.row(r).array() * w;
        const T meanGx = (g * xhat.row(r).array()).sum() / T(d);
        const T meanG = rms ? T(0) : g.sum() / T(d);
        dx.row(r).array() += rstd[r] * (g - meanG - xhat.row(r).array() * meanGx);
    }
    if (!grad) return;
    for (Index r = 0; r < n; ++r) {
        grad->weight.transpose() += dy.row(r).cwiseProduct(xhat.row(r));
        if (!rms && grad->bias.size()) grad->bias.transpose() += dy.row(r);
    }
}

template <typename T>
void RopeTable<T>::build(int seqLen, const ModelConfig& config) {
    const int half = config.rotaryDims() / 2;
    if (cos.rows() == seqLen && cos.cols() == half) return;  // depends only on the shape
    cos.resize(seqLen, half);
    sin.resize(seqLen, half);
    pairs.resize(half);
    for (int i = 0; i < half; ++i) pairs[i] = ops::rotaryPair(config, i, config.rotaryDims());
    for (int pos = 0; pos < seqLen; ++pos) {
        for (int i = 0; i < half; ++i) {
            const double invFreq = ropeInverseFrequency(config, i, config.rotaryDims());
            cos(pos, i) = T(std::cos(pos * invFreq));
            sin(pos, i) = T(std::sin(pos * invFreq));
        }
    }
}

template <typename T>
void ropeApply(MatrixT<T>& x, int nHeads, int dHead, int seqLen, const RopeTable<T>& table,
               bool inverse) {
    const int half = static_cast<int>(table.pairs.size());
    const T sign = inverse ? T(-1) : T(1);
#pragma omp parallel for schedule(static) if (x.size() > kParallelWork)
    for (Index r = 0; r < x.rows(); ++r) {
        const Index pos = r % seqLen;
        const T* c = &table.cos(pos, 0);
        const T* s = &table.sin(pos, 0);
        T* row = &x(r, 0);
        for (int h = 0; h < nHeads; ++h) {
            T* head = row + h * dHead;
            for (int i = 0; i < half; ++i) {
                T& a = head[table.pairs[i].first];
                T& b = head[table.pairs[i].second];
                const T a0 = a, b0 = b, si = sign * s[i];
                a = a0 * c[i] - b0 * si;
                b = b0 * c[i] + a0 * si;
            }
        }
    }
}

template <typename T>
void attentionForward(const MatrixT<T>& q, const MatrixT<T>& k, const MatrixT<T>& v,
                      const AttentionShape& s, MatrixT<T>& probs, MatrixT<T>& out) {
    const int len = s.seqLen, dh = s.dHead, group = s.nHeads / s.nKvHeads;
    const T scale = T(s.scale), cap = T(s.softcap);
    probs.resize(Index(s.batch) * s.nHeads * len, len);
    out.resize(q.rows(), q.cols());
    const bool parallel = Index(s.batch) * s.nHeads * len * len * dh > kParallelWork;
#pragma omp parallel for schedule(static) if (parallel)
    for (int task = 0; task < s.batch * s.nHeads; ++task) {
        const int b = task / s.nHeads, h = task % s.nHeads, kvh = h / group;
        const auto qh = q.block(Index(b) * len, h * dh, len, dh);
        const auto kh = k.block(Index(b) * len, kvh * dh, len, dh);
        const auto vh = v.block(Index(b) * len, kvh * dh, len, dh);
        auto p = probs.block(Index(task) * len, 0, len, len);
        // Scores of row block [i0, i0 + n) only against keys < i0 + n (causal).
        for (int i0 = 0; i0 < len; i0 += kCausalBlock) {
            const int n = std::min(kCausalBlock, len - i0);
            p.block(i0, 0, n, i0 + n).noalias() = qh.middleRows(i0, n) * kh.topRows(i0 + n).transpose();
        }
        // Soft-capping acts on the scaled scores, before any mask (Gemma 2).
        if (cap > T(0))
            for (int i = 0; i < len; ++i) {
                auto seg = p.row(i).head(i + 1).array();
                seg = (seg * scale / cap).tanh() * cap;
            }
        const T minusInf = -std::numeric_limits<T>::infinity();
        for (const BlockedKeys& bk : s.blocked)
            if (bk.sequence == b && s.layer < bk.layerEnd)
                p.block(bk.queryBegin, bk.keyBegin, len - bk.queryBegin, bk.keyEnd - bk.keyBegin)
                    .setConstant(minusInf);
        if (s.window > 0)
            for (int i = s.window; i < len; ++i) p.row(i).head(i - s.window + 1).setConstant(minusInf);
        for (int i = 0; i < len; ++i) {
            auto seg = p.row(i).head(i + 1).array();
            const T mx = seg.maxCoeff();
            if (cap > T(0)) seg = (seg - mx).exp();
            else seg = ((seg - mx) * scale).exp();
            seg /= seg.sum();
            p.row(i).tail(len - i - 1).setZero();
        }
        for (int i0 = 0; i0 < len; i0 += kCausalBlock) {
            const int n = std::min(kCausalBlock, len - i0);
            out.block(Index(b) * len + i0, h * dh, n, dh).noalias() =
                p.block(i0, 0, n, i0 + n) * vh.topRows(i0 + n);
        }
    }
}

template <typename T>
void attentionBackward(const MatrixT<T>& q, const MatrixT<T>& k, const MatrixT<T>& v,
                       const MatrixT<T>& probs, const MatrixT<T>& dOut, const AttentionShape& s,
                       MatrixT<T>& dq, MatrixT<T>& dk, MatrixT<T>& dv) {
    const int len = s.seqLen, dh = s.dHead, group = s.nHeads / s.nKvHeads;
    const T scale = T(s.scale), cap = T(s.softcap);
    dq.resize(q.rows(), q.cols());
    dk.resize(k.rows(), k.cols());
    dv.resize(v.rows(), v.cols());
    // One task per (sequence, key/value head): the query heads sharing a kv head add
    // into the same dk, dv blocks, so they run in order inside one task.
    const bool parallel = Index(s.batch) * s.nHeads * len * len * dh > kParallelWork;
#pragma omp parallel for schedule(static) if (parallel)
    for (int task = 0; task < s.batch * s.nKvHeads; ++task) {
        const int b = task / s.nKvHeads, kvh = task % s.nKvHeads;
        const Index row0 = Index(b) * len;
        const auto kh = k.block(row0, kvh * dh, len, dh);
        const auto vh = v.block(row0, kvh * dh, len, dh);
        auto dkh = dk.block(row0, kvh * dh, len, dh);
        auto dvh = dv.block(row0, kvh * dh, len, dh);
        dkh.setZero();
        dvh.setZero();
        thread_local MatrixT<T> dp;
        dp.resize(len, len);
        for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
            const auto p = probs.block((Index(b) * s.nHeads + h) * len, 0, len, len);
            const auto doh = dOut.block(row0, h * dh, len, dh);
            const auto qh = q.block(row0, h * dh, len, dh);
            for (int i0 = 0; i0 < len; i0 += kCausalBlock) {
                const int n = std::min(kCausalBlock, len - i0);
                const auto pb = p.block(i0, 0, n, i0 + n);
                dvh.topRows(i0 + n).noalias() += pb.transpose() * doh.middleRows(i0, n);
                dp.block(i0, 0, n, i0 + n).noalias() = doh.middleRows(i0, n) * vh.topRows(i0 + n).transpose();
            }
            // softmax backward: dS = P (dP - rowsum(P dP)), causal part only.
            for (int i = 0; i < len; ++i) {
                auto pr = p.row(i).head(i + 1).array();
                auto dr = dp.row(i).head(i + 1).array();
                const T dot = (pr * dr).sum();
                dr = pr * (dr - dot);
                if (cap > T(0)) {  // through t = c tanh(z / c): dt/dz = 1 - (t / c)^2, recomputed
                    const auto z = (qh.row(i) * kh.topRows(i + 1).transpose()).array() * scale;
                    dr *= T(1) - (z / cap).tanh().square();
                }
                dp.row(i).tail(len - i - 1).setZero();
            }
            for (int i0 = 0; i0 < len; i0 += kCausalBlock) {
                const int n = std::min(kCausalBlock, len - i0);
                const auto db = dp.block(i0, 0, n, i0 + n);
                dq.block(row0 + i0, h * dh, n, dh).noalias() = scale * (db * kh.topRows(i0 + n));
                dkh.topRows(i0 + n).noalias() += scale * (db.transpose() * qh.middleRows(i0, n));
            }
        }
    }
}

template <typename T>
void activationForward(Activation a, const MatrixT<T>& u, MatrixT<T>& m) {
    m.resize(u.rows(), u.cols());
    parallelChunks(u.size(), [&](Index b, Index n) { activate(a, u.data() + b, m.data() + b, n); });
}

template <typename T>
void activationBackward(Activation a, const MatrixT<T>& u, const MatrixT<T>& dm, MatrixT<T>& du) {
    du.resize(u.rows(), u.cols());
    parallelChunks(u.size(), [&](Index b, Index n) {
        actGradChunk(a, u.data() + b, du.data() + b, n);
        FlatMap<T>(du.data() + b, n) *= ConstFlatMap<T>(dm.data() + b, n);
    });
}

template <typename T>
void gluForward(Activation a, const MatrixT<T>& g, const MatrixT<T>& u, MatrixT<T>& m) {
    m.resize(u.rows(), u.cols());
    parallelChunks(u.size(), [&](Index b, Index n) {
        activate(a, g.data() + b, m.data() + b, n);
        FlatMap<T>(m.data() + b, n) *= ConstFlatMap<T>(u.data() + b, n);
    });
}

template <typename T>
void gluBackward(Activation a, const MatrixT<T>& g, const MatrixT<T>& u, const MatrixT<T>& dm,
                 MatrixT<T>& dg, MatrixT<T>& du) {
    dg.resize(u.rows(), u.cols());
    du.resize(u.rows(), u.cols());
    parallelChunks(u.size(), [&](Index b, Index n) {
        const ConstFlatMap<T> dmc(dm.data() + b, n);
        actGradChunk(a, g.data() + b, dg.data() + b, n);
        FlatMap<T>(dg.data() + b, n) *= dmc * ConstFlatMap<T>(u.data() + b, n);
        activate(a, g.data() + b, du.data() + b, n);
        FlatMap<T>(du.data() + b, n) *= dmc;
    });
}

#define MWB_INSTANTIATE_KERNELS(T)                                                               \
    template void activate<T>(Activation, const T*, T*, Index);                                  \
    template void productXWt<T>(MatrixT<T>&, const MatrixT<T>&, const MatrixT<T>&, bool);       \
    template void productXW<T>(MatrixT<T>&, const MatrixT<T>&, const MatrixT<T>&, bool);        \
    template void productYtX<T>(MatrixT<T>&, const MatrixT<T>&, const MatrixT<T>&, bool);       \
    template void normForward<T>(const MatrixT<T>&, const NormT<T>&, const ModelConfig&,        \
                                 MatrixT<T>&, VectorT<T>&, MatrixT<T>&);                        \
    template void normBackward<T>(const MatrixT<T>&, const MatrixT<T>&, const VectorT<T>&,      \
                                  const NormT<T>&, const ModelConfig&, NormT<T>*, MatrixT<T>&); \
    template struct RopeTable<T>;                                                               \
    template void ropeApply<T>(MatrixT<T>&, int, int, int, const RopeTable<T>&, bool);          \
    template void attentionForward<T>(const MatrixT<T>&, const MatrixT<T>&, const MatrixT<T>&,  \
                                      const AttentionShape&, MatrixT<T>&, MatrixT<T>&);         \
    template void attentionBackward<T>(const MatrixT<T>&, const MatrixT<T>&, const MatrixT<T>&, \
                                       const MatrixT<T>&, const MatrixT<T>&,                    \
                                       const AttentionShape&, MatrixT<T>&, MatrixT<T>&,         \
                                       MatrixT<T>&);                                            \
    template void activationForward<T>(Activation, const MatrixT<T>&, MatrixT<T>&);             \
    template void activationBackward<T>(Activation, const MatrixT<T>&, const MatrixT<T>&,       \
                                        MatrixT<T>&);                                           \
    template void gluForward<T>(Activation, const MatrixT<T>&, const MatrixT<T>&, MatrixT<T>&); \
    template void gluBackward<T>(Activation, const MatrixT<T>&, const MatrixT<T>&,              \
                                 const MatrixT<T>&, MatrixT<T>&, MatrixT<T>&);

MWB_INSTANTIATE_KERNELS(float)
MWB_INSTANTIATE_KERNELS(double)

}  // namespace mwb::bp
