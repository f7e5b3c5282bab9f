// MEMIT: many edits at once, spread over a range of layers (Meng et al. 2023,
// "Mass-Editing Memory in a Transformer", Algorithm 1). For each fact a target
// change δ_i of the last edited layer's output is found (as ROME's v*); then, layer
// by layer from the first, the remaining change is split over the layers still to
// edit and written with the least-squares update
//   ΔW_l = R_l K_lᵀ (λ C_l + K_l K_lᵀ)⁻¹      (eq. 14),
// solved in double with a Cholesky factorisation, never an explicit inverse.
// Optionally AlphaEdit's null-space projection (Fang et al. 2025) keeps the update
// off the keys of preserved knowledge.
#pragma once

#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "editing/second_moments.h"
#include "editing/value_optimization.h"

namespace mwb {

// The reference's optimisation of the targets z (Meng et al. 2023, eq. 16; 20 steps,
// stopping on the whole loss) with the norm clamp at 1 × ||z_init||, near the reference
// MEMIT's 0.75 and below ROME's 4: with many facts at once the batch update's spill onto
// other facts grows with every z, and the clamp bounds it (chosen together with λ,
// defaultMomentWeight).
ValueParams memitValueParams();

struct MemitParams {
    std::vector<int> layers;  // ascending, e.g. {2, 3, 4}
    FactToken factToken = FactToken::SubjectLast;
    ValueParams value = memitValueParams();
    ContextTemplateOptions templates = memitContextTemplates();
    // The reference code's compute_ks reads keys in the prompt. The paper's subject
    // context trades efficacy for paraphrase and neighbourhood; efficacy is what a
    // batch edit is for, so MEMIT keeps the code's.
    KeyContext keyContext = KeyContext::Prompt;
    // Requests about the same subject have (nearly) the same keys, so the batch update
    // averages their separate δs and delivers none (MEMIT-Merge, Dong et al. 2025):
    // by default they share one δ fitted to all their targets (optimizeSharedValue);
    // true: each its own, as the reference code does.
    bool separateSubjectValues = false;
    // Iterative editing (Baghel et al. 2025): run the whole batch again on the model the
    // earlier passes left, with targets z optimised afresh, until `passes` or until every
    // target is reached. Facts the first pass under-delivers get there, at a cost to
    // neighbours; with the null-space projection and clamp 0.75 the projection keeps
    // the neighbours and the extra passes deliver what the tighter clamp leaves short.
    int passes = 1;
    // λ, the reference's mom2_update_weight; <= 0: defaultMomentWeight(model).
    double momentWeight = 0.0;
    // AlphaEdit (Fang et al. 2025, eq. 9): project updates onto the null space of C, the
    // span of its eigenvectors whose eigenvalues are below nullSpaceThreshold × the
    // largest; relative to the largest, the cut carries over between models.
    bool nullSpace = false;
    double nullSpaceThreshold = 1e-2;
    // Compare the eigenvalues with nullSpaceThreshold itself, the reference code's rule
    // (2e-2 there). Its cut depends on the keys' scale, so it does not carry over
    // between models; it is here to reproduce the reference's null space.
    bool nullSpaceThresholdIsAbsolute = false;
    // α, the weight of ||ΔW P||² in AlphaEdit's objective: 1 in the paper's eq. 9, 10 in
    // every configuration of the reference code (its "L2"). Larger makes the update
    // smaller.
    double nullSpaceL2 = 1.0;
    // AlphaEdit for sequential editing: per key site (a layer's MLP, or an expert), the
    // keys [width x m] of earlier edits, which the new update must leave in place (the
    // K_p term of eq. 9).
    std::map<KeySite, MatrixD> previousKeys;
    // Sparse layers (docs/mixture-of-experts.md, "Editing experts"): per layer, per
    // request, the expert whose down projection carries that request's share of the
    // update; subjectExperts (value_optimization.h) assigns each request the expert its fact token is routed to
    // with the largest weight. Its residual is divided by that expert's mixing weight,
    // so that the mixture delivers it, and each expert's requests are solved together
    // with the expert's own C.
    std::map<int, std::vector<int>> experts;
};


struct MemitLayerUpdate {
    int layer = -1;
    int expert = -1;  // the expert whose down projection changed; -1: the layer's MLP
    MatrixD keys;  // [dFf x n] the requests' keys k* at this layer (in the last pass; an expert's: its requests')

    Matrix left;   // [dModel x n·passes]  ΔW = left · rightᵀ, every pass's columns
    Matrix right;  // [dFf x n·passes] (an expert's: [dExpert x ...])
    double weightChange = 0.0;  // ||ΔW|| / ||W||
    double outputChange = 0.0;  // sqrt(E‖ΔW k‖² / E‖W k‖²) over C's keys (second_moments.h)
    // With the null-space projection: its dimension and tr(P C) / tr(C), the share of
    // the preserved keys' squared norm the update still sees; -1 / 0 without it.
    int nullSpaceDimension = -1;
    double nullSpaceEnergyShare = 0.0;
    double nullSpaceCutoff = 0.0;  // the eigenvalue the null space's eigenvalues are below
};

struct MemitResult {
    std::vector<MemitLayerUpdate> updates;
    std::vector<ValueTarget> targets;  // per request, the first pass's
    int passes = 0;                    // run (fewer than asked when every target was reached)
    std::vector<std::string> contextTemplates;
};

// λ in proportion to the MLP's width. In the direction of an edited key k, λC weighs
// about λ · tr(C) / dFf against the key's own ||k||² ≈ tr(C), so the balance depends on
// λ / dFf: the reference's λ = 15,000, tuned for GPT-J's 16,384 keys, holds a narrow
// MLP's update back until nothing is delivered. The ratio is 0.39 per key (200 at
// dFf 512, 6,400 at GPT-J's width) rather than the reference's 0.92: chosen together
// with memitValueParams()'s clamp, which bounds the spill that a weaker λ would
// otherwise let through.
double defaultMomentWeight(const ModelConfig& config);
// The same for keys of `keyWidth` (an expert's d_expert).
double defaultMomentWeight(int keyWidth);

// Computes and applies the update to `model` (MEMIT's layers depend on the earlier
// layers' updates). `secondMoments` holds C for every key site the edit writes: each
// dense layer of params.layers ({layer, -1}) and each expert params.experts names.
// The caller records the edit (edit_history.h) from the result.
MemitResult applyMemit(Model& model, const std::vector<EditRequest>& requests, const MemitParams& params,
                       const std::map<KeySite, MatrixD>& secondMoments, const ProgressFn& progress = {});
// For a dense model: C per layer.
MemitResult applyMemit(Model& model, const std::vector<EditRequest>& requests, const MemitParams& params,
                       const std::map<int, MatrixD>& secondMoments, const ProgressFn& progress = {});

nlohmann::json toJson(const MemitResult& r);

}  // namespace mwb
