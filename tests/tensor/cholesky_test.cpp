// The blocked float Cholesky factorisation and whitening (tensor/cholesky.h) against
// Eigen's in double, on sizes that are not multiples of the block.
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <limits>
#include <random>

#include "tensor/cholesky.h"

namespace mwb {
namespace {

// A = B Bᵀ / m + ridge · I: a second moment with a ridge, as the audit whitens with.
MatrixD secondMomentLike(long n, double ridge, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    MatrixD b(n, 2 * n);
    for (long i = 0; i < b.size(); ++i) b.data()[i] = normal(rng) * (1.0 + 3.0 * double(i % n) / double(n));
    MatrixD a = b * b.transpose() / double(b.cols());
    a.diagonal().array() += ridge * a.trace() / double(n);
    return a;
}

TEST(Cholesky, FactorEqualsEigensInDouble) {
    for (long n : {1L, 5L, 128L, 300L}) {
        const MatrixD a = secondMomentLike(n, 0.1, 7);
        Matrix l;
        ASSERT_TRUE(choleskyFactor(a.cast<float>(), l)) << n;
        const MatrixD expected = MatrixD(Eigen::LLT<MatrixD>(a).matrixL());
        EXPECT_LT((l.cast<double>() - expected).cwiseAbs().maxCoeff(), 1e-5 * expected.cwiseAbs().maxCoeff()) << n;
        EXPECT_EQ(l.triangularView<Eigen::StrictlyUpper>().toDenseMatrix().cwiseAbs().maxCoeff(), 0.0f) << n;
    }
}

TEST(Cholesky, WhitenedRowsGiveTheInverseForm) {
    const long f = 300, d = 70;
    const MatrixD a = secondMomentLike(f, 0.1, 3);
    std::mt19937_64 rng(11);
    std::normal_distribution<float> normal;
    Matrix w(d, f);
    for (long i = 0; i < w.size(); ++i) w.data()[i] = normal(rng);
    Matrix l;
    ASSERT_TRUE(choleskyFactor(a.cast<float>(), l));
    const Matrix y = whitenRows(w, l);
    const MatrixD got = (y * y.transpose()).cast<double>();
    const MatrixD wd = w.cast<double>();
    const MatrixD expected = wd * a.llt().solve(wd.transpose());
    EXPECT_LT((got - expected).cwiseAbs().maxCoeff(), 1e-4 * expected.cwiseAbs().maxCoeff());
}

TEST(Cholesky, RefusesWhatIsNotPositiveDefinite) {
    Matrix l;
    MatrixD a = secondMomentLike(200, 0.1, 5);
    a(150, 150) = -1.0;  // in the third block: found after two trailing updates
    EXPECT_FALSE(choleskyFactor(a.cast<float>(), l));
    Matrix nan = Matrix::Identity(4, 4);
    nan(2, 1) = std::numeric_limits<float>::quiet_NaN();
    EXPECT_FALSE(choleskyFactor(nan, l));
    EXPECT_FALSE(choleskyFactor(Matrix::Identity(3, 4), l));
}

}  // namespace
}  // namespace mwb
