// Whether an edit moved the routing of a mixture-of-experts model: an edit of one
// expert at layer l changes the residual stream above l wherever the expert is used,
// and so may change which experts later layers choose, for the subject and for other
// prompts (docs/mixture-of-experts.md, "Editing experts"). Routing at layers <= l
// cannot change (it is computed before the edited projection).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"

namespace mwb {

// The experts every token of some prompts is routed to, per sparse layer.
struct RoutingSnapshot {
    std::vector<std::string> prompts;
    std::vector<std::vector<int>> ids;  // per prompt (promptIds: with BOS where the model adds one)
    // [prompt][sparse layer][position]: the chosen experts, largest weight first.
    std::vector<std::vector<std::vector<std::vector<int>>>> experts;
};

// Runs `model` on each prompt. Throws InvalidInput for a model without experts and for
// a prompt the model cannot run.
RoutingSnapshot routingSnapshot(const Model& model, const std::vector<std::string>& prompts);

// A place (sparse layer, position) whose set of chosen experts differs.
struct RoutingChangeAt {
    int layer = 0, position = 0;
    std::vector<int> before, after;  // largest weight first
};

struct PromptRoutingChange {
    std::string prompt;
    long places = 0;  // sparse layers × tokens
    std::vector<RoutingChangeAt> changes;
};

struct RoutingChange {
    std::vector<PromptRoutingChange> prompts;
    long places() const;
    long changed() const;
    int promptsChanged() const;  // prompts with at least one change
};

// The places whose chosen experts differ as a set (a change of their order alone, the
// weights moving past each other, is not counted). The snapshots must be of the same
// prompts in models of one shape (InvalidInput otherwise).
RoutingChange routingChange(const RoutingSnapshot& before, const RoutingSnapshot& after, const ModelConfig& config);

// {"places": n, "changed": m, "prompts_changed": p, "prompts": [{"prompt", "places",
// "changes": [{"layer", "position", "before": [...], "after": [...]}]}]}
nlohmann::json toJson(const RoutingChange& change);

}  // namespace mwb
