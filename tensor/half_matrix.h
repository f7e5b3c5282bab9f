// A matrix kept in IEEE half precision: how large models (a 7B Llama) fit in memory.
// The forward pass multiplies with it directly (matmul.h converts a panel of rows at
// a time, summing exactly as for the float matrix the halves decode to); everything
// else asks for a float copy of one matrix at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/float16.h"
#include "tensor/tensor.h"

namespace mwb {

struct HalfMatrix {
    long rows = 0, cols = 0;
    std::vector<uint16_t> bits;  // row-major, rows * cols

    bool empty() const { return bits.empty(); }
    long size() const { return rows * cols; }

    // Exact: every half is a float.
    Matrix toFloat() const {
        Matrix m(rows, cols);
        halvesToFloats(bits.data(), m.data(), size());
        return m;
    }

    // Rounded to nearest (ties to even).
    static HalfMatrix fromFloat(const Eigen::Ref<const Matrix>& m) {
        HalfMatrix h{m.rows(), m.cols(), std::vector<uint16_t>(size_t(m.size()))};
        for (long r = 0; r < h.rows; ++r)
            for (long c = 0; c < h.cols; ++c) h.bits[size_t(r * h.cols + c)] = floatToHalf(m(r, c));
        return h;
    }
};

}  // namespace mwb
