// Pieces the inference pass's source files share (transformer.cpp, transformer_moe.cpp):
// applying hooks to the rows being computed, and activations of rows.
#pragma once

#include "model/config.h"
#include "model/hooks.h"
#include "model/transformer.h"

namespace mwb::detail {

// Whether `hooks` patch, capture or want a callback at (site, layer[, expert]).
bool hookWanted(const Hooks& hooks, HookSite site, int layer, int expert = -1);

// Patches, then the callback, then captures at (site, layer[, expert]) of the rows
// [fromPos, fromPos + rows) of `state`: a capture sees the patched value.
void applyHooks(const Hooks& hooks, RunState& state, HookSite site, int layer, int fromPos, Eigen::Ref<Matrix> rows,
                int expert = -1);

// act(x) (or, with a gate, act(gate) * x) of every row of x, rows over the threads. A
// row's values do not depend on where it lies in the matrix.
void activateRows(Activation a, Matrix& x, const Matrix* gate);

}  // namespace mwb::detail
