// A CounterFact run as `mwb eval` does it by default: each group of cases (one case, or
// a MEMIT batch) edited into the unedited model, every case measured before and after,
// the edit undone. Groups are independent, so they are the shards a job splits over
// ranks.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/shard_job.h"
#include "data/datasets.h"
#include "editing/evaluation.h"
#include "editing/value_optimization.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

// How its group's edit moved the routing of a model with experts, on a case's rewrite
// prompt and neighbourhood prompts (editing/routing_change.h): places are (sparse layer,
// token) pairs, changed where the set of chosen experts differs.
struct CaseRouting {
    int subjectLayersChanged = 0;  // sparse layers whose choice changed at the rewrite prompt's subject token
    long rewritePlaces = 0, rewriteChanged = 0;
    int neighbourPrompts = 0, neighbourPromptsChanged = 0;  // prompts with any change
    long neighbourPlaces = 0, neighbourChanged = 0;
};

struct CaseOutcome {
    CaseMetrics unedited, edited;
    std::vector<int> layers;  // the layers its group's edit changed
    std::optional<CaseRouting> routing;  // models with experts
};

// The sums over the cases that have them (absent: none has), and as JSON with the
// shares of changed places.
std::optional<CaseRouting> totalRouting(const std::vector<CaseOutcome>& outcomes);
nlohmann::json toJson(const CaseRouting& r);

// Applies one edit of `requests` to `model` (recorded, so that undoLastEdit removes it)
// and returns the layers it changed.
using GroupEdit = std::function<std::vector<int>(Model& model, const std::vector<EditRequest>& requests)>;

// The outcome of every case, in the cases' order; groups of `group` consecutive cases.
// The model is as it was on return (each edit undone). With `run` over several ranks
// (inside cluster::runAgreed), the groups are split over them and the outcomes,
// identical bit for bit to one process's, are on rank 0; the other ranks return an
// empty list. `run.identity` should name the editing options (the checkpoint's
// manifest): the library sees only `edit`.
std::vector<CaseOutcome> evaluateEditGroups(Model& model, const std::vector<CounterFactCase>& cases,
                                            size_t group, const EvalOptions& options, const GroupEdit& edit,
                                            const ProgressFn& progress = {}, const cluster::ShardRun& run = {});

}  // namespace mwb
