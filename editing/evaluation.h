// CounterFact evaluation of a model (docs/datasets.md), computed as the ROME reference
// does (experiments/py/eval_utils_counterfact.py and experiments/summarize.py):
//
// - For each prompt (the rewrite prompt, each paraphrase, each neighbourhood prompt)
//   the mean negative log-likelihood (nats) of target_new's and of target_true's tokens,
//   each token conditioned on the prompt and the target tokens before it. The target
//   ids are continuationIds(prompt, target) (" Rome" after the prompt).
// - Per case: efficacy = mean over the rewrite prompts of [NLL(new) < NLL(true)];
//   paraphrase = the same over the paraphrase prompts; neighbourhood = mean over the
//   neighbourhood prompts of [NLL(true) < NLL(new)]. The magnitudes are the
//   reference's "*_diff": mean of exp(−NLL(new)) − exp(−NLL(true)) (neighbourhood:
//   exp(−NLL(true)) − exp(−NLL(new))), i.e. differences of per-token geometric-mean
//   probabilities.
// - Fluency: for each generation prompt, text sampled as the reference's
//   generate_fast does (top-k 5 sampling up to 100 tokens including the prompt;
//   seeded here, so results are reproducible), then textEntropy of the prompt plus the
//   generation (editing/ngram_entropy.h); the case's fluency is the mean over prompts.
// - Over cases (aggregate): means in percent, with the population standard
//   deviation; a case without prompts of a kind is left out of that kind's mean.
//   Fluency stays in bits (the ROME paper's tables show 100 × this). Score S = the
//   harmonic mean of efficacy, paraphrase and neighbourhood.
//
// Designed for `mwb eval`: evaluateCase on the unedited model, edit, evaluateCase on
// the edited one, aggregate each list.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/datasets.h"
#include "model/model.h"
#include "tensor/progress.h"
#include "model/transformer.h"

namespace mwb {

struct EvalOptions {
    bool fluency = true;        // generate from the generation prompts (the slow part)
    int generationLength = 100;  // tokens per text, prompt included (the reference's max_out_len)
    int topK = 5;               // sample from the top k tokens (reference); 0: greedy decoding
    uint64_t seed = 1;          // sampling seed, combined with the case id and prompt index
    int maxGenerationPrompts = 0;  // use at most this many generation prompts per case; 0: all
};

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct PromptNll {
    std::string prompt;
    double nllNew = 0.0;   // mean NLL per token of target_new (nats)
    double nllTrue = 0.0;  // mean NLL per token of target_true
};

struct CaseMetrics {
    int caseId = 0;
    std::vector<PromptNll> rewrite, paraphrase, neighborhood;
    // Fractions in [0, 1]; NaN when the case has no prompt of that kind.
    double efficacy = kNaN;
    double paraphraseSuccess = kNaN;
    double neighborhoodSuccess = kNaN;
    double efficacyMagnitude = kNaN;
    double paraphraseMagnitude = kNaN;
    double neighborhoodMagnitude = kNaN;
    double fluency = kNaN;  // bits; NaN when not computed
    std::vector<std::string> generations;  // the texts fluency was measured on
};

struct MeanStd {
    double mean = kNaN;
    double std = kNaN;
    int count = 0;  // cases that contributed
};

struct Metrics {
    int cases = 0;
    // Percent.
    MeanStd efficacy, paraphrase, neighborhood;
    MeanStd efficacyMagnitude, paraphraseMagnitude, neighborhoodMagnitude;
    MeanStd fluency;  // bits, not percent
    double score = kNaN;  // harmonic mean of the three success rates, percent
};

// Mean NLL of each target after each prompt: result[i] = {NLL(targetA), NLL(targetB)}
// for prompts[i]. One batched forward pass of all prompts; the target tokens after the
// first reuse the prompt's cached keys/values. Throws InvalidInput for an empty prompt
// or target, or a prompt plus target longer than the model's context.
std::vector<std::pair<double, double>> targetNlls(const Transformer& transformer,
                                                  const std::vector<std::string>& prompts,
                                                  const std::string& targetA, const std::string& targetB);

// The texts fluency is measured on: prompt plus sampled continuation, decoded without
// BOS/EOS. `streamSeed` distinguishes cases (evaluateCase passes the case id).
std::vector<std::string> generateTexts(const Transformer& transformer, const std::vector<std::string>& prompts,
                                       const EvalOptions& options, uint64_t streamSeed,
                                       const ProgressFn& progress = {});

CaseMetrics evaluateCase(const Model& model, const CounterFactCase& c, const EvalOptions& options = {},
                         const ProgressFn& progress = {});

// evaluateCase for each case, with progress over the cases.
std::vector<CaseMetrics> evaluateCases(const Model& model, const std::vector<CounterFactCase>& cases,
                                       const EvalOptions& options = {}, const ProgressFn& progress = {});

Metrics aggregate(const std::vector<CaseMetrics>& cases);

// A run that writes several cases into one model (a MEMIT batch, a sequence of edits)
// is meant to change the answer for every subject it edits. A neighbourhood prompt
// that names another subject the run edits in the same relation (same relation_id;
// without ids, the same prompt template) is therefore not a neighbour to preserve:
// counting it would score the run's own edits as damage. Returns `run` without those
// prompts (a subject counts where it appears as whole words) and adds how many were
// dropped to *dropped.
std::vector<CounterFactCase> withoutEditedNeighbours(std::vector<CounterFactCase> run, int* dropped = nullptr);

// Harmonic mean of positive values; 0 if any value is 0, NaN if any is NaN or negative
// or the list is empty.
double harmonicMean(const std::vector<double>& values);

// Keys: {"efficacy": ..., "paraphrase": ..., "neighborhood": ..., "fluency": ...,
// "score": ..., "<key>_std", "<key>_magnitude", "cases"}; NaN -> null.
// Success rates and magnitudes in percent (per case too: efficacy is 0 or 100),
// fluency in bits.
nlohmann::json toJson(const Metrics& m);
nlohmann::json toJson(const CaseMetrics& c);

}  // namespace mwb
