// Eigen aliases used across the core. Layout rule: one token per row, row-major,
// matching the PyTorch/NumPy arrays stored in the HDF5 files ([out, in] for W).
#pragma once

#include <Eigen/Core>

namespace mwb {

template <typename T>
using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using VectorT = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <typename T>
using RowVectorT = Eigen::Matrix<T, 1, Eigen::Dynamic>;

using Matrix = MatrixT<float>;
using Vector = VectorT<float>;
using RowVector = RowVectorT<float>;
using MatrixD = MatrixT<double>;
using VectorD = VectorT<double>;

}  // namespace mwb
