// Named points in the forward pass where activations can be read or changed: the one
// way to intervene in a pass, taken by the inference pass (transformer.h) and the
// differentiable pass (backprop.h). Sites per layer: resid_pre (block input),
// attn_out, attn_pattern, mlp_in (post-activation MLP hidden vector = input of
// mlp/down, ROME's key), mlp_out, resid_post (block output = next block's
// resid_pre); and embed (layer 0 only): the token (+ position) embeddings, where
// causal tracing adds its noise (Meng et al. 2022 §2.1).
//
// Mixture-of-experts layers (docs/mixture-of-experts.md) have, instead of mlp_in:
// router_logits ([rows x nExperts], before the softmax; a patch changes the routing),
// and per expert (the `expert` field) expert_in (the expert's act(gate x) * up x, its
// key) and expert_out (its down projection's output, before the mixing weight). Rows
// of tokens not routed to the expert are zero there and a patch of them has no effect;
// expert nExperts is the shared expert (every token; expert_out before its sigmoid
// gate). mlp_out of a sparse layer is the mixture's output.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mwb {

enum class HookSite { ResidPre, AttnOut, AttnPattern, MlpIn, MlpOut, ResidPost, Embed, RouterLogits, ExpertIn, ExpertOut };

// Whether a site belongs to one expert (HookPoint, Patch and Capture name it).
inline bool isExpertSite(HookSite s) { return s == HookSite::ExpertIn || s == HookSite::ExpertOut; }

std::string toString(HookSite s);
HookSite parseHookSite(const std::string& s);  // throws InvalidInput

// Where a hook is called: rows hold positions [firstPos, nTokens).
// For AttnPattern the matrix is [nHeads * nRows, nTokens], head-major: row
// h * nRows + i is the attention of query firstPos + i in head h.
struct HookPoint {
    HookSite site;
    int layer;
    int firstPos;
    int expert = -1;  // expert sites only
};

enum class PatchMode { Replace, Add };

// Replace or add to one position's activation at one (site, layer). Not for AttnPattern.
struct Patch {
    HookSite site;
    int layer;
    int pos;
    Vector value;
    PatchMode mode = PatchMode::Replace;
    int expert = -1;  // expert sites only
};

// Keep a copy of an activation; lands in RunState::captured (expert sites:
// RunState::capturedExperts).
struct Capture {
    HookSite site;
    int layer;
    int expert = -1;  // expert sites only
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
