#include "editing/spectrum.h"

#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <random>

namespace mwb {

namespace {

using ColMatrixD = Eigen::MatrixXd;

// [rows x cols] standard normal entries, the same on every platform for a seed.
ColMatrixD gaussianMatrix(Eigen::Index rows, Eigen::Index cols, uint64_t seed) {
    std::mt19937_64 rng(seed);
    ColMatrixD g(rows, cols);
    for (Eigen::Index i = 0; i < g.size(); ++i) {  // Box-Muller on 53-bit uniforms
        const double u1 = (double(rng() >> 11) + 1.0) * 0x1p-53;
        const double u2 = double(rng() >> 11) * 0x1p-53;
        g.data()[i] = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    return g;
}

std::vector<double> descending(const Eigen::VectorXd& values) {
    std::vector<double> v(values.data(), values.data() + values.size());
    for (double& x : v) x = std::max(x, 0.0);
    std::sort(v.begin(), v.end(), std::greater<>());
    return v;
}

// All singular values of a (small or wide-and-short) matrix.
std::vector<double> svdValues(const ColMatrixD& m) {
    Eigen::BDCSVD<ColMatrixD> svd(m);  // singular values only
    return descending(svd.singularValues());
}

// All singular values of d: a direct SVD when d is small, else the square roots of
// the eigenvalues of the Gram matrix of its smaller side (half the work of a product,
// via a symmetric rank update).
std::vector<double> exactValues(const Eigen::Ref<const MatrixD>& d) {
    const Eigen::Index m = d.rows(), n = d.cols();
    if (m * n <= 512 * 512) return svdValues(d);
    const Eigen::Index k = std::min(m, n);
    ColMatrixD gram = ColMatrixD::Zero(k, k);
    if (m <= n)
        gram.selfadjointView<Eigen::Lower>().rankUpdate(d);
    else
        gram.selfadjointView<Eigen::Lower>().rankUpdate(d.transpose());
    Eigen::SelfAdjointEigenSolver<ColMatrixD> eig(gram, Eigen::EigenvaluesOnly);
    std::vector<double> v = descending(eig.eigenvalues());
    for (double& x : v) x = std::sqrt(x);
    return v;
}

void finish(Spectrum& s, std::vector<double> values, const SpectrumOptions& o) {
    const double largest = values.empty() ? 0.0 : values.front();
    s.threshold = std::max(o.relTol * largest, o.absTol);
    s.rank = int(std::count_if(values.begin(), values.end(), [&](double x) { return x > s.threshold; }));
    if (int(values.size()) > o.top) values.resize(std::max(o.top, 0));
    s.singularValues = std::move(values);
}

}  // namespace

Spectrum spectrum(const Eigen::Ref<const MatrixD>& d, const SpectrumOptions& o) {
    Spectrum s;
    const Eigen::Index m = d.rows(), n = d.cols();
    const Eigen::Index k = std::min(m, n);
    if (k == 0) return s;
    const Eigen::Index cap = std::min<Eigen::Index>(o.maxSketch, k / 2);
    if (o.exact || k <= 16 || cap < 8) {
        s.exactMethod = true;
        finish(s, exactValues(d), o);
        return s;
    }
    // Range sketch Q (orthonormal [m x cols]) of d·Ω; the singular values of Qᵀd are
    // those of d once the sketch holds the whole range, i.e. once it shows a singular
    // value at the noise level.
    for (Eigen::Index cols = 8;; cols = std::min(cols * 4, cap)) {
        const ColMatrixD y = d * gaussianMatrix(n, cols, o.seed);
        Eigen::HouseholderQR<ColMatrixD> qr(y);
        const ColMatrixD q = qr.householderQ() * ColMatrixD::Identity(m, cols);
        const ColMatrixD small = q.transpose() * d;  // [cols x n]
        std::vector<double> values = svdValues(small);
        const double threshold = std::max(o.relTol * values.front(), o.absTol);
        if (values.back() <= threshold) {
            finish(s, std::move(values), o);
            return s;
        }
        if (cols >= cap) {
            if (k <= o.exactLimit) {
                s.exactMethod = true;
                finish(s, exactValues(d), o);
            } else {
                finish(s, std::move(values), o);
                s.rankIsLowerBound = true;
            }
            return s;
        }
    }
}

}  // namespace mwb
