// The guard every edit gets (issue: "disabling" edits, Gupta et al. 2024): how far
// the weights moved, ||ΔW|| / ||W||, and how much the perplexity of unrelated text
// changed. An edit that wrecks the model shows up in both.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

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
// orthogonal keys, so their spills onto ordinary text add in quadrature: 100 healthy
// MEMIT facts move it by about ten times what one does (demo model: 1.16 for cases
// 480-579 at once, perplexity 3.375 -> 3.452, against 0.10-0.14 for one fact).
// The size rule is judged in the keys' metric, not by ||ΔW|| / ||W||: MEMIT's last
// layer routinely writes 1.4-3.4 x ||W|| into directions ordinary text hardly uses
// (output change 0.07-0.10, perplexity unchanged, on the demo model), while the
// disabling edits r-ROME describes move the output on every text. Demo model: ROME
// and MEMIT edits with the default settings 0.07-0.17; a forced ROME edit (clamp 100,
// lr 5) 0.81 with perplexity 3.38 -> 6.23, another 2.18 with 3.38 -> 5.27.
EditGuard judgeEdit(double weightChange, double outputChange, double perplexityBefore, double perplexityAfter,
                    int facts = 1);

nlohmann::json toJson(const EditGuard& g);

}  // namespace mwb
