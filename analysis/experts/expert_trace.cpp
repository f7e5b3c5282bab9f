// Per-expert causal tracing (see expert_trace.h).
#include "analysis/experts/expert_trace.h"

#include "analysis/corrupted_runs.h"
#include "analysis/trace_setup.h"
#include "tensor/errors.h"

namespace mwb {

using namespace trace_detail;

namespace {

// Expert e's contribution to the MLP output of `layer` at `pos`: its mixing weight times
// its output there, zero when the token is not routed to it.
RowVector contribution(const RunState& s, int layer, int expert, int pos) {
    const LayerRouting& routing = s.routing[size_t(layer)];
    for (Eigen::Index j = 0; j < routing.experts.cols(); ++j)
        if (routing.experts(pos, j) == expert)
            return routing.weights(pos, j) * s.capturedExperts.at({HookSite::ExpertOut, layer, expert}).row(pos);
    return RowVector::Zero(s.capturedExperts.at({HookSite::ExpertOut, layer, expert}).cols());
}

}  // namespace

ExpertTraceResult traceExperts(const Model& model, const std::string& prompt, const std::string& subject,
                               const std::string& answer, const CausalTraceParams& params,
                               const ProgressFn& progress) {
    const ModelConfig& c = model.config;
    if (!c.moe()) throw InvalidInput("the model " + quote(c.name) + " has no experts to trace");
    Hooks captureExperts;
    for (int l = 0; l < c.nLayers; ++l)
        if (c.moeLayer(l))
            for (int e = 0; e < c.nExperts; ++e) captureExperts.captures.push_back({HookSite::ExpertOut, l, e});
    CausalTraceParams p = params;
    p.kinds = {TraceKind::Hidden};
    Prepared prepared = prepare(model, prompt, subject, answer, p, captureExperts);
    const TraceSetup& t = *prepared.setup;
    const RunState clean = t.transformer.run(prepared.result.ids, captureExperts, LogitsMode::None);
    const int pos = t.subjectEnd - 1;

    ExpertTraceResult r;
    r.ids = prepared.result.ids;
    r.tokens = prepared.result.tokens;
    r.subjectBegin = t.subjectBegin;
    r.subjectEnd = t.subjectEnd;
    r.answer = prepared.result.answer;
    r.answerId = t.answerId;
    r.probClean = prepared.result.probClean;
    r.probCorrupted = prepared.result.probCorrupted;
    r.noise = prepared.result.noise;
    r.samples = p.samples;
    r.nExperts = c.nExperts;
    for (int l = 0; l < c.nLayers; ++l)
        if (c.moeLayer(l)) r.layers.push_back(l);
    r.probRestored = MatrixD::Zero(Eigen::Index(r.layers.size()), c.nExperts);
    for (size_t i = 0; i < r.layers.size(); ++i) {
        report(progress, {long(i), long(r.layers.size()), "expert trace"});
        const int layer = r.layers[i];
        const LayerRouting& routing = clean.routing[size_t(layer)];
        std::vector<int> chosen;
        for (Eigen::Index j = 0; j < routing.experts.cols(); ++j) chosen.push_back(routing.experts(pos, j));
        r.cleanExperts.push_back(chosen);
        for (int s = 0; s < p.samples; ++s) {
            const RunState& corrupted = prepared.corrupted[size_t(s)];
            std::vector<Hooks> hooks;
            for (int e = 0; e < c.nExperts; ++e) {
                // Swap the corrupted contribution for the clean one; the other experts
                // (and the routing weights of the others) stay corrupted.
                const RowVector delta = contribution(clean, layer, e, pos) - contribution(corrupted, layer, e, pos);
                // The rerun starts at (layer, pos) of the corrupted run, which holds the
                // noise; from layer 0 it recomputes the embedding at pos, so that row's
                // noise is added again (the earlier subject tokens are not recomputed).
                Hooks h;
                if (layer == 0)
                    for (const Patch& noise : noiseHooks(t, s).patches)
                        if (noise.pos >= pos) h.patches.push_back(noise);
                h.patches.push_back({HookSite::MlpOut, layer, pos, delta.transpose(), PatchMode::Add});
                hooks.push_back(std::move(h));
            }
            const std::vector<RunState> runs = rerunCopies(t.transformer, corrupted, layer, pos, hooks);
            for (int e = 0; e < c.nExperts; ++e)
                r.probRestored(Eigen::Index(i), e) += meanProbability(Matrix(runs[size_t(e)].lastLogits()), t.answerId) / p.samples;
        }
    }
    report(progress, {long(r.layers.size()), long(r.layers.size()), "expert trace"});
    return r;
}

nlohmann::json toJson(const ExpertTraceResult& r) {
    nlohmann::json grid = nlohmann::json::array();
    for (Eigen::Index i = 0; i < r.probRestored.rows(); ++i) {
        std::vector<double> row(r.probRestored.row(i).data(), r.probRestored.row(i).data() + r.probRestored.cols());
        grid.push_back(row);
    }
    return {{"ids", r.ids},
            {"tokens", r.tokens},
            {"subject_range", {r.subjectBegin, r.subjectEnd}},
            {"answer", r.answer},
            {"answer_id", r.answerId},
            {"p_clean", r.probClean},
            {"p_corrupted", r.probCorrupted},
            {"noise", r.noise.sigma},
            {"samples", r.samples},
            {"layers", r.layers},
            {"n_experts", r.nExperts},
            {"p_restored", grid},
            {"clean_experts", r.cleanExperts}};
}

}  // namespace mwb
