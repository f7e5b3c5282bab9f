// Named points in the forward pass where activations can be read or changed: the one
// way to intervene in a pass, taken by the inference pass (transformer.h) and the
// differentiable pass (backprop.h). Sites per layer: resid_pre (block input),
// attn_out, attn_pattern, mlp_in (post-activation MLP hidden vector = input of
// mlp/down, ROME's key), mlp_out, resid_post (block output = next block's
// resid_pre); and embed (layer 0 only): the token (+ position) embeddings, where
// causal tracing adds its noise (Meng et al. 2022 §2.1).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mwb {

enum class HookSite { ResidPre, AttnOut, AttnPattern, MlpIn, MlpOut, ResidPost, Embed };

std::string toString(HookSite s);
HookSite parseHookSite(const std::string& s);  // throws InvalidInput

// Where a hook is called: rows hold positions [firstPos, nTokens).
// For AttnPattern the matrix is [nHeads * nRows, nTokens], head-major: row
// h * nRows + i is the attention of query firstPos + i in head h.
struct HookPoint {
    HookSite site;
    int layer;
    int firstPos;
};

enum class PatchMode { Replace, Add };

// Replace or add to one position's activation at one (site, layer). Not for AttnPattern.
struct Patch {
    HookSite site;
    int layer;
    int pos;
    Vector value;
    PatchMode mode = PatchMode::Replace;
};

// Keep a copy of an activation; lands in RunState::captured.
struct Capture {
    HookSite site;
    int layer;
};

struct Hooks {
    std::vector<Patch> patches;
    std::vector<Capture> captures;
    // Called at every site (after patches are applied); may read and modify the rows.
    std::function<void(const HookPoint&, Eigen::Ref<Matrix>)> callback;
    // Which sites the callback wants; empty means all (the pattern costs a copy).
    std::function<bool(HookSite, int layer)> wants;

    bool empty() const { return patches.empty() && captures.empty() && !callback; }
};

}  // namespace mwb
