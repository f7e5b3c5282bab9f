// Elementwise building blocks shared by the inference forward pass
// (transformer.cpp) and the differentiable one (backprop.cpp). Shapes follow the
// layout rule of tensor.h: x is [nTokens x dModel], one token per row.
#pragma once

#include <cmath>
#include <type_traits>
#include <utility>

#include "model/config.h"
#include "tensor/matmul.h"
#include "tensor/tensor.h"
#include "model/weights.h"

namespace mwb::ops {

// y = x W^T + b  (x: [n x in], W: [out x in], y: [n x out])
template <typename T>
void linear(const Eigen::Ref<const MatrixT<T>>& x, const LinearT<T>& l, Eigen::Ref<MatrixT<T>> y) {
    y.noalias() = x * l.weight.transpose();
    if (l.bias.size()) y.rowwise() += l.bias.transpose();
}

// float, the inference forward pass: the batch-invariant product of matmul.h, so
// that a row's output does not depend on the other rows computed with it.
template <>
inline void linear<float>(const Eigen::Ref<const Matrix>& x, const Linear& l, Eigen::Ref<Matrix> y) {
    const int n = static_cast<int>(x.rows()), out = static_cast<int>(l.outFeatures()),
              k = static_cast<int>(x.cols());
    if (l.isHalf())
        matmulTransposed(x.data(), x.outerStride(), l.weightHalf.bits.data(), l.weightHalf.format,
                         l.weightHalf.cols, y.data(), y.outerStride(), n, out, k);
    else
        matmulTransposed(x.data(), x.outerStride(), l.weight.data(), l.weight.cols(), y.data(), y.outerStride(),
                         n, out, k);
    if (l.bias.size()) y.rowwise() += l.bias.transpose();
}

// LayerNorm or RMSNorm (c.rmsNorm()) of every row, into y; the weight applies as
// (c.normWeightOffset() + w), Gemma's (1 + w).
template <typename T>
void norm(const Eigen::Ref<const MatrixT<T>>& x, const NormT<T>& n, const ModelConfig& c,
          Eigen::Ref<MatrixT<T>> y) {
    const auto d = x.cols();
    const T eps = T(c.normEps);
    const VectorT<T> weight = n.weight.array() + T(c.normWeightOffset());
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
        auto xr = x.row(r);
        if (c.rmsNorm()) {
            const T ms = xr.squaredNorm() / T(d);
            const T inv = T(1) / std::sqrt(ms + eps);
            y.row(r) = (xr * inv).cwiseProduct(weight.transpose());
        } else {
            const T mean = xr.mean();
            const T var = (xr.array() - mean).square().sum() / T(d);
            const T inv = T(1) / std::sqrt(var + eps);
            y.row(r) = ((xr.array() - mean) * inv).matrix().cwiseProduct(weight.transpose()) +
                       n.bias.transpose();
        }
    }
}

// c * tanh(x / c) of every element of a row, in place (Gemma 2's soft-capping of
// attention scores and logits). Like softmaxInPlace, computed in an aligned copy: Eigen
// splits a vectorised expression into packets and a scalar remainder by the data's
// address, and the packet and scalar tanh round differently, so a row's result would
// depend on where in a matrix it lies, and the forward pass would lose batch invariance.
template <typename Row>
void softcap(Row&& v, float cap) {
    using T = typename std::decay_t<Row>::Scalar;
    thread_local Eigen::Matrix<T, 1, Eigen::Dynamic> buffer;
    buffer = v;
    buffer.array() = (buffer.array() / T(cap)).tanh() * T(cap);
    v = buffer;
}

// softcap of every row of m.
template <typename M>
void softcapRows(M& m, float cap) {
    for (Eigen::Index r = 0; r < m.rows(); ++r) softcap(m.row(r), cap);
}

template <typename T>
T activate(Activation a, T x) {
    switch (a) {
        case Activation::GeluTanh: {
            const T c = T(0.7978845608028654);  // sqrt(2/pi)
            return T(0.5) * x * (T(1) + std::tanh(c * (x + T(0.044715) * x * x * x)));
        }
        case Activation::Gelu: return T(0.5) * x * (T(1) + std::erf(x * T(0.7071067811865476)));
        case Activation::Relu: return x > T(0) ? x : T(0);
        case Activation::Silu: return x / (T(1) + std::exp(-x));
    }
    return x;
}

// d activate(x) / dx
template <typename T>
T activateGrad(Activation a, T x) {
    switch (a) {
        case Activation::GeluTanh: {
            const T c = T(0.7978845608028654);
            const T u = c * (x + T(0.044715) * x * x * x);
            const T t = std::tanh(u);
            const T du = c * (T(1) + T(3) * T(0.044715) * x * x);
            return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
        }
        case Activation::Gelu: {
            const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.7071067811865476)));
            const T pdf = std::exp(T(-0.5) * x * x) * T(0.3989422804014327);
            return cdf + x * pdf;
        }
        case Activation::Relu: return x > T(0) ? T(1) : T(0);
        case Activation::Silu: {
            const T s = T(1) / (T(1) + std::exp(-x));
            return s * (T(1) + x * (T(1) - s));
        }
    }
    return T(1);
}

// The two dimensions of a head that rotary pair i (i < rotaryDims / 2) rotates
// together: (i, i + rotaryDims/2) in Hugging Face's rotate-half convention, (2i, 2i + 1)
// in GPT-J's interleaved one. Dimensions >= rotaryDims are left alone (partial rotary).
inline std::pair<int, int> rotaryPair(const ModelConfig& c, int i, int rotaryDims) {
    if (c.rotaryStyle() == RotaryStyle::Interleaved) return {2 * i, 2 * i + 1};
    return {i, i + rotaryDims / 2};
}

// Rotary embedding (Su et al. 2021, "RoFormer"): for each head, the pairs of rotaryPair
// are rotated by angle pos * ropeInverseFrequency(config, i, rotaryDims), rotaryDims =
// config.rotaryDim or else dHead. `x` holds nHeads heads of dHead side by side in each
// row; row r has position firstPos + r. sign = -1 applies the inverse rotation.
template <typename T>
void rope(Eigen::Ref<MatrixT<T>> x, int nHeads, int dHead, int firstPos, const ModelConfig& config, T sign = T(1)) {
    const int rotaryDims = config.rotaryDim > 0 ? config.rotaryDim : dHead;
    const int pairs = rotaryDims / 2;
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
        const double pos = double(firstPos + r);
        for (int i = 0; i < pairs; ++i) {
            const double invFreq = ropeInverseFrequency(config, i, rotaryDims);
            const T c = T(std::cos(pos * invFreq));
            const T s = sign * T(std::sin(pos * invFreq));
            const auto [ia, ib] = rotaryPair(config, i, rotaryDims);
            for (int h = 0; h < nHeads; ++h) {
                T& a = x(r, h * dHead + ia);
                T& b = x(r, h * dHead + ib);
                const T a0 = a, b0 = b;
                a = a0 * c - b0 * s;
                b = b0 * c + a0 * s;
            }
        }
    }
}

// Numerically stable softmax of a row vector in place, computed in an aligned copy so
// that the result does not depend on where the row lies in memory (see softcap).
template <typename Row>
void softmaxInPlace(Row&& v) {
    using T = typename std::decay_t<Row>::Scalar;
    thread_local Eigen::Matrix<T, 1, Eigen::Dynamic> buffer;
    buffer = v;
    const T m = buffer.maxCoeff();
    buffer = (buffer.array() - m).exp();
    buffer /= buffer.sum();
    v = buffer;
}

}  // namespace mwb::ops
