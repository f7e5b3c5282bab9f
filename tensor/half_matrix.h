// A matrix kept in 16 bits, IEEE half or bfloat16: how large models (a 7B Llama) fit
// in memory. The forward pass multiplies with it directly (matmul.h converts a panel
// of rows at a time, summing exactly as for the float matrix the halves decode to);
// everything else asks for a float copy of one matrix at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/bfloat16.h"
#include "tensor/float16.h"
#include "tensor/matmul.h"
#include "tensor/tensor.h"

namespace mwb {

struct HalfMatrix {
    long rows = 0, cols = 0;
    std::vector<uint16_t> bits;  // row-major, rows * cols
    HalfFormat format = HalfFormat::Float16;

    bool empty() const { return bits.empty(); }
    long size() const { return rows * cols; }

    // Exact: every half and every bfloat16 is a float.
    Matrix toFloat() const {
        Matrix m(rows, cols);
        if (format == HalfFormat::Float16) {
            halvesToFloats(bits.data(), m.data(), size());
        } else {
            for (long i = 0; i < size(); ++i) m.data()[i] = bfloat16ToFloat(bits[size_t(i)]);
        }
        return m;
    }

    // Rounded to nearest (ties to even).
    static HalfMatrix fromFloat(const Eigen::Ref<const Matrix>& m, HalfFormat format = HalfFormat::Float16) {
        HalfMatrix h{m.rows(), m.cols(), std::vector<uint16_t>(size_t(m.size())), format};
        for (long r = 0; r < h.rows; ++r)
            for (long c = 0; c < h.cols; ++c)
                h.bits[size_t(r * h.cols + c)] =
                    format == HalfFormat::Float16 ? floatToHalf(m(r, c)) : floatToBfloat16(m(r, c));
        return h;
    }
};

}  // namespace mwb
