// Super experts (Su et al. 2025, "Unveiling Super Experts in Mixture-of-Experts Large
// Language Models", §3): the few experts whose down projection's output carries rare,
// extreme outliers that become the massive activations of the residual stream (Sun et
// al. 2024) on which attention sinks rest. Removing them breaks a model; removing as
// many random experts does not.
//
// Profiling (§3.1): over calibration text, a_{l,e} is the largest |value| of expert e's
// down-projection output in layer l (before its mixing weight), over the tokens routed
// to it. An expert is super when a_{l,e} exceeds the 99.5th percentile of all a, exceeds
// a tenth of the largest a, and layer l is one where a massive activation forms.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/experts/expert_ablation.h"
#include "analysis/superweights/massive_activations.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

struct SuperExpertParams {
    double percentile = 99.5;       // a_{l,e} above this percentile of every a ...
    double fractionOfMax = 0.1;     // ... and above this fraction of the largest a ...
    MassiveActivationParams massive;  // ... in a layer where a massive activation forms
};

// One expert's profile over the calibration text.
struct ExpertPeak {
    int layer = 0;
    int expert = 0;
    float peak = 0.0f;   // a_{l,e}: the largest |down-projection output|
    int channel = -1;    // where it was: output dimension, ...
    int sequence = -1;   // ... calibration sequence and position in it (-1: never routed)
    int pos = -1;
    std::string token;   // the token at that position (display form)
    long tokensRouted = 0;
};

struct SuperExpertResult {
    SuperExpertParams params;
    long tokens = 0;                    // calibration tokens
    std::vector<ExpertPeak> experts;    // every expert of every sparse layer, by layer then expert
    double percentileValue = 0.0;       // the percentile of every peak
    double largestPeak = 0.0;
    // Layers at whose output a massive activation appears that was not massive at the
    // layer's input: where massive activations form (the condition l ∈ L).
    std::vector<int> formingLayers;
    std::vector<ExpertPeak> superExperts;  // meeting all three conditions, largest peak first

    std::vector<ExpertId> superIds() const;
    // Every expert, largest peak first (equal peaks in layer, then expert order).
    std::vector<ExpertPeak> byPeak() const;
    // The `count` experts of largest peak (the candidates to remove when none is super).
    std::vector<ExpertId> largestPeaks(int count) const;
};

// Runs the model over `sequences` (each validated: InvalidInput) with a callback at every
// expert's output. Throws InvalidInput for a model without experts, no sequences, or
// parameters out of range (percentile in [0, 100], fractionOfMax in [0, 1]). Reports
// progress per sequence; cancellable.
SuperExpertResult findSuperExperts(const Model& model, const std::vector<std::vector<int>>& sequences,
                                   const SuperExpertParams& params = {}, const ProgressFn& progress = {});

// What removing the super experts does, against removing as many random experts (drawn
// with `seed` from the other experts): two ablations on the same inputs.
struct SuperExpertRemoval {
    AblationResult removed;  // the super experts (or the experts asked for)
    AblationResult random;   // as many random experts
};
SuperExpertRemoval compareSuperExpertRemoval(const Model& model, const std::vector<ExpertId>& experts,
                                             const AblationInputs& inputs, uint64_t seed,
                                             const std::string& name = "super experts removed",
                                             const ProgressFn& progress = {});

nlohmann::json toJson(const ExpertPeak& p);
nlohmann::json toJson(const SuperExpertResult& r);

}  // namespace mwb
