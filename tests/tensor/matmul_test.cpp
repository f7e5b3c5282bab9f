#include "tensor/matmul.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <map>
#include <string>
#include <random>
#include <vector>

#include "tensor/errors.h"
#include "tensor/half_matrix.h"
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

Matrix productWith(const std::string& isa, const Matrix& x, const Matrix& w) {
    Matrix y(x.rows(), w.rows());
    matmulTransposedWith(isa, x.data(), x.cols(), w.data(), w.cols(), y.data(), y.cols(), int(x.rows()),
                         int(w.rows()), int(x.cols()));
    return y;
}

// Every kernel the CPU has: rows do not depend on the batch (one row alone takes the
// direct path, more rows the packed one), AVX2 and AVX-512 agree bit for bit (both sum
// each output with FMA in k order), SSE2 (multiply, then add) agrees to rounding.
TEST(Matmul, EveryKernelIsBatchInvariantAndTheFusedOnesAgree) {
    const int n = 19, out = 150, k = 77;
    const Matrix x = randomMatrix(n, k, 8), w = randomMatrix(out, k, 9);
    const MatrixD expected = x.cast<double>() * w.cast<double>().transpose();
    std::map<std::string, Matrix> results;
    for (const std::string isa : {"sse2", "avx2", "avx512"}) {
        if (!matmulIsaAvailable(isa)) continue;
        const Matrix all = productWith(isa, x, w);
        EXPECT_LT((all.cast<double>() - expected).cwiseAbs().maxCoeff(), 1e-5 * k) << isa;
        for (int first = 0; first < n; first += 3)
            for (int count : {1, 2, 7}) {
                if (first + count > n) continue;
                EXPECT_TRUE(bitwiseEqual(productWith(isa, x.middleRows(first, count), w), all.middleRows(first, count)))
                    << isa << " " << first << "+" << count;
            }
        results[isa] = all;
    }
    ASSERT_TRUE(results.count("sse2"));
    if (results.count("avx2") && results.count("avx512")) EXPECT_TRUE(bitwiseEqual(results["avx2"], results["avx512"]));
    if (results.count("avx2")) {
        EXPECT_FALSE(bitwiseEqual(results["sse2"], results["avx2"]));  // the roundings do differ
        EXPECT_LT((results["sse2"] - results["avx2"]).cwiseAbs().maxCoeff(), 1e-5f * k);
    }
    EXPECT_THROW(productWith("avx1024", x, w), InvalidInput);
}

// 16-bit weights are decoded inside the product: the result is the float product of
// the decoded matrix, bit for bit, for IEEE half and bfloat16 and one row or many.
TEST(Matmul, HalfAndBfloat16WeightsGiveTheProductOfTheirFloats) {
    const int out = 70, k = 45;
    const Matrix x = randomMatrix(9, k, 10), w = randomMatrix(out, k, 11);
    for (HalfFormat format : {HalfFormat::Float16, HalfFormat::BFloat16}) {
        const HalfMatrix h = HalfMatrix::fromFloat(w, format);
        const Matrix decoded = h.toFloat();
        EXPECT_GT((decoded - w).cwiseAbs().maxCoeff(), 0.0f);  // rounding happened
        for (int n : {1, 9}) {
            Matrix got(n, out);
            matmulTransposed(x.data(), k, h.bits.data(), format, k, got.data(), out, n, out, k);
            EXPECT_TRUE(bitwiseEqual(got, product(x.topRows(n), decoded))) << n;
        }
    }
}

// x · w with w stored [k][out] sums exactly as x · (its transpose)ᵀ.
TEST(Matmul, UntransposedWeightsGiveTheSameBits) {
    for (auto [n, out, k] : {std::tuple{1, 9, 5}, {7, 64, 40}, {13, 70, 129}}) {
        const Matrix x = randomMatrix(n, k, 12), w = randomMatrix(k, out + 3, 13);
        Matrix y(n, out);
        matmul(x.data(), k, w.data(), w.cols(), y.data(), out, n, out, k);
        const Matrix wt = w.leftCols(out).transpose();
        EXPECT_TRUE(bitwiseEqual(y, product(x, wt))) << n << "x" << out << "x" << k;
    }
}

// Weights packed once multiply to the same bits as weights packed per product: for
// few rows (which the per-product path multiplies 64 steps of k at a time), many rows,
// outputs that fill no whole panel, with a row stride wider than the matrix, and for
// 16-bit weights.
TEST(Matmul, WeightsPackedOnceGiveTheSameBits) {
    for (auto [n, out, k] : {std::tuple{1, 1, 1}, {1, 300, 515}, {5, 70, 200}, {6, 17, 64}, {7, 130, 129},
                              {64, 1000, 96}}) {
        const Matrix x = randomMatrix(n, k, 14), wide = randomMatrix(out, k + 5, 15);
        const Matrix w = wide.leftCols(k);
        const PackedMatrix packed(wide.data(), wide.cols(), out, k);
        EXPECT_EQ(packed.outFeatures(), out);
        EXPECT_EQ(packed.inFeatures(), k);
        Matrix got = Matrix::Constant(n, out, 7.0f);
        packed.multiply(x.data(), k, got.data(), out, n);
        EXPECT_TRUE(bitwiseEqual(got, product(x, w))) << n << "x" << out << "x" << k;
    }
    const int out = 70, k = 45;
    const Matrix x = randomMatrix(3, k, 16), w = randomMatrix(out, k, 17);
    for (HalfFormat format : {HalfFormat::Float16, HalfFormat::BFloat16}) {
        const HalfMatrix h = HalfMatrix::fromFloat(w, format);
        const PackedMatrix packed(h.bits.data(), format, k, out, k);
        Matrix got(3, out);
        packed.multiply(x.data(), k, got.data(), out, 3);
        EXPECT_TRUE(bitwiseEqual(got, product(x, h.toFloat())));
    }
}

TEST(Matmul, TheKernelInUseIsNamed) {
    const std::string isa = matmulIsa();
    EXPECT_TRUE(isa == "sse2" || isa == "avx2" || isa == "avx512") << isa;
    EXPECT_TRUE(matmulIsaAvailable(isa));
}

}  // namespace
}  // namespace mwb
