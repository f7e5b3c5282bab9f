#include "model/weight_toggle.h"

#include <string>

#include "tensor/errors.h"

namespace mwb {

WeightToggle::WeightToggle(WeightToggle&& other) noexcept
    : m_elements(std::move(other.m_elements)), m_swaps(std::move(other.m_swaps)), m_on(other.m_on) {
    other.m_elements.clear();
    other.m_swaps.clear();
    other.m_on = false;
}

WeightToggle& WeightToggle::operator=(WeightToggle&& other) noexcept {
    if (this != &other) {
        off();
        m_elements = std::move(other.m_elements);
        m_swaps = std::move(other.m_swaps);
        m_on = other.m_on;
        other.m_elements.clear();
        other.m_swaps.clear();
        other.m_on = false;
    }
    return *this;
}

bool WeightToggle::overlapsSwap(const float* p) const {
    for (const Swap& s : m_swaps) {
        const float* begin = s.tensor->data();
        if (p >= begin && p < begin + s.tensor->size()) return true;
    }
    return false;
}

void WeightToggle::setElement(Matrix& tensor, long row, long col, float value) {
    MWB_CHECK(!m_on);
    if (row < 0 || row >= tensor.rows() || col < 0 || col >= tensor.cols())
        throw InvalidInput("weight (" + std::to_string(row) + ", " + std::to_string(col) +
                           ") is outside the matrix of " + std::to_string(tensor.rows()) + " x " +
                           std::to_string(tensor.cols()));
    float* where = &tensor(row, col);
    if (overlapsSwap(where))
        throw InvalidInput("a weight of a matrix that is replaced as a whole cannot also be set");
    m_elements.push_back({where, *where, value});
}

void WeightToggle::replaceMatrix(Matrix& tensor, Matrix replacement) {
    MWB_CHECK(!m_on);
    if (replacement.rows() != tensor.rows() || replacement.cols() != tensor.cols())
        throw InvalidInput("a replacement of " + std::to_string(replacement.rows()) + " x " +
                           std::to_string(replacement.cols()) + " does not fit a matrix of " +
                           std::to_string(tensor.rows()) + " x " + std::to_string(tensor.cols()));
    const float* begin = tensor.data();
    for (const Element& e : m_elements)
        if (e.where >= begin && e.where < begin + tensor.size())
            throw InvalidInput("a matrix whose single weights are set cannot also be replaced");
    for (const Swap& s : m_swaps)
        if (s.tensor == &tensor) throw InvalidInput("the same matrix is replaced twice");
    m_swaps.push_back({&tensor, std::move(replacement)});
}

void WeightToggle::on() {
    if (m_on) return;
    for (Swap& s : m_swaps) s.tensor->swap(s.other);
    for (const Element& e : m_elements) *e.where = e.changed;
    m_on = true;
}

void WeightToggle::off() {
    if (!m_on) return;
    // Reverse order, so that a weight listed twice ends at its first recorded original.
    for (auto it = m_elements.rbegin(); it != m_elements.rend(); ++it) *it->where = it->original;
    for (auto it = m_swaps.rbegin(); it != m_swaps.rend(); ++it) it->tensor->swap(it->other);
    m_on = false;
}

}  // namespace mwb
