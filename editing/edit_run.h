// One edit from request to record: the second-moment statistics of the edited
// layers, ROME (one fact, one layer) or MEMIT (any number of facts over several
// layers), and the record in model.edits (edit_history.h) that makes it undoable.
// The command line and the workbench both edit through here.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "editing/context_templates.h"
#include "editing/rome.h"
#include "editing/second_moments.h"
#include "editing/value_optimization.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

enum class EditMethod { Rome, Memit };
std::string toString(EditMethod m);
EditMethod parseEditMethod(const std::string& s);  // "rome" or "memit"

// The optimisation of v* (ROME, romeValueParams) or of the targets z (MEMIT,
// memitValueParams: the reference's rule, which stops on the whole loss; stopping on
// the target delivers fewer of a batch's facts).
ValueParams defaultValueParams(EditMethod m);

struct EditSpec {
    EditMethod method = EditMethod::Rome;
    std::vector<int> layers;  // ROME: exactly one; MEMIT: ascending, one or more
    // ROME in a sparse layer: the expert to edit; -1: the one the subject's token is
    // routed to with the largest weight (RomeParams::expert).
    int expert = -1;
    FactToken factToken = FactToken::SubjectLast;
    KeyMode keyMode = KeyMode::Consistent;  // ROME
    // Where k* is read; unset: the method's default (ROME: the paper's subject
    // context, MEMIT: the reference code's prompt; rome.h, memit.h).
    std::optional<KeyContext> keyContext;
    std::optional<ValueParams> value;  // unset: the method's (defaultValueParams)
    // Context templates (prefix lengths are shortened to fit small contexts). Unset:
    // the method's reference settings (ROME's defaults, memitContextTemplates()) with
    // the two fields below.
    std::optional<ContextTemplateOptions> templates;
    uint64_t templateSeed = 0;
    bool subjectTokensAsInPrompt = true;
    double momentWeight = 0.0;         // MEMIT's λ; <= 0: defaultMomentWeight (memit.h)
    bool nullSpace = false;            // MEMIT: AlphaEdit's projection
    double nullSpaceThreshold = 1e-2;  // MEMIT + nullSpace (memit.h)
    bool nullSpaceThresholdIsAbsolute = false;
    double nullSpaceL2 = 1.0;
    bool separateSubjectValues = false;  // MEMIT: one δ per request even for a shared subject (memit.h)
    int passes = 1;                      // MEMIT: iterative editing (memit.h)
    SecondMomentOptions stats;
    // C of the model's current weights, which every edit of a lower layer changes
    // (recomputed after each such edit in sequential editing), or of the model before
    // its recorded edits (the reference code's: statistics computed once per model).
    // The current weights' keep more of the earlier edits in a long sequence
    // (docs/editing.md, "Second-moment statistics").
    bool statsOfUneditedModel = false;
};

struct EditRun {
    EditRecord record;          // as appended to model.edits
    double weightChange = 0.0;  // ||ΔW|| / ||W||, summed over the edited layers
    double outputChange = 0.0;  // sqrt(E‖ΔW k‖² / E‖W k‖²) on the statistics' keys, summed likewise
    nlohmann::json details;     // the method's result (toJson of RomeResult / MemitResult)
};

// The keys of every edit recorded in `model` that changed `layer` (or its expert
// `expert`), side by side [width x m]: what a null-space edit must leave in place
// (AlphaEdit's K_p).
MatrixD earlierEditKeys(const Model& model, int layer, int expert = -1);

// MEMIT's default layers: `last` and the two below it (clipped at 0).
std::vector<int> memitLayersEndingAt(int last, int count = 3);

// Exactly `count` layers ending at `last`, all inside a model of `nLayers` layers; throws
// InvalidInput in one sentence naming the layers otherwise (a form that asks for three
// MEMIT layers ending at layer 0 must not quietly edit one).
std::vector<int> memitLayersExactly(int last, int count, int nLayers);

// Edits `model` in place and records the edit. `corpus` is the text for the
// statistics (cached on disk, see second_moments.h). Throws InvalidInput for bad
// requests or layers, Cancelled when progress says stop (the model is unchanged
// then).
EditRun runEdit(Model& model, const std::vector<EditRequest>& requests, const EditSpec& spec,
                const std::string& corpus, const ProgressFn& progress = {});

}  // namespace mwb
