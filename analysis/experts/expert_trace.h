// Causal tracing of single experts (Meng et al. 2022 §2 at the granularity of a
// mixture of experts): with the subject's embeddings corrupted by noise, restore the
// clean contribution of one expert (its mixing weight times its output) to the MLP output
// at the subject's last token, and measure how much of the answer's probability comes
// back. The grid says which expert at which layer carries the fact where ROME would
// read its key.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/causal_trace.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

struct ExpertTraceResult {
    std::vector<int> ids;
    std::vector<std::string> tokens;
    int subjectBegin = 0, subjectEnd = 0;  // token range [begin, end); the trace is at subjectEnd - 1
    std::string answer;
    int answerId = -1;
    double probClean = 0.0;
    double probCorrupted = 0.0;
    NoiseLevel noise;
    int samples = 0;
    std::vector<int> layers;  // the sparse layers
    int nExperts = 0;
    // [sparse layer index x expert]: p(answer) with that expert's clean contribution
    // restored at the subject's last token, mean over the noise samples.
    MatrixD probRestored;
    // Per sparse layer, the experts the clean run routes the subject's last token to.
    std::vector<std::vector<int>> cleanExperts;
};

// Uses params.samples, params.noise and params.seed as traceFact does (the same noise
// samples for the same seed). Throws InvalidInput for a model without experts and as
// traceFact for a bad prompt, subject or answer. Progress per sparse layer; cancellable.
ExpertTraceResult traceExperts(const Model& model, const std::string& prompt, const std::string& subject,
                               const std::string& answer, const CausalTraceParams& params,
                               const ProgressFn& progress = {});

// {"tokens", "subject_range", "answer", "p_clean", "p_corrupted", "layers", "n_experts",
//  "p_restored": [[...] per layer], "clean_experts"}
nlohmann::json toJson(const ExpertTraceResult& r);

}  // namespace mwb
