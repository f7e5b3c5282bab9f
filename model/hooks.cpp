#include "model/hooks.h"

#include "tensor/errors.h"

namespace mwb {

namespace {
constexpr const char* kSiteNames[] = {"resid_pre", "attn_out", "attn_pattern",
                                      "mlp_in",    "mlp_out",  "resid_post"};
}

std::string toString(HookSite s) { return kSiteNames[static_cast<int>(s)]; }

HookSite parseHookSite(const std::string& s) {
    for (int i = 0; i < 6; ++i)
        if (s == kSiteNames[i]) return static_cast<HookSite>(i);
    throw InvalidInput("unknown hook site '" + s +
                       "' (expected resid_pre, attn_out, attn_pattern, mlp_in, mlp_out or resid_post)");
}

}  // namespace mwb
