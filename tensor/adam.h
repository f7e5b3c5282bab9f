// Adam's moment estimates and bias-corrected step (Kingma & Ba 2015, "Adam: A Method
// for Stochastic Optimization", Algorithm 1), on Eigen arrays of any scalar type. The
// trainer's AdamW (over every tensor, in float) and the editors' optimisation of one
// value vector (in double) share it.
#pragma once

#include <cmath>
#include <type_traits>

namespace mwb {

struct AdamHyper {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
};

// m = β1 m + (1 − β1) g,  v = β2 v + (1 − β2) g²  (m, v, g: Eigen arrays or array views).
template <typename M, typename V, typename G>
void adamMoments(M&& m, V&& v, const G& g, const AdamHyper& h) {
    using T = typename std::decay_t<M>::Scalar;
    m = T(h.beta1) * m + (1 - T(h.beta1)) * g;
    v = T(h.beta2) * v + (1 - T(h.beta2)) * g.square();
}

// The update lr · m̂ / (√v̂ + ε) after t moment updates (t counts from 1), with
// m̂ = m / (1 − β1ᵗ) and v̂ = v / (1 − β2ᵗ); an Eigen expression.
template <typename M, typename V>
auto adamStep(const M& m, const V& v, long t, double lr, const AdamHyper& h) {
    using T = typename M::Scalar;
    const T c1 = T(1 - std::pow(h.beta1, double(t))), c2 = T(1 - std::pow(h.beta2, double(t)));
    return T(lr) * (m / c1) / ((v / c2).sqrt() + T(h.eps));
}

}  // namespace mwb
