// Attribution patching of the causal trace: the grids of causal_trace.cpp estimated
// to first order from gradients (Nanda 2023, "Attribution patching: activation
// patching at industrial scale"; Syed et al. 2023, "Attribution Patching Outperforms
// Automated Circuit Discovery", §2). Restoring site n (token t, layer l) of the
// corrupted run to its clean value changes the metric m by about
//     (a_clean(n) - a_corrupted(n)) . dm/da(n) |corrupted,
// and one backward pass of m gives dm/da at every site at once. Per noise sample
// that is one corrupted forward pass and one backward pass, instead of one
// restoration run per (kind, token, layer).
//
// The metric is p(answer) by default: the exact trace reports the mean over the noise
// samples of p, so the first-order change of p is an estimate of exactly the reported
// quantity (and the one the finite-difference test checks). Its weakness is
// saturation: where p_corrupted is near 0 the gradient p(1 - p) dlogit is tiny and
// large restorations are underestimated. log p (AttributionMetric::LogProb) avoids
// that, at the price of a nonlinear map back (p_corrupted * exp(estimate) per sample).
//
// AtP* (Kramár et al. 2024, "AtP*: An efficient and scalable method for localizing
// LLM behaviour to components", §3.1.1) shows that the linear estimate fails mostly
// through attention softmaxes: a key or query change that saturates a pattern is
// badly approximated by its gradient. Their fix recomputes the attention pattern of
// the affected layer exactly and stays linear after it. AttributionCorrection::NextBlock
// does that for a restoration: the first block whose attention sees the restored row
// (and, for mlp/attn restorations, the rest of their own block) runs exactly, from
// the cached corrupted state, and the linear estimate starts at that block's output.
// Not implemented: GradDrop (§3.1.2), which scores sites by |estimate| with the
// gradient dropped layer by layer to find false negatives: an unsigned ranking score
// that has no probability to report in the grid, at one backward pass per layer.
#include <algorithm>
#include <cmath>
#include <map>

#include "analysis/corrupted_runs.h"
#include "analysis/trace_setup.h"
#include "model/backprop.h"
#include "tensor/errors.h"

namespace mwb::trace_detail {

namespace {

HookSite siteOf(TraceKind k) {
    return k == TraceKind::Hidden ? HookSite::ResidPost : moduleSite(k);
}

// The metric the estimates are changes of.
double metricOf(AttributionMetric m, double p) { return m == AttributionMetric::Prob ? p : std::log(p); }

// Per kind and noise sample: the estimated change of the metric when one single layer's
// site (token, layer) is restored, [tokens x layers]; zero before the subject, where
// the clean and corrupted runs are the same.
using SingleLayer = std::map<TraceKind, std::vector<MatrixD>>;

class Attribution {
public:
    Attribution(Prepared& p) : m_p(p), m_t(*p.setup), m_c(m_t.transformer.config()) {
        m_S = m_t.params.samples;
        m_T = m_t.nTokens;
        m_L = m_t.nLayers;
        m_b0 = m_t.subjectBegin;
        for (const RunState& run : p.corrupted)
            m_probCorrupted.push_back(softmax(run.lastLogits())[m_t.answerId]);
    }

    void run(const ProgressFn& progress) {
        const bool correct = m_t.params.correction == AttributionCorrection::NextBlock;
        const long total = 2 + (correct ? m_T - m_b0 : 0);
        report(progress, {0, total, "attribution"});
        gradients(progress, total);
        if (correct) nextBlockCorrection(progress, total);
        combine();
        report(progress, {total, total, "attribution"});
    }

private:
    // The sites whose gradients are needed: the traced kinds' own, and resid_post
    // everywhere for the corrected estimate (it starts at a block's output).
    std::vector<HookSite> gradientSites() const {
        std::vector<HookSite> sites;
        for (TraceKind k : m_t.params.kinds) sites.push_back(siteOf(k));
        if (m_t.params.correction == AttributionCorrection::NextBlock) sites.push_back(HookSite::ResidPost);
        std::sort(sites.begin(), sites.end());
        sites.erase(std::unique(sites.begin(), sites.end()), sites.end());
        return sites;
    }

    // Row of the patch at (site, sample, layer, token) in backwardToPatches' result.
    long patchRow(HookSite site, int s, int layer, int token) const {
        return m_patchBase.at(site) + (static_cast<long>(s) * m_L + layer) * (m_T - m_b0) + (token - m_b0);
    }

    // One corrupted forward pass of all noise samples (a batch of S sequences) with
    // zero Add patches at every site of interest from the subject on, and one backward
    // pass of the metric at the last position to all of them: dm/da per sample.
    void gradients(const ProgressFn& progress, long total) {
        const Model& model = m_t.transformer.model();
        Backprop bp(m_c, model.weights);
        std::vector<int> tokens, logitRows;
        for (int s = 0; s < m_S; ++s) {
            tokens.insert(tokens.end(), m_p.result.ids.begin(), m_p.result.ids.end());
            logitRows.push_back(s * m_T + m_T - 1);
        }
        bp.setLogitRows(logitRows);
        Hooks hooks;
        for (int s = 0; s < m_S; ++s)
            for (Eigen::Index i = 0; i < m_t.noise[s].rows(); ++i)
                hooks.patches.push_back({HookSite::Embed, 0, s * m_T + m_b0 + static_cast<int>(i),
                                         m_t.noise[s].row(i).transpose(), PatchMode::Add});
        const Vector zero = Vector::Zero(m_c.dModel);
        for (HookSite site : gradientSites()) {
            m_patchBase[site] = static_cast<long>(hooks.patches.size());
            for (int s = 0; s < m_S; ++s)
                for (int l = 0; l < m_L; ++l)
                    for (int tok = m_b0; tok < m_T; ++tok)
                        hooks.patches.push_back({site, l, s * m_T + tok, zero, PatchMode::Add});
        }
        // The corrupted module outputs (resid_post is bp.residual(l + 1)).
        for (TraceKind k : m_t.params.kinds)
            if (k != TraceKind::Hidden)
                for (int l = 0; l < m_L; ++l) hooks.captures.push_back({moduleSite(k), l});
        const Matrix& logits = bp.forward(tokens, m_S, m_T, hooks);
        report(progress, {1, total, "attribution"});

        // dm/dlogits at the last position: softmax' Jacobian, e_a - p for log p and
        // p_a (e_a - p) for p.
        Matrix dLogits(m_S, logits.cols());
        for (int s = 0; s < m_S; ++s) {
            const Vector probs = softmax(logits.row(s));
            Vector d = -probs;
            d[m_t.answerId] += 1.0f;
            if (m_t.params.metric == AttributionMetric::Prob) d *= probs[m_t.answerId];
            dLogits.row(s) = d.transpose();
        }
        const Matrix grads = bp.backwardToPatches(dLogits);

        for (TraceKind k : m_t.params.kinds) {
            const HookSite site = siteOf(k);
            auto& perSample = m_single[k];
            perSample.assign(m_S, MatrixD::Zero(m_T, m_L));
            for (int s = 0; s < m_S; ++s)
                for (int l = 0; l < m_L; ++l) {
                    const Matrix& corrupted = k == TraceKind::Hidden ? bp.residual(l + 1) : bp.captured().at({site, l});
                    const Matrix& clean = k == TraceKind::Hidden ? m_t.clean.resid[l + 1] : m_t.clean.captured.at({site, l});
                    for (int tok = m_b0; tok < m_T; ++tok) {
                        const auto diff = (clean.row(tok) - corrupted.row(s * m_T + tok)).template cast<double>();
                        perSample[s](tok, l) = diff.dot(grads.row(patchRow(site, s, l, tok)).template cast<double>());
                    }
                }
        }
        if (m_t.params.correction == AttributionCorrection::NextBlock) {
            // Kept for the correction: dm/d resid_post per sample, row = token.
            m_residGrad.assign(m_S, std::vector<Matrix>(m_L));
            for (int s = 0; s < m_S; ++s)
                for (int l = 0; l < m_L; ++l) {
                    Matrix& g = m_residGrad[s][l];
                    g = Matrix::Zero(m_T, m_c.dModel);
                    for (int tok = m_b0; tok < m_T; ++tok)
                        g.row(tok) = grads.row(patchRow(HookSite::ResidPost, s, l, tok));
                }
        }
        report(progress, {2, total, "attribution"});
    }

    // AtP*'s recomputation (Kramár et al. 2024 §3.1.1), per single-layer restoration:
    // blocks [from, to) run exactly, to = the block after the first attention layer
    // that reads the restored row (layer + 2); from there the change of resid_post
    // (every row >= token: the attention carried it to later positions) is multiplied
    // by the gradient there. A run that reaches the last block is simply exact.
    // Tokens go from last to first over scratch copies of the corrupted runs, so that
    // the cached keys/values of positions < token a run reads are still the corrupted
    // ones (as in the exact trace's fast path).
    void nextBlockCorrection(const ProgressFn& progress, long total) {
        std::vector<RunState> scratch = m_p.corrupted;
        std::vector<RunState*> ptrs;
        for (auto& s : scratch) ptrs.push_back(&s);
        const double mClean = metricOf(m_t.params.metric, m_p.result.probClean);
        long done = 2;
        for (int tok = m_T - 1; tok >= m_b0; --tok) {
            for (TraceKind k : m_t.params.kinds) {
                for (int l = 0; l < m_L; ++l) {
                    if (k == TraceKind::Hidden && l == m_L - 1) {
                        // The last block's output reaches only its own position's logits:
                        // restoring it at the last token gives the clean output exactly.
                        for (int s = 0; s < m_S; ++s)
                            m_single[k][s](tok, l) =
                                tok == m_T - 1 ? mClean - metricOf(m_t.params.metric, m_probCorrupted[s]) : 0.0;
                        continue;
                    }
                    Hooks h;
                    int from = l;
                    if (k == TraceKind::Hidden) {
                        // The restored resid_post is the next block's resid_pre.
                        from = l + 1;
                        h.patches.push_back({HookSite::ResidPre, from, tok, m_t.clean.resid[l + 1].row(tok).transpose(),
                                             PatchMode::Replace});
                    } else {
                        const HookSite site = moduleSite(k);
                        h.patches.push_back({site, l, tok, m_t.clean.captured.at({site, l}).row(tok).transpose(),
                                             PatchMode::Replace});
                    }
                    const int to = std::min(l + 2, m_L);
                    for (size_t s = 0; s < scratch.size(); ++s)
                        scratch[s].resid[from].middleRows(tok, m_T - tok) =
                            m_p.corrupted[s].resid[from].middleRows(tok, m_T - tok);
                    const std::vector<const Hooks*> shared = {&h};
                    if (to == m_L) {
                        m_t.transformer.rerunMany(ptrs, from, tok, shared, LogitsMode::Last);
                        for (int s = 0; s < m_S; ++s)
                            m_single[k][s](tok, l) =
                                metricOf(m_t.params.metric, softmax(scratch[s].lastLogits())[m_t.answerId]) -
                                metricOf(m_t.params.metric, m_probCorrupted[s]);
                    } else {
                        m_t.transformer.rerunMany(ptrs, from, tok, shared, LogitsMode::None, to);
                        for (int s = 0; s < m_S; ++s) {
                            const auto diff = scratch[s].resid[to].middleRows(tok, m_T - tok) -
                                              m_p.corrupted[s].resid[to].middleRows(tok, m_T - tok);
                            const auto grad = m_residGrad[s][to - 1].middleRows(tok, m_T - tok);
                            m_single[k][s](tok, l) = diff.template cast<double>().cwiseProduct(
                                                             grad.template cast<double>()).sum();
                        }
                    }
                }
            }
            report(progress, {++done, total, "attribution"});
        }
    }

    // Windows of mlp/attn layers: the sum of the single-layer estimates (the estimate
    // is linear in the restored difference, and the window's differences are disjoint
    // sites), then the mean over the samples in the metric's terms.
    void combine() {
        CausalTraceResult& r = m_p.result;
        for (TraceKind k : m_t.params.kinds) {
            MatrixD grid = MatrixD::Constant(m_T, m_L, r.probCorrupted);
            for (int tok = m_b0; tok < m_T; ++tok)
                for (int l = 0; l < m_L; ++l) {
                    const auto [lo, hi] = k == TraceKind::Hidden ? std::pair{l, l + 1} : windowOf(l, m_t.params.window, m_L);
                    double sum = 0.0;
                    for (int s = 0; s < m_S; ++s) {
                        double e = 0.0;
                        for (int w = lo; w < hi; ++w) e += m_single[k][s](tok, w);
                        // exp of a first-order log estimate can pass 1 where the linearisation
                        // fails (large restorations); a probability cannot.
                        sum += m_t.params.metric == AttributionMetric::Prob
                                   ? m_probCorrupted[s] + e
                                   : std::min(1.0, m_probCorrupted[s] * std::exp(e));
                    }
                    grid(tok, l) = sum / m_S;
                }
            r.probRestored[k] = std::move(grid);
        }
    }

    Prepared& m_p;
    const TraceSetup& m_t;
    const ModelConfig& m_c;
    int m_S = 0, m_T = 0, m_L = 0, m_b0 = 0;
    std::vector<double> m_probCorrupted;  // per sample, from the inference pass
    std::map<HookSite, long> m_patchBase;
    SingleLayer m_single;
    std::vector<std::vector<Matrix>> m_residGrad;  // [sample][layer] -> [tokens x dModel]
};

}  // namespace

void attributionGrids(Prepared& p, const ProgressFn& progress) { Attribution(p).run(progress); }

}  // namespace mwb::trace_detail
