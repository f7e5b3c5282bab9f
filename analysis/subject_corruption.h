// Does the model look facts up at the subject? Noise added to the residual stream at
// the subject's last token only, entering an early layer, should remove most of the
// answer's probability when the attribute is read from a subject representation
// built there (Geva et al. 2023); a model that copies the subject's tokens to the
// last position first and looks the fact up there is barely moved. Layer 0 is the
// token embedding itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/datasets.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

struct SubjectCorruptionParams {
    std::vector<int> layers = {0, 1, 2};  // residual entering these layers
    int samples = 10;
    // σ for every layer; default, per layer: 3 × the standard deviation of the
    // residual entries entering that layer at the checked facts' subject last tokens
    // (at layer 0 this is tracing's 3 × std of subject embeddings). The residual
    // grows with depth, so one absolute σ would be a smaller and smaller corruption.
    std::optional<double> noise;
    uint64_t seed = 1;
    double removedFraction = 0.5;  // "most": the answer keeps less than half its probability
    bool skipWrong = true;         // only facts whose top-1 is the attribute's first token
    // Noise on every subject token instead of the last only: where the last-token check
    // leaves the answer, did it come from the subject's other tokens (then this removes
    // it) or from the positions after the subject, which read the subject before the
    // corrupted layer?
    bool wholeSubject = false;
};

struct FactCorruption {
    std::string prompt, subject, answer;
    double pClean = 0.0;
    std::vector<double> pCorrupted;  // per layer, mean over the samples
    // Noise on the embeddings of every subject token (causal tracing's corrupted run,
    // with the layer-0 σ): what is left when the subject is unknown altogether.
    double pSubjectUnknown = 0.0;
};

struct SubjectCorruptionResult {
    SubjectCorruptionParams params;
    std::vector<double> sigma;  // per layer
    std::string noiseSource;
    int skipped = 0;  // facts left out (wrong top-1)
    std::vector<FactCorruption> facts;
    // Per layer: the fraction of facts whose answer kept less than (1 − removedFraction)
    // of its clean probability, and the mean of p_corrupted / p_clean.
    std::vector<double> fractionRemoved, meanKept;
    // The check can only pass for facts whose answer depends on the subject: where
    // hiding every subject token leaves more than (1 − removedFraction) of p_clean (an
    // answer the relation alone makes likely, e.g. " English" for a film's language),
    // no mechanism could. dependentFacts counts the others, and fractionRemovedDependent
    // is fractionRemoved over them.
    int dependentFacts = 0;
    std::vector<double> fractionRemovedDependent;
};

SubjectCorruptionResult corruptSubjects(const Model& model, const std::vector<KnownFact>& facts,
                                        const SubjectCorruptionParams& params, const ProgressFn& progress = {});

nlohmann::json toJson(const SubjectCorruptionResult& r);

}  // namespace mwb
