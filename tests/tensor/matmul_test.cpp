#include "tensor/matmul.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <random>
#include <vector>

#include "tensor/tensor.h"

namespace mwb {
namespace {

Matrix randomMatrix(int rows, int cols, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    Matrix m(rows, cols);
    for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) m(i, j) = d(rng);
    return m;
}

Matrix product(const Matrix& x, const Matrix& w) {
    Matrix y(x.rows(), w.rows());
    matmulTransposed(x.data(), x.cols(), w.data(), w.cols(), y.data(), y.cols(), int(x.rows()), int(w.rows()),
                     int(x.cols()));
    return y;
}

bool bitwiseEqual(const Eigen::Ref<const Matrix>& a, const Eigen::Ref<const Matrix>& b) {
    if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
    for (Eigen::Index i = 0; i < a.rows(); ++i)
        if (std::memcmp(a.row(i).data(), b.row(i).data(), sizeof(float) * a.cols()) != 0) return false;
    return true;
}

// Shapes with every kind of edge: k not a multiple of any SIMD width, n and out
// not multiples of any tile, out spanning several column blocks.
TEST(Matmul, EqualsDoublePrecisionProduct) {
    for (auto [n, out, k] : {std::tuple{1, 1, 1}, {5, 7, 3}, {13, 201, 37}, {64, 130, 128}, {7, 300, 515}}) {
        const Matrix x = randomMatrix(n, k, 1), w = randomMatrix(out, k, 2);
        const MatrixD expected = x.cast<double>() * w.cast<double>().transpose();
        const Matrix y = product(x, w);
        // Float rounding of k products of unit normals: well below 1e-5 * sqrt(k) * k.
        EXPECT_LT((y.cast<double>() - expected).cwiseAbs().maxCoeff(), 1e-5 * k) << n << "x" << out << "x" << k;
    }
}

TEST(Matmul, RowResultDoesNotDependOnTheBatch) {
    const int n = 23, out = 211, k = 133;
    const Matrix x = randomMatrix(n, k, 3), w = randomMatrix(out, k, 4);
    const Matrix all = product(x, w);
    for (int first = 0; first < n; ++first)
        for (int count : {1, 2, 5}) {
            if (first + count > n) continue;
            const Matrix part = product(x.middleRows(first, count), w);
            EXPECT_TRUE(bitwiseEqual(part, all.middleRows(first, count))) << first << "+" << count;
        }
    // Any subset of output rows, with strides (a block of a larger matrix).
    Matrix y = Matrix::Zero(n, out + 5);
    matmulTransposed(x.data(), k, w.data() + 17 * k, k, y.data() + 3, y.cols(), n, 50, k);
    EXPECT_TRUE(bitwiseEqual(y.middleCols(3, 50), all.middleCols(17, 50)));
    // One element alone.
    EXPECT_EQ(dotInvariant(x.row(7).data(), w.row(100).data(), k), all(7, 100));
}

TEST(Matmul, ThreadCountDoesNotChangeTheResult) {
    const Matrix x = randomMatrix(64, 256, 5), w = randomMatrix(1000, 256, 6);
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);
    const Matrix one = product(x, w);
    omp_set_num_threads(2);
    const Matrix two = product(x, w);
    omp_set_num_threads(before);
    EXPECT_TRUE(bitwiseEqual(one, two));
}

TEST(Matmul, EmptyInnerDimensionGivesZeros) {
    Matrix x(3, 0), w(4, 0);
    Matrix y = Matrix::Constant(3, 4, 7.0f);
    matmulTransposed(x.data(), 0, w.data(), 0, y.data(), 4, 3, 4, 0);
    EXPECT_EQ(y.cwiseAbs().maxCoeff(), 0.0f);
}

}  // namespace
}  // namespace mwb
