// ROME: rank-one model editing (Meng et al. 2022, "Locating and Editing Factual
// Associations in GPT", section 3). The MLP's down projection W at one layer is
// treated as a linear associative memory W k ≈ v; a new fact is written by the
// closed-form rank-one update that maps the subject's key k* to a new value v*
// while disturbing other keys least under their second moment C (eq. 2):
//   W' = W + (v* − W k*) (C⁻¹ k*)ᵀ / ((C⁻¹ k*)ᵀ k*).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "editing/context_templates.h"
#include "model/model.h"
#include "model/progress.h"
#include "model/tensor.h"

namespace mwb {

// Which token of the prompt the fact is read from and written to (the reference
// code's fact_token).
enum class FactToken { SubjectLast, SubjectFirst, Last };
std::string toString(FactToken f);
FactToken parseFactToken(const std::string& s);

// Which key the update is solved for. The reference code builds the update
// direction from the prefix-averaged key k* but divides by the bare prompt's key,
// which makes some edits blow up ("disabling edits", Gupta et al. 2024, r-ROME).
enum class KeyMode { Consistent, Original };

struct EditRequest {
    std::string prompt;  // "{} is located in the city of"
    std::string subject;
    std::string targetNew;
    std::string targetTrue;  // optional, recorded with the edit
};

struct RomeParams {
    int layer = -1;  // required (>= 0) by computeRome
    FactToken factToken = FactToken::SubjectLast;
    KeyMode keyMode = KeyMode::Consistent;
    // Value optimisation (the reference's GPT-2 XL hyper-parameters).
    int steps = 20;
    double learningRate = 0.5;
    double klFactor = 0.0625;
    double weightDecay = 0.5;
    double clampNormFactor = 4.0;
    double stopLoss = 5e-2;
    ContextTemplateOptions templates;
    // Ridge added to C before solving, relative to its mean diagonal (0: none).
    double ridge = 1e-6;
};

struct RomeResult {
    int layer = -1;
    Vector left;   // [dModel]  ΔW = left · rightᵀ (spec/model-format.md naming)
    Vector right;  // [dFf]     = C⁻¹k* / ||C⁻¹k*||
    Vector keyStar;   // [dFf] k*, averaged over the context templates
    Vector keyBare;   // [dFf] the key in the bare prompt
    Vector delta;     // [dModel] optimised change of the MLP output
    Vector valueInit; // [dModel] MLP output at the lookup token of the bare prompt
    std::vector<std::string> contextTemplates;
    std::vector<double> loss;  // per optimisation step
    double probTargetInit = 0.0, probTargetFinal = 0.0;  // mean over rewriting prompts
    double weightChange = 0.0;  // ||ΔW||_F / ||W||_F
};

// Computes the update (does not change the model). `secondMoment` is C of the
// layer's keys, [dFf x dFf]. Throws InvalidInput for a subject not in the prompt, an
// empty target, a layer out of range, a prompt without "{}".
RomeResult computeRome(const Model& model, const EditRequest& request, const RomeParams& params,
                       const MatrixD& secondMoment, const ProgressFn& progress = {});

// The rank-one update applied to W (the edit record keeps left/right).
void applyRankOne(Model& model, int layer, const Vector& left, const Vector& right);

nlohmann::json toJson(const RomeResult& r);

}  // namespace mwb
