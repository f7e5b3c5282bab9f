// The guard every edit gets, against "disabling" edits (Gupta et al. 2024, r-ROME):
// how far the weights moved, ||ΔW|| / ||W||, how far the edited layers' output on
// ordinary text moved, and how much the perplexity of unrelated text changed. An edit
// that wrecks the model shows up in the last two.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "editing/edit_run.h"
#include "model/model.h"

namespace mwb {

struct EditGuard {
    double weightChange = 0.0;  // ||ΔW|| / ||W|| summed over the edited layers
    // How far the edited layers' outputs move on ordinary text, relative to those
    // outputs: sqrt(E‖ΔW k‖² / E‖W k‖²) over the statistics' keys, summed over layers.
    double outputChange = 0.0;
    double outputChangeLimit = 0.5;  // above it the edit counts as destructive (judgeEdit)
    double perplexityBefore = 0.0, perplexityAfter = 0.0;  // 0: no sample text
    bool destructive = false;
    std::string warning;  // one sentence when destructive
};

// Perplexity of the model on the first maxTokens tokens of `sample` (0 for an empty sample).
double samplePerplexity(const Model& model, const std::string& sample, long maxTokens = 4000);

// Destructive: perplexity up by more than 10%, or an update that moves the layers'
// output on ordinary text by more than half that output's size per √facts edited at
// once (outputChange > 0.5 √facts). A batch's updates lie along its facts' own, nearly
// orthogonal keys, so their spills onto ordinary text add in quadrature.
// The size rule is judged in the keys' metric, not by ||ΔW|| / ||W||: MEMIT's last
// layer routinely writes an update larger than W into directions ordinary text hardly
// uses without moving perplexity, while the disabling edits r-ROME describes move the
// output on every text.
EditGuard judgeEdit(double weightChange, double outputChange, double perplexityBefore, double perplexityAfter,
                    int facts = 1);

struct GuardedEdit {
    EditRun run;
    EditGuard guard;
};

// runEdit (edit_run.h) with its guard: the perplexity of the first guardTokens tokens
// of `sample` before and after the edit (none for an empty sample), judged with the
// edit's weight and output change for requests.size() facts.
GuardedEdit runGuardedEdit(Model& model, const std::vector<EditRequest>& requests, const EditSpec& spec,
                           const std::string& corpus, const std::string& sample, long guardTokens = 4000,
                           const ProgressFn& progress = {});

nlohmann::json toJson(const EditGuard& g);

}  // namespace mwb
