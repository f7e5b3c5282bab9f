// The part ROME and MEMIT share: place an edit request in the context templates,
// read the subject's keys there, and find by gradient descent the change δ of a
// layer's output at the subject that makes the model say the new target
// (Meng et al. 2022 §3.1, "v*"; Meng et al. 2023 §4.2, "z_i"):
//   minimise  mean NLL(target | templated prompt, δ) + λ_KL · KL(essence prompt)
//             + wd · ||δ|| / ||v_init||²,   with ||δ|| <= clamp · ||v_init||.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "editing/context_templates.h"
#include "model/model.h"
#include "tensor/progress.h"
#include "tensor/tensor.h"

namespace mwb {

// Which token of the prompt the fact is read from and written to (the reference
// code's fact_token).
enum class FactToken { SubjectLast, SubjectFirst, Last };
std::string toString(FactToken f);
FactToken parseFactToken(const std::string& s);

// Where k* is read. The paper averages the subject's key after each prefix, without
// the relation's words (Meng et al. 2022 §3.1, eq. 3: k* = mean_j k(x_j + s); MEMIT,
// Meng et al. 2023 eq. 19, the same); the reference code reads it in the whole
// templated prompt, x_j + p. In a prompt where the subject follows the relation's
// words ("The main language spoken in {} is") the prompt's key carries those words,
// and an update written for it reaches other subjects in the same prompt.
enum class KeyContext { Subject, Prompt };
std::string toString(KeyContext c);
KeyContext parseKeyContext(const std::string& s);

struct EditRequest {
    std::string prompt;  // "{} is located in the city of"
    std::string subject;
    std::string targetNew;
    std::string targetTrue;  // optional, recorded with the edit
};

// Throws InvalidInput unless the prompt has "{}", the subject and target are not
// empty and the subject does not contain "{}".
void validateRequest(const EditRequest& request);

// When the optimisation stops before its step limit: once the whole loss is below
// ValueParams::stopLoss (the reference code's rule), or once the target is reached,
// its mean NLL below stopLoss (p ≈ 0.95), in the templated prompts and, for ROME, in
// the bare prompt as the update will deliver it (optimizeValue). The two agree where
// ||v|| is large; where it is small (the demo model's layer 0: ||v|| ≈ 20)
// the decay term wd · ||δ|| / ||v||² alone keeps the loss near 0.05, and the reference's rule
// runs every step, growing δ past what the target needs.
enum class StopRule { Loss, Target };
StopRule parseStopRule(const std::string& s);

struct ValueParams {
    int steps = 20;
    double learningRate = 0.5;
    double klFactor = 0.0625;
    double weightDecay = 0.5;
    double clampNormFactor = 4.0;
    double stopLoss = 5e-2;
    StopRule stopRule = StopRule::Loss;
    // Above this many bytes of activations for the layers run backward (gigabytes on a
    // 7B model), they are recomputed instead of kept: one more forward pass per step.
    double activationBudgetBytes = 1024.0 * 1024 * 1024;
};

// Throws InvalidInput unless the optimisation's parameters can be used (steps, learning
// rate, clamp, KL factor, weight decay); optimizeSharedValue checks them too, callers
// earlier, before any work.
void validateValueParams(const ValueParams& params);

// The request's prompt in every context template: token ids and the lookup index.
// The first template must be the bare "{}". With `subjectTokensAsInPrompt`, a
// template whose prefix would change how the subject is split into tokens (a
// subject opening the prompt gets a leading space after "<prefix>. ") is joined to
// the prompt with a line break instead, so that k* averages keys of the same tokens
// the prompt has; the reference code always joins with the space.
struct PlacedRequest {
    std::vector<std::vector<int>> ids;  // [0] is the bare prompt ("{}" template)
    std::vector<int> lookup;
};
PlacedRequest placeRequest(const Model& model, const EditRequest& request,
                           const std::vector<std::string>& templates, FactToken factToken,
                           bool subjectTokensAsInPrompt = true);

// The subject alone after each context template's prefix (x_j + s), in the tokens the
// prompt gives it: [0] is the subject's tokens with no prefix, then "<prefix>. " +
// subject, or "<prefix>.\n" + subject where the space would split the subject into
// other tokens (a subject that opens the prompt), or else the prefix's tokens followed
// by the subject's. The lookup is the subject's last (or first) token. `factToken`
// must be SubjectLast or SubjectFirst.
PlacedRequest placeSubject(const Model& model, const EditRequest& request,
                           const std::vector<std::string>& templates, FactToken factToken);

// Where k* is read for `context`: placeSubject, or the prompt's own placement
// `inPrompt` for KeyContext::Prompt and for fact token 'last' (a prompt position).
PlacedRequest keyPlacement(const Model& model, const EditRequest& request,
                           const std::vector<std::string>& templates, FactToken factToken, KeyContext context,
                           const PlacedRequest& inPrompt);

struct RequestKeys {
    Vector keyStar;    // [dFf] mlp_in at the lookup, averaged over the templates (weighted)
    Vector keyBare;    // [dFf] the same in the bare prompt
    Vector mlpOutBare; // [dModel] mlp_out at the lookup of the bare prompt
    // An expert's keys: [dExpert] expert_in in place of mlp_in; the expert's mixing
    // weight at the bare prompt's lookup (0 where the token is not routed to it) and the
    // experts the token is routed to there, in order of weight, with their weights.
    double mixingWeightBare = 1.0;
    std::vector<int> routedBare;
    std::vector<float> routedWeightsBare;
};
// `weights`: per template, its share of k* (keyWeights); empty: the plain mean.
// `expert` >= 0: the keys of that expert of a sparse layer, read as if the token were
// routed to it (in templates where the router sends it elsewhere, too). Throws
// InvalidInput where (layer, expert) is not in the model (editTargetProblem).
RequestKeys requestKeys(const Model& model, const PlacedRequest& placed, int layer,
                        const std::vector<double>& weights = {}, int expert = -1);

// For every sparse layer of `layers`, per request, the expert the bare prompt's fact
// token is routed to with the largest weight: the expert ROME and MEMIT edit there.
std::map<int, std::vector<int>> subjectExperts(const Model& model, const std::vector<EditRequest>& requests,
                                               const std::vector<int>& layers, FactToken factToken);

// [dModel] resid_post of `layer` at the lookup of the bare prompt (placed.ids[0]).
Vector residualAtLookup(const Model& model, const PlacedRequest& placed, int layer);

struct ValueTarget {
    Vector delta;  // [dModel], added to the output of `layer` at the lookup token
    std::vector<double> loss;
    double probTargetInit = 0.0, probTargetFinal = 0.0;  // mean over the rewriting prompts
};

// δ added to the MLP output of `layer` (equivalently to its resid_post) at the
// lookup token. `initNorm` is ||v_init|| for the decay and the clamp.
// `barePromptShare`: the share of δ the weight update will deliver at the bare
// prompt's key (ROME's (C⁻¹k*)ᵀk_bare / (C⁻¹k*)ᵀk*). When given, an early stop also
// needs the bare prompt, with δ scaled by it, to have reached the target: an update
// solved for the averaged key k* gives the prompt itself less than the full δ that
// the templated prompts were fitted with.
ValueTarget optimizeValue(const Model& model, const EditRequest& request, const PlacedRequest& placed,
                          FactToken factToken, int layer, double initNorm, const ValueParams& params,
                          const ProgressFn& progress = {}, std::optional<double> barePromptShare = {});

// One δ for several requests about the same subject, fitted to all their targets at
// once, each request weighing the same (MEMIT-Merge, Dong et al. 2025): their keys at
// the subject are (nearly) the same, so separate δs would be averaged by the batch
// update and none delivered. `placed[i]` places requests[i]; `barePromptShare` needs
// a single request. optimizeValue is this with one request.
ValueTarget optimizeSharedValue(const Model& model, const std::vector<EditRequest>& requests,
                                const std::vector<PlacedRequest>& placed, FactToken factToken, int layer,
                                double initNorm, const ValueParams& params, const ProgressFn& progress = {},
                                std::optional<double> barePromptShare = {});

}  // namespace mwb
