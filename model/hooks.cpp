#include "model/hooks.h"

#include "tensor/errors.h"

namespace mwb {

namespace {
constexpr const char* kSiteNames[] = {"resid_pre", "attn_out",   "attn_pattern", "mlp_in",
                                      "mlp_out",   "resid_post", "embed",        "router_logits",
                                      "expert_in", "expert_out"};
constexpr int kSites = sizeof(kSiteNames) / sizeof(kSiteNames[0]);
}

std::string toString(HookSite s) { return kSiteNames[static_cast<int>(s)]; }

HookSite parseHookSite(const std::string& s) {
    for (int i = 0; i < kSites; ++i)
        if (s == kSiteNames[i]) return static_cast<HookSite>(i);
    throw InvalidInput("unknown hook site " + quote(s) +
                       " (expected embed, resid_pre, attn_out, attn_pattern, mlp_in, mlp_out, resid_post, router_logits, "
                       "expert_in or expert_out)");
}

}  // namespace mwb
