#include "tensor/cholesky.h"

#include <Eigen/Cholesky>
#include <algorithm>

#include "tensor/matmul.h"

namespace mwb {

namespace {

// Columns per block: the triangular solves inside a block run in Eigen, the products
// between blocks in the matrix kernel; 128 keeps the former a few percent of the work.
constexpr long kBlock = 128;

}  // namespace

bool choleskyFactor(const Matrix& a, Matrix& l) {
    const long n = a.rows();
    if (a.cols() != n) return false;
    l = a.triangularView<Eigen::Lower>();
    Matrix product;
    for (long c0 = 0; c0 < n; c0 += kBlock) {
        const long c1 = std::min(n, c0 + kBlock), nb = c1 - c0, below = n - c1;
        // The diagonal block, factorised in double (it is small).
        MatrixD diagonal = l.block(c0, c0, nb, nb).cast<double>();
        const Eigen::LLT<MatrixD, Eigen::Lower> llt(diagonal);
        if (llt.info() != Eigen::Success || !llt.matrixLLT().allFinite()) return false;
        const Matrix l11 = MatrixD(llt.matrixL()).cast<float>();
        l.block(c0, c0, nb, nb) = l11;
        if (below == 0) break;
        // The panel below it: L21 = A21 L11⁻ᵀ.
        Matrix panel = l.block(c1, c0, below, nb);
        l11.transpose().triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(panel);
        l.block(c1, c0, below, nb) = panel;
        // The trailing lower triangle: A22 −= L21 L21ᵀ, one block of rows at a time, each
        // up to its diagonal.
        for (long r0 = 0; r0 < below; r0 += kBlock) {
            const long r1 = std::min(below, r0 + kBlock);
            product.resize(r1 - r0, r1);
            matmulTransposed(panel.data() + r0 * nb, nb, panel.data(), nb, product.data(), r1, int(r1 - r0),
                             int(r1), int(nb));
            l.block(c1 + r0, c1, r1 - r0, r1) -= product;
        }
    }
    l.triangularView<Eigen::StrictlyUpper>().setZero();
    return l.allFinite();
}

Matrix whitenRows(const Matrix& w, const Matrix& l) {
    const long f = l.rows(), d = w.rows();
    Matrix y(d, f);
    Matrix earlier;
    for (long c0 = 0; c0 < f; c0 += kBlock) {
        const long c1 = std::min(f, c0 + kBlock), nb = c1 - c0;
        // Y_i L_iiᵀ = W_i − Σ_{j<i} Y_j L_ijᵀ.
        Matrix block = w.middleCols(c0, nb);
        if (c0 > 0) {
            earlier.resize(d, nb);
            matmulTransposed(y.data(), f, l.data() + c0 * f, f, earlier.data(), nb, int(d), int(nb), int(c0));
            block -= earlier;
        }
        const Matrix lii = l.block(c0, c0, nb, nb);
        lii.transpose().triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(block);
        y.middleCols(c0, nb) = block;
    }
    return y;
}

}  // namespace mwb
