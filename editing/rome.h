// ROME: rank-one model editing (Meng et al. 2022, "Locating and Editing Factual
// Associations in GPT", section 3). The MLP's down projection W at one layer is
// treated as a linear associative memory W k ≈ v; a new fact is written by the
// closed-form rank-one update that maps the subject's key k* to a new value v*
// while disturbing other keys least under their second moment C (eq. 2):
//   W' = W + (v* − W k*) (C⁻¹ k*)ᵀ / ((C⁻¹ k*)ᵀ k*).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "editing/value_optimization.h"

namespace mwb {

// Which key the update is solved for. The reference code builds the update
// direction from the prefix-averaged key k* but divides by the bare prompt's key,
// which makes some edits blow up ("disabling edits", Gupta et al. 2024, r-ROME).
enum class KeyMode { Consistent, Original };

// ROME's optimisation of v* (Meng et al. 2022, §3.1, eq. 4): the reference's GPT-2 XL
// hyper-parameters, except that it stops when the target is reached (StopRule::Target),
// within 40 steps, instead of running 20: where ||v|| is small the reference's loss rule
// rarely fires, and δ grows beyond what the target needs at the neighbours' cost.
ValueParams romeValueParams();

struct RomeParams {
    int layer = -1;  // required (>= 0)
    // In a sparse layer, the expert whose down projection is edited; -1: the one the
    // subject's token (the fact token of the bare prompt) is routed to with the largest
    // weight. Its keys are its expert_in, its C its keys' over the tokens routed to it
    // (keySecondMoments), and the update is divided by its mixing weight at the bare
    // prompt, so that the layer's output there still changes by δ.
    int expert = -1;
    FactToken factToken = FactToken::SubjectLast;
    KeyMode keyMode = KeyMode::Consistent;
    KeyContext keyContext = KeyContext::Subject;  // the paper's x_j + s (value_optimization.h)
    ValueParams value = romeValueParams();
    ContextTemplateOptions templates;
    // Ridge added to C before solving, relative to its mean diagonal (0: none).
    double ridge = 1e-6;
};

struct RomeResult {
    int layer = -1;
    int expert = -1;           // the edited expert; -1: the layer's MLP
    double mixingWeight = 1.0; // the expert's weight at the bare prompt's fact token
    std::vector<int> routedExperts;    // the experts that token is routed to there, by weight
    std::vector<float> routedWeights;
    Vector left;   // [dModel]  ΔW = left · rightᵀ (docs/file-format.md naming)
    Vector right;  // [dFf]     = C⁻¹k* / ||C⁻¹k*||
    Vector keyStar;   // [dFf] k*, averaged over the context templates
    Vector keyBare;   // [dFf] the key in the bare prompt
    Vector delta;     // [dModel] optimised change of the MLP output (v* − W k*)
    Vector valueInit; // [dModel] MLP output at the lookup token of the bare prompt
    std::vector<std::string> contextTemplates;
    std::vector<double> loss;  // per optimisation step
    double probTargetInit = 0.0, probTargetFinal = 0.0;  // mean over rewriting prompts
    double weightChange = 0.0;  // ||ΔW||_F / ||W||_F
    double outputChange = 0.0;  // sqrt(E‖ΔW k‖² / E‖W k‖²) over C's keys (second_moments.h)
};

// The key at which the update adds exactly δ: k* with KeyMode::Consistent, else the
// bare prompt's key (the key an edit record keeps for later null-space edits).
inline const Vector& updatedKey(const RomeResult& r, KeyMode mode) {
    return mode == KeyMode::Consistent ? r.keyStar : r.keyBare;
}

// Computes the update (does not change the model). `secondMoment` is C of the
// layer's keys, [dFf x dFf] (an expert's: [dExpert x dExpert], of the expert the
// result names; resolve params.expert first when it is -1: subjectExperts). Throws InvalidInput for a
// subject not in the prompt, an empty target, a layer out of range, a prompt without
// "{}", an expert the subject's token is not routed to.
RomeResult computeRome(const Model& model, const EditRequest& request, const RomeParams& params,
                       MatrixD secondMoment, const ProgressFn& progress = {});

// W += left · rightᵀ on mlp/down of `layer`, or on the down projection of `expert`
// (without a record; see edit_history.h).
void applyRankOne(Model& model, int layer, const Vector& left, const Vector& right, int expert = -1);

nlohmann::json toJson(const RomeResult& r);

}  // namespace mwb
