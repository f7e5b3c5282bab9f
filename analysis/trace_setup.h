// What the exact causal trace (causal_trace.cpp) and its attribution estimate
// (attribution_trace.cpp) share: the clean run, the noise samples and the corrupted
// runs of one prompt, and the patches of a restoration. Internal to analysis/.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "analysis/causal_trace.h"
#include "model/transformer.h"

namespace mwb::trace_detail {

// The reference code's window: layers [l - w/2, l - floor(-w/2)) clipped to the model.
std::pair<int, int> windowOf(int layer, int window, int nLayers);

HookSite moduleSite(TraceKind k);

// Everything one trace needs, computed once.
struct TraceSetup {
    const Transformer& transformer;
    CausalTraceParams params;
    int nTokens, nLayers, subjectBegin, subjectEnd, answerId;
    RunState clean;                  // with MlpOut and AttnOut captured at every layer
    std::vector<Matrix> noise;       // per sample [subject tokens x dModel]
};

// Noise sample s added to the subject's embeddings (Meng et al. 2022 §2.1), as hooks
// to which a run's other hooks are added.
Hooks noiseHooks(const TraceSetup& t, int sample, Hooks hooks = {});

// Patches that restore the clean value of `kind` at (token, layer) — for mlp/attn
// over the window — and, for the severed variant, freeze the same token's module
// at its corrupted value in every later layer.
Hooks restorationHooks(const TraceSetup& t, TraceKind kind, int token, int layer, const RunState* corrupted);

struct Prepared {
    CausalTraceResult result;  // without grids
    std::unique_ptr<Transformer> transformer;
    std::unique_ptr<TraceSetup> setup;
    std::vector<RunState> corrupted;
};

// Validates the parameters and the prompt, runs the clean pass and the corrupted
// passes (with `corruptedHooks` added to each, e.g. captures), fills the result but
// its grids.
Prepared prepare(const Model& model, const std::string& prompt, const std::string& subject,
                 const std::string& answer, const CausalTraceParams& params, const Hooks& corruptedHooks = {});

// The attribution estimate of the grids (attribution_trace.cpp), filling p.result.
void attributionGrids(Prepared& p, const ProgressFn& progress);

}  // namespace mwb::trace_detail
