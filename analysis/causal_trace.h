// Causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations in
// GPT", section 2): corrupt the subject's token embeddings with Gaussian noise,
// restore clean activations at one (token, layer) and measure how much of the
// answer's probability comes back.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/shard_job.h"
#include "data/datasets.h"
#include "model/model.h"
#include "tensor/progress.h"
#include "tensor/tensor.h"

namespace mwb {

// hidden: the residual stream after one block (single layer); mlp / attn: the
// module's output over a window of layers centred on the layer.
enum class TraceKind { Hidden, Mlp, Attn };
std::string toString(TraceKind k);
TraceKind parseTraceKind(const std::string& s);

// The paper's "severed" variant (Figure 3): restore the hidden state while the
// MLP (or attention) of the same token in later layers stays at its corrupted value.
enum class Severed { None, Mlp, Attn };

// How the grids are computed: every restoration run (Meng et al. 2022 §2), or their
// first-order estimate from one corrupted forward and one backward pass per noise
// sample (attribution patching: Nanda 2023; Syed et al. 2023; attribution_trace.cpp).
enum class TraceMethod { Exact, Attribution };
std::string toString(TraceMethod m);
TraceMethod parseTraceMethod(const std::string& s);  // throws InvalidInput

// AtP* (Kramár et al. 2024 §3.1.1): where the linear estimate fails through an
// attention softmax, recompute exactly. NextBlock runs each single-layer restoration
// exactly through the first attention layer it reaches (and the rest of that block)
// and takes the linear estimate only from that block's output on.
enum class AttributionCorrection { None, NextBlock };
// What is differentiated: p(answer), whose first-order change is the estimate added to
// p_corrupted, or log p(answer), whose estimate is applied as p_corrupted * exp(est)
// per sample.
enum class AttributionMetric { Prob, LogProb };

struct NoiseLevel {
    double sigma = 0.0;
    std::string source;  // how sigma was chosen, for the report
};

struct CausalTraceParams {
    std::vector<TraceKind> kinds = {TraceKind::Hidden, TraceKind::Mlp, TraceKind::Attn};
    int samples = 10;
    int window = 10;
    std::optional<double> noise;  // absolute sigma; default 3 x embedding std
    uint64_t seed = 1;
    Severed severed = Severed::None;
    bool naive = false;  // recompute every run in full, as the reference code does
    TraceMethod method = TraceMethod::Exact;
    AttributionCorrection correction = AttributionCorrection::None;
    AttributionMetric metric = AttributionMetric::Prob;
    // After an attribution trace: the exact restoration of the `verify` cells with the
    // highest estimates of each kind (CausalTraceResult::verified).
    int verify = 0;
};

// An estimated cell and its exact restoration (same noise samples).
struct VerifiedCell {
    TraceKind kind;
    int token = 0, layer = 0;
    double estimated = 0.0, exact = 0.0;
};

struct CausalTraceResult {
    std::vector<int> ids;
    std::vector<std::string> tokens;
    int subjectBegin = 0, subjectEnd = 0;  // token range [begin, end)
    std::string answer;                    // the measured token's text
    int answerId = -1;
    bool answerIsTopPrediction = true;     // the clean model's top-1 is the answer
    double probClean = 0.0;
    double probCorrupted = 0.0;
    NoiseLevel noise;
    CausalTraceParams params;
    // Per kind: probability of the answer with the restoration at [token, layer]
    // (the reference code's "scores"); the indirect effect is that minus probCorrupted.
    // With TraceMethod::Attribution, estimates of the same quantity.
    std::map<TraceKind, MatrixD> probRestored;
    std::vector<VerifiedCell> verified;  // params.verify > 0

    MatrixD indirectEffect(TraceKind k) const {
        return probRestored.at(k).array() - probCorrupted;
    }
};

// The window of layers restored together for MLP and attention when none is given:
// the ROME paper's 10 of GPT-2 XL's 48 layers scaled to the model's depth,
// round(nLayers * 10 / 48), at least 1 (8 layers: 2; 12: 3; 48: 10). A fixed 10 would
// restore nearly every layer of a small model at once and blur both maps.
int defaultTraceWindow(int nLayers);

// Empty when the answer is a confident recall of the subject; otherwise one sentence
// saying why the map means little: the clean model gives the answer a low probability
// (p(clean) < 0.2), or corrupting the subject leaves it nearly as likely (p(corrupted) at
// least half of p(clean)), so there is little or nothing for a restoration to bring back.
std::string recallWarning(const CausalTraceResult& result);

// sigma = 3 x the standard deviation of the token embeddings of `subjects` (each
// tokenized on its own, as the reference code does), or of the whole embedding
// matrix when `subjects` is empty.
NoiseLevel defaultNoise(const Model& model, const std::vector<std::string>& subjects = {});

// `answer`: the expected attribute (its first token is measured); empty means the
// model's own top-1 prediction on the clean prompt. params.method chooses exact
// restorations or the attribution estimate.
CausalTraceResult traceFact(const Model& model, const std::string& prompt, const std::string& subject,
                            const std::string& answer, const CausalTraceParams& params,
                            const ProgressFn& progress = {});

// The layer where restoring the MLP output at the subject's last token recovers the
// most of the answer (ROME's choice of the layer to edit): the peak window, with the
// paper's window of 10 of GPT-2 XL's 48 layers scaled to the model, then the layer
// within it whose MLP alone restores the most.
int mlpPeakLayer(const Model& model, const std::string& prompt, const std::string& subject);

// For a batch of facts {prompt, subject} (MEMIT's layers): the layer most of them peak
// at (ties: the lower), over at most `maxTraced` facts spread evenly over the list.
// Tracing only the first fact would let one arbitrary fact choose for the whole batch.
int mlpPeakLayer(const Model& model, const std::vector<std::pair<std::string, std::string>>& facts,
                 size_t maxTraced = 10);

// The choice itself, from an MLP trace with a window and one of single layers (window 1)
// of the same prompt (they may be the same trace). InvalidInput without MLP traces.
int editLayerFromTraces(const CausalTraceResult& windowed, const CausalTraceResult& single);

// The same choice after a trace `windowed` of prompt, subject and answer that includes
// the MLP: runs the single-layer MLP trace (same samples, noise and seed) when the
// window is wider than one layer. InvalidInput without an MLP trace.
int editLayerAfterTrace(const Model& model, const std::string& prompt, const std::string& subject,
                        const std::string& answer, const CausalTraceResult& windowed,
                        const ProgressFn& progress = {});

// One corrupted run (mean over the noise samples) with the clean hidden state
// (resid_post) restored at every listed (token, layer) — the reference code's
// trace_with_patch. Restoring nothing gives probCorrupted.
double restoredProbability(const Model& model, const std::string& prompt, const std::string& subject,
                           const std::string& answer, const CausalTraceParams& params,
                           const std::vector<std::pair<int, int>>& hiddenStates);

// Average over a facts file, grids reduced to the paper's token categories.
struct AverageTraceResult {
    static constexpr std::array<const char*, 6> kCategories = {
        "first subject token", "middle subject tokens", "last subject token",
        "first subsequent token", "further tokens", "last token"};
    int factsUsed = 0;
    int factsSkipped = 0;  // the model's top-1 was not the attribute (when skipping)
    double meanProbClean = 0.0;
    double meanProbCorrupted = 0.0;
    NoiseLevel noise;
    CausalTraceParams params;
    std::map<TraceKind, MatrixD> probRestored;  // [6 categories x nLayers]
    std::map<TraceKind, MatrixD> indirectEffect;
};

// Traces every fact (skipping, with skipWrong, those whose top-1 is not the attribute)
// and averages the grids per token category (trace_facts.cpp). With `run` over
// several ranks (inside cluster::runAgreed), the facts are split over them in shards
// and the result, identical bit for bit to one process's, is on rank 0; the other
// ranks return an empty result.
AverageTraceResult traceFacts(const Model& model, const std::vector<KnownFact>& facts,
                              const CausalTraceParams& params, bool skipWrong,
                              const ProgressFn& progress = {}, const cluster::ShardRun& run = {});

nlohmann::json toJson(const CausalTraceResult& r);
nlohmann::json toJson(const AverageTraceResult& r);

}  // namespace mwb
