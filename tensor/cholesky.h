// A Cholesky factorisation and a whitening in float32 whose bulk runs in the matrix
// kernel chosen at run time (matmul.h): blocked, so that all but a sliver of the work is
// products of panels. Eigen's own factorisation runs in the instruction set the build
// was compiled for, which the portable build keeps at SSE2; for a d_ff of thousands the
// blocked float version is several times faster. Float32 loses about cond(A) · 6e-8 of
// relative accuracy: meant for well-conditioned matrices (a second moment with a ridge
// of a tenth of its mean eigenvalue), not for the editors' solves, which stay in double.
#pragma once

#include "tensor/tensor.h"

namespace mwb {

// The lower Cholesky factor L of the symmetric positive definite `a` (only its lower
// triangle is read), A = L Lᵀ, with zeros above the diagonal. Returns false when `a` is
// not positive definite (or not finite).
bool choleskyFactor(const Matrix& a, Matrix& l);

// Y = W L⁻ᵀ for lower-triangular L [f x f] and W [d x f]: the rows of W whitened, so
// that Y Yᵀ = W (L Lᵀ)⁻¹ Wᵀ.
Matrix whitenRows(const Matrix& w, const Matrix& l);

}  // namespace mwb
