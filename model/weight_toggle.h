// A set of weight changes that can be switched on and off, restoring the original
// values bit-for-bit when switched off (and on destruction). Ablations and
// quantisation use it so that the model is never left changed.
#pragma once

#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace mwb {

// Not thread-safe: while it is on, the tensors it points into hold the changed values,
// so nothing else may read the model concurrently.
class WeightToggle {
public:
    WeightToggle() = default;
    WeightToggle(WeightToggle&& other) noexcept;
    WeightToggle& operator=(WeightToggle&& other) noexcept;
    WeightToggle(const WeightToggle&) = delete;
    WeightToggle& operator=(const WeightToggle&) = delete;
    ~WeightToggle() { off(); }

    // While on, tensor(row, col) holds `value`. Records the current value as the
    // original, so it must be called while off. Throws InvalidInput on an index out
    // of range or when the tensor is already replaced as a whole.
    void setElement(Matrix& tensor, long row, long col, float value);

    // While on, `tensor` holds `replacement` (same shape; swapped in, no copy).
    // Throws InvalidInput on a shape mismatch or when elements of the tensor are set.
    void replaceMatrix(Matrix& tensor, Matrix replacement);

    void on();
    void off();
    bool isOn() const { return m_on; }
    bool empty() const { return m_elements.empty() && m_swaps.empty(); }

private:
    struct Element {
        float* where;
        float original;
        float changed;
    };
    struct Swap {
        Matrix* tensor;
        Matrix other;  // the replacement while off, the original while on
    };
    bool overlapsSwap(const float* p) const;

    std::vector<Element> m_elements;
    std::vector<Swap> m_swaps;
    bool m_on = false;
};

// Switches a toggle on for the lifetime of the guard (also when an exception leaves the scope).
class ToggleGuard {
public:
    explicit ToggleGuard(WeightToggle& toggle) : m_toggle(toggle) { m_toggle.on(); }
    ~ToggleGuard() { m_toggle.off(); }
    ToggleGuard(const ToggleGuard&) = delete;
    ToggleGuard& operator=(const ToggleGuard&) = delete;

private:
    WeightToggle& m_toggle;
};

}  // namespace mwb
