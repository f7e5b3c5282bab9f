#include "analysis/causal_trace.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>

#include "analysis/corrupted_runs.h"
#include "analysis/trace_setup.h"
#include "tokenizer/continuation.h"
#include "tensor/errors.h"
#include "tensor/parallel.h"
#include "model/transformer.h"

namespace mwb {

namespace {

constexpr const char* kKindNames[] = {"hidden", "mlp", "attn"};

double probabilityOf(const RowVector& logits, int id) { return softmax(logits)[id]; }

}  // namespace

namespace trace_detail {

// The reference code's window: layers [l - w/2, l - floor(-w/2)) clipped to the model.
std::pair<int, int> windowOf(int layer, int window, int nLayers) {
    const int lo = std::max(0, layer - window / 2);
    const int hi = std::min(nLayers, layer + (window + 1) / 2);
    return {lo, hi};
}

HookSite moduleSite(TraceKind k) { return k == TraceKind::Mlp ? HookSite::MlpOut : HookSite::AttnOut; }

// Noise sample s added to the subject's embeddings (Meng et al. 2022 §2.1), as hooks
// to which a run's other hooks are added.
Hooks noiseHooks(const TraceSetup& t, int sample, Hooks hooks) {
    return withNoise(HookSite::Embed, 0, t.subjectBegin, t.noise[sample], std::move(hooks));
}

// Patches that restore the clean value of `kind` at (token, layer) — for mlp/attn
// over the window — and, for the severed variant, freeze the same token's module
// at its corrupted value in every later layer.
Hooks restorationHooks(const TraceSetup& t, TraceKind kind, int token, int layer,
                       const RunState* corrupted) {
    Hooks h;
    if (kind == TraceKind::Hidden) {
        h.patches.push_back({HookSite::ResidPost, layer, token,
                             t.clean.resid[layer + 1].row(token).transpose(), PatchMode::Replace});
        if (t.params.severed != Severed::None && corrupted) {
            const HookSite site = t.params.severed == Severed::Mlp ? HookSite::MlpOut : HookSite::AttnOut;
            for (int l = layer + 1; l < t.nLayers; ++l)
                h.patches.push_back({site, l, token, corrupted->captured.at({site, l}).row(token).transpose(),
                                     PatchMode::Replace});
        }
    } else {
        const auto [lo, hi] = windowOf(layer, t.params.window, t.nLayers);
        const HookSite site = moduleSite(kind);
        for (int l = lo; l < hi; ++l)
            h.patches.push_back({site, l, token, t.clean.captured.at({site, l}).row(token).transpose(),
                                 PatchMode::Replace});
    }
    return h;
}

}  // namespace trace_detail

using namespace trace_detail;

namespace {

// The corrupted runs: clean prefix reused, noise added to the subject's embeddings.
// Captures of the clean run stay valid before the subject, where nothing changed.
std::vector<RunState> corruptedRuns(const TraceSetup& t, const Hooks& hooks) {
    std::vector<Hooks> noise;
    for (int s = 0; s < t.params.samples; ++s) noise.push_back(noiseHooks(t, s, hooks));
    return rerunCopies(t.transformer, t.clean, 0, t.subjectBegin, noise);
}

Hooks severedCaptures(const TraceSetup& t) {
    Hooks h;
    if (t.params.severed == Severed::None) return h;
    const HookSite site = t.params.severed == Severed::Mlp ? HookSite::MlpOut : HookSite::AttnOut;
    for (int l = 0; l < t.nLayers; ++l) h.captures.push_back({site, l});
    return h;
}

// Reference behaviour: every restoration is a full run of every sample.
MatrixD traceKindNaive(const TraceSetup& t, TraceKind kind, const std::vector<RunState>& corrupted,
                       const ProgressFn& progress, long& done, long total) {
    MatrixD grid(t.nTokens, t.nLayers);
    for (int token = 0; token < t.nTokens; ++token) {
        for (int layer = 0; layer < t.nLayers; ++layer) {
            std::vector<Hooks> hooks;
            for (int s = 0; s < t.params.samples; ++s)
                hooks.push_back(noiseHooks(t, s, restorationHooks(t, kind, token, layer, &corrupted[s])));
            std::vector<RunState> runs = rerunCopies(t.transformer, t.clean, 0, 0, hooks);
            grid(token, layer) = meanProbability(runs, t.answerId);
        }
        report(progress, {++done, total, "trace"});
    }
    return grid;
}

// Fast path. Exact, bit for bit (the forward pass is batch invariant,
// model/matmul.h), because of what a restoration can change:
//  - positions before the subject are the same in the clean and corrupted runs,
//    so restoring there changes nothing;
//  - a restoration at (token, layer) changes nothing below the first restored
//    layer and nothing before `token`, so the run restarts from the corrupted state
//    at that layer and token, reusing the cached keys/values of earlier positions;
//  - module restorations at one token whose windows start at the same layer patch
//    the same clean values up to the end of the shorter window, so they share that
//    part of the run (restoreWindowsAt);
//  - the hidden restorations of one token run together block by block, each joining
//    at the block after its layer, so that every weight read from memory serves all
//    the runs under way (restoreHiddenAt).
// Tokens are spread over the threads, each with its own scratch copy of the
// corrupted runs; a thread takes tokens from last to first, so that rows an
// earlier run of that thread overwrote (positions >= its token) are never read.
class FastTrace {
public:
    FastTrace(const TraceSetup& t, TraceKind kind, const std::vector<RunState>& corrupted, double probClean,
              MatrixD& grid)
        : m_t(t), m_kind(kind), m_corrupted(corrupted), m_probClean(probClean), m_grid(grid), m_scratch(corrupted) {
        for (auto& s : m_scratch) m_ptrs.push_back(&s);
    }

    void token(int token) {
        if (m_kind == TraceKind::Hidden)
            restoreHiddenAt(token);
        else
            restoreWindowsAt(token);
        scoreCells();
    }

private:
    // The scratch runs take the corrupted residual rows >= token at `layer`.
    void resetRows(int layer, int token) {
        const int rows = m_t.nTokens - token;
        for (size_t s = 0; s < m_scratch.size(); ++s)
            m_scratch[s].resid[layer].middleRows(token, rows) = m_corrupted[s].resid[layer].middleRows(token, rows);
    }

    void run(int fromLayer, int token, const std::vector<Hooks>& hooks, int toLayer) {
        std::vector<const Hooks*> ptrs;
        for (const Hooks& h : hooks) ptrs.push_back(&h);
        m_t.transformer.rerunMany(m_ptrs, fromLayer, token, ptrs, LogitsMode::None, toLayer);
    }

    // A run to the last layer whose probability goes into the grid cells (token, l) for
    // l in `layers`. Only the samples' last residual rows are kept: the logits of all
    // cells of a token are one unembedding product (scoreCells), which gives the same
    // bits as one product per cell (the product is batch invariant) and reads the
    // unembedding, the largest matrix, once instead of once per cell.
    void runToEnd(int fromLayer, int token, const std::vector<Hooks>& hooks, std::vector<int> layers) {
        run(fromLayer, token, hooks, m_t.nLayers);
        for (const RunState& s : m_scratch) m_lastRows.push_back(s.resid[m_t.nLayers].row(m_t.nTokens - 1));
        m_cells.push_back({token, std::move(layers)});
    }

    void scoreCells() {
        if (m_cells.empty()) return;
        Matrix rows(long(m_lastRows.size()), m_t.transformer.config().dModel);
        for (size_t i = 0; i < m_lastRows.size(); ++i) rows.row(long(i)) = m_lastRows[i];
        const Matrix logits = m_t.transformer.unembed(rows);
        const long samples = long(m_scratch.size());
        for (size_t c = 0; c < m_cells.size(); ++c) {
            const double p = meanProbability(logits.middleRows(long(c) * samples, samples), m_t.answerId);
            for (int layer : m_cells[c].layers) m_grid(m_cells[c].token, layer) = p;
        }
        m_lastRows.clear();
        m_cells.clear();
    }

    // The restoration of layer l starts at block l + 1 (the restored resid_post is that
    // block's resid_pre). Restorations join a wavefront as it reaches their block, and
    // every block runs once for all the runs under way: with few rows per run, the
    // products are bound by reading the weights, which this shares. Each run has its
    // own scratch state; their number is capped by memory (kWavefrontBytes), so deep
    // models run the restorations in groups of consecutive layers.
    void restoreHiddenAt(int token) {
        const int nLayers = m_t.nLayers, samples = int(m_corrupted.size()), rows = m_t.nTokens - token;
        const long stateBytes = long(sizeof(float)) * m_t.nTokens *
                                ((nLayers + 1) * long(m_t.transformer.config().dModel) +
                                 2L * nLayers * m_t.transformer.config().kvDim());
        const int group = int(std::clamp(kWavefrontBytes / std::max(1L, stateBytes * samples), 1L, long(nLayers)));
        for (int first = 0; first + 1 < nLayers; first += group) {
            const int last = std::min(first + group, nLayers - 1);  // restorations [first, last)
            while (int(m_pool.size()) < (last - first) * samples) m_pool.push_back(m_corrupted[m_pool.size() % samples]);
            std::vector<Hooks> hooks(size_t(last - first) * samples);
            std::vector<RunState*> runs;
            std::vector<const Hooks*> hookPtrs;
            for (int block = first + 1; block < nLayers; ++block) {
                if (const int layer = block - 1; layer < last) {
                    for (int s = 0; s < samples; ++s) {
                        const size_t i = size_t(layer - first) * samples + s;
                        RunState& run = m_pool[i];
                        run.resid[block].middleRows(token, rows) = m_corrupted[s].resid[block].middleRows(token, rows);
                        hooks[i] = restorationHooks(m_t, m_kind, token, layer, &m_corrupted[s]);
                        hooks[i].patches.front().site = HookSite::ResidPre;
                        hooks[i].patches.front().layer = block;
                        runs.push_back(&run);
                        hookPtrs.push_back(&hooks[i]);
                    }
                }
                m_t.transformer.rerunMany(runs, block, token, hookPtrs, LogitsMode::None, block + 1);
            }
            for (int layer = first; layer < last; ++layer) {
                for (int s = 0; s < samples; ++s)
                    m_lastRows.push_back(m_pool[size_t(layer - first) * samples + s].resid[nLayers].row(m_t.nTokens - 1));
                m_cells.push_back({token, {layer}});
            }
        }
        // After the last block only the last position's own residual reaches its
        // logits: restoring it there gives back the clean output (the mean of equal
        // float probabilities in double is that probability exactly).
        if (token == m_t.nTokens - 1) m_grid(token, nLayers - 1) = m_probClean;
    }

    // Windows [lo, hi) with the same lo form a chain: run [lo, h1) with its
    // patches, branch off to the end without patches (the window [lo, h1)), go on
    // from h1 with the patches of [h1, h2), branch again, and so on. The branch
    // runs only layers >= h_i, so the chain's resid[h_i] is still there after it.
    void restoreWindowsAt(int token) {
        std::map<int, std::map<int, std::vector<int>>> windows;  // lo -> hi -> layers
        for (int layer = 0; layer < m_t.nLayers; ++layer) {
            const auto [lo, hi] = windowOf(layer, m_t.params.window, m_t.nLayers);
            windows[lo][hi].push_back(layer);
        }
        const HookSite site = moduleSite(m_kind);
        for (const auto& [lo, byHi] : windows) {
            resetRows(lo, token);
            int at = lo;
            for (const auto& [hi, layers] : byHi) {
                Hooks patches;
                for (int l = at; l < hi; ++l)
                    patches.patches.push_back({site, l, token, m_t.clean.captured.at({site, l}).row(token).transpose(),
                                               PatchMode::Replace});
                if (hi == m_t.nLayers) {
                    runToEnd(at, token, {patches}, layers);
                } else {
                    run(at, token, {patches}, hi);
                    runToEnd(hi, token, {}, layers);
                }
                at = hi;
            }
        }
    }

    struct Cells {
        int token;
        std::vector<int> layers;
    };

    const TraceSetup& m_t;
    TraceKind m_kind;
    const std::vector<RunState>& m_corrupted;
    double m_probClean;
    MatrixD& m_grid;
    std::vector<RunState> m_scratch;
    std::vector<RunState*> m_ptrs;
    static constexpr long kWavefrontBytes = 1L << 30;  // scratch states of one thread's wavefront
    std::vector<RunState> m_pool;       // the wavefront's runs (hidden kind)
    std::vector<RowVector> m_lastRows;  // per pending cell, one row per sample
    std::vector<Cells> m_cells;
};

MatrixD traceKindFast(const TraceSetup& t, TraceKind kind, const std::vector<RunState>& corrupted,
                      double probCorrupted, double probClean, const ProgressFn& progress, long& done,
                      long total) {
    MatrixD grid = MatrixD::Constant(t.nTokens, t.nLayers, probCorrupted);
    const int count = t.nTokens - t.subjectBegin;
    // Each thread has its own scratch runs and takes tokens from the last to the first.
    ParallelFor loop(Schedule::Dynamic, count > 1);
    loop.run(
        count, [&] { return FastTrace(t, kind, corrupted, probClean, grid); },
        [&](FastTrace& trace, int i) {
            trace.token(t.nTokens - 1 - i);
            // One report at a time; it throws Cancelled when asked to stop.
            loop.serialized([&] { report(progress, {++done, total, "trace"}); });
        });
    done += t.subjectBegin;
    return grid;
}

std::vector<std::string> tokenTexts(const Tokenizer& tok, const std::vector<int>& ids) {
    std::vector<std::string> out;
    for (int id : ids) out.push_back(tok.tokenDisplay(id));
    return out;
}

}  // namespace

std::string toString(TraceKind k) { return kKindNames[static_cast<int>(k)]; }

TraceKind parseTraceKind(const std::string& s) {
    for (int i = 0; i < 3; ++i)
        if (s == kKindNames[i]) return static_cast<TraceKind>(i);
    throw InvalidInput("unknown trace kind " + quote(s) + " (expected hidden, mlp or attn)");
}

std::string toString(TraceMethod m) { return m == TraceMethod::Exact ? "exact" : "attribution"; }

TraceMethod parseTraceMethod(const std::string& s) {
    if (s == "exact") return TraceMethod::Exact;
    if (s == "attribution") return TraceMethod::Attribution;
    throw InvalidInput("unknown trace method " + quote(s) + " (expected exact or attribution)");
}

int defaultTraceWindow(int nLayers) { return std::max(1, (nLayers * 10 + 24) / 48); }

std::string recallWarning(const CausalTraceResult& r) {
    auto percent = [](double p) {
        char text[32];
        std::snprintf(text, sizeof text, "%.1f %%", 100.0 * p);
        return std::string(text);
    };
    if (r.probClean < 0.2)
        return "the model gives '" + r.answer + "' only " + percent(r.probClean) +
               " on the clean prompt, so this is not a confident recall and the map shows little more than noise";
    if (r.probCorrupted >= 0.5 * r.probClean)
        return "corrupting the subject leaves '" + r.answer + "' at " + percent(r.probCorrupted) + " (clean " +
               percent(r.probClean) + "), so the model does not get the answer from the subject and the map means little";
    return {};
}

NoiseLevel defaultNoise(const Model& model, const std::vector<std::string>& subjects) {
    const Matrix& emb = model.weights.tokenEmbedding;
    ActivationSpread spread;
    if (subjects.empty()) {
        for (Eigen::Index i = 0; i < emb.rows(); ++i) spread.add(emb.row(i));
    } else {
        for (const auto& s : subjects)
            for (int id : model.tokenizer.encodeIds(s, false)) spread.add(emb.row(id));
    }
    if (spread.count < 2) throw InvalidInput("no subject tokens to measure the embedding spread on");
    NoiseLevel n;
    n.sigma = spread.threeSigma();
    n.source = subjects.empty()
                   ? "3 x std of the token-embedding matrix"
                   : "3 x std of the embeddings of " + std::to_string(subjects.size()) + " subjects";
    return n;
}

Prepared trace_detail::prepare(const Model& model, const std::string& prompt, const std::string& subject,
                               const std::string& answer, const CausalTraceParams& params,
                               const Hooks& corruptedHooks) {
    if (params.samples < 1) throw InvalidInput("the number of noise samples must be at least 1");
    if (params.window < 1) throw InvalidInput("the window must be at least 1 layer");
    if (params.noise && (*params.noise < 0 || !std::isfinite(*params.noise)))
        throw InvalidInput("the noise level must be a finite number >= 0");
    if (prompt.empty()) throw InvalidInput("the prompt is empty");
    Prepared p;
    p.transformer = std::make_unique<Transformer>(model, nullptr, WeightPacking::Once);
    const Transformer& transformer = *p.transformer;
    const Encoding enc = model.tokenizer.encode(prompt);
    transformer.validateTokens(enc.ids);
    const auto [subjectBegin, subjectEnd] = findSubjectTokens(enc, prompt, subject);

    CausalTraceResult& r = p.result;
    r.ids = enc.ids;
    r.tokens = tokenTexts(model.tokenizer, enc.ids);
    r.subjectBegin = subjectBegin;
    r.subjectEnd = subjectEnd;
    r.params = params;
    r.noise = params.noise ? NoiseLevel{*params.noise, "given"} : defaultNoise(model);

    p.setup.reset(new TraceSetup{transformer, r.params, static_cast<int>(enc.ids.size()),
                                 model.config.nLayers, subjectBegin, subjectEnd, -1, {}, {}});
    TraceSetup& t = *p.setup;
    Hooks captureModules;
    for (int l = 0; l < t.nLayers; ++l) {
        captureModules.captures.push_back({HookSite::MlpOut, l});
        captureModules.captures.push_back({HookSite::AttnOut, l});
    }
    t.clean = transformer.run(enc.ids, captureModules);
    Eigen::Index top;
    t.clean.lastLogits().maxCoeff(&top);
    t.answerId = answer.empty() ? static_cast<int>(top) : continuationIds(model.tokenizer, prompt, answer)[0];
    r.answerId = t.answerId;
    r.answer = model.tokenizer.tokenDisplay(t.answerId);
    r.answerIsTopPrediction = t.answerId == top;
    r.probClean = probabilityOf(t.clean.lastLogits(), t.answerId);

    // One set of noise samples for every run, as in the reference (fixed seed).
    std::mt19937_64 rng(params.seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int s = 0; s < params.samples; ++s) {
        Matrix n(subjectEnd - subjectBegin, model.config.dModel);
        for (Eigen::Index i = 0; i < n.size(); ++i) n.data()[i] = static_cast<float>(r.noise.sigma * normal(rng));
        t.noise.push_back(std::move(n));
    }
    Hooks hooks = severedCaptures(t);
    hooks.captures.insert(hooks.captures.end(), corruptedHooks.captures.begin(), corruptedHooks.captures.end());
    hooks.patches.insert(hooks.patches.end(), corruptedHooks.patches.begin(), corruptedHooks.patches.end());
    p.corrupted = corruptedRuns(t, hooks);
    std::vector<RunState*> ptrs;
    for (auto& c : p.corrupted) ptrs.push_back(&c);
    r.probCorrupted = meanProbability(ptrs, t.answerId);
    return p;
}

namespace {

// The exact restoration of the `verify` cells with the highest estimates of each kind,
// as full runs of every noise sample (the naive path, equal to the fast one bit for
// bit), so that the check does not depend on the estimate's own shortcuts.
void verifyCells(Prepared& p, const ProgressFn& progress) {
    CausalTraceResult& r = p.result;
    const TraceSetup& t = *p.setup;
    std::vector<VerifiedCell> cells;
    for (const auto& [kind, grid] : r.probRestored) {
        std::vector<std::pair<int, int>> order;
        for (int tok = 0; tok < grid.rows(); ++tok)
            for (int l = 0; l < grid.cols(); ++l) order.push_back({tok, l});
        // Highest estimate first; ties by position, so that the choice is reproducible.
        std::stable_sort(order.begin(), order.end(),
                         [&](const auto& a, const auto& b) { return grid(a.first, a.second) > grid(b.first, b.second); });
        order.resize(std::min<size_t>(order.size(), static_cast<size_t>(r.params.verify)));
        for (const auto& [tok, l] : order) cells.push_back({kind, tok, l, grid(tok, l), 0.0});
    }
    const long total = static_cast<long>(cells.size());
    for (long i = 0; i < total; ++i) {
        report(progress, {i, total, "verify"});
        VerifiedCell& c = cells[i];
        std::vector<Hooks> hooks;
        for (int s = 0; s < t.params.samples; ++s)
            hooks.push_back(noiseHooks(t, s, restorationHooks(t, c.kind, c.token, c.layer, nullptr)));
        c.exact = meanProbability(rerunCopies(t.transformer, t.clean, 0, 0, hooks), t.answerId);
    }
    report(progress, {total, total, "verify"});
    r.verified = std::move(cells);
}

}  // namespace

CausalTraceResult traceFact(const Model& model, const std::string& prompt, const std::string& subject,
                            const std::string& answer, const CausalTraceParams& params,
                            const ProgressFn& progress) {
    if (params.kinds.empty()) throw InvalidInput("no trace kind chosen");
    for (TraceKind kind : params.kinds)
        if (kind != TraceKind::Hidden && params.severed != Severed::None)
            throw InvalidInput("the severed variant applies to the hidden-state trace only");
    if (params.verify < 0) throw InvalidInput("the number of cells to verify must be at least 0");
    if (params.method == TraceMethod::Attribution) {
        if (params.severed != Severed::None)
            throw InvalidInput("the severed variant is traced exactly only; use --method exact");
        if (params.naive) throw InvalidInput("the naive variant applies to the exact trace only");
        Prepared p = prepare(model, prompt, subject, answer, params);
        const long verifyRuns = static_cast<long>(params.kinds.size()) * params.verify;
        attributionGrids(p, progressSpan(progress, 0.0, verifyRuns > 0 ? 0.8 : 1.0));
        if (verifyRuns > 0) verifyCells(p, progressSpan(progress, 0.8, 1.0));
        return std::move(p.result);
    }
    if (params.verify > 0) throw InvalidInput("verifying cells applies to an attribution trace only");
    Prepared p = prepare(model, prompt, subject, answer, params);
    CausalTraceResult& r = p.result;
    const TraceSetup& t = *p.setup;
    long done = 0;
    const long total = static_cast<long>(params.kinds.size()) * t.nTokens;
    report(progress, {0, total, "trace"});
    for (TraceKind kind : params.kinds)
        r.probRestored[kind] = params.naive
            ? traceKindNaive(t, kind, p.corrupted, progress, done, total)
            : traceKindFast(t, kind, p.corrupted, r.probCorrupted, r.probClean, progress, done, total);
    return std::move(p.result);
}

int editLayerFromTraces(const CausalTraceResult& windowed, const CausalTraceResult& single) {
    if (!windowed.probRestored.count(TraceKind::Mlp) || !single.probRestored.count(TraceKind::Mlp) ||
        single.params.window != 1)
        throw InvalidInput("choosing the edit layer needs an MLP trace and a single-layer MLP trace");
    const int nLayers = static_cast<int>(windowed.probRestored.at(TraceKind::Mlp).cols());
    Eigen::Index best;
    windowed.probRestored.at(TraceKind::Mlp).row(windowed.subjectEnd - 1).maxCoeff(&best);
    // Restoring a window cannot tell which of its layers carries the fact, and the peak
    // window's label sits above its first layer ([l - w/2, l + w/2)): with a window of
    // 2 a fact held by layer 0's MLP peaks at "layer 1". Single layers decide, within
    // the peak window only.
    const auto [lo, hi] = windowOf(static_cast<int>(best), windowed.params.window, nLayers);
    single.probRestored.at(TraceKind::Mlp).row(single.subjectEnd - 1).segment(lo, hi - lo).maxCoeff(&best);
    return lo + static_cast<int>(best);
}

int editLayerAfterTrace(const Model& model, const std::string& prompt, const std::string& subject,
                        const std::string& answer, const CausalTraceResult& windowed, const ProgressFn& progress) {
    if (!windowed.probRestored.count(TraceKind::Mlp))
        throw InvalidInput("choosing the edit layer needs a trace of the MLP outputs");
    if (windowed.params.window == 1) return editLayerFromTraces(windowed, windowed);
    CausalTraceParams single = windowed.params;
    single.window = 1;
    single.kinds = {TraceKind::Mlp};
    return editLayerFromTraces(windowed, traceFact(model, prompt, subject, answer, single, progress));
}

int mlpPeakLayer(const Model& model, const std::string& prompt, const std::string& subject) {
    CausalTraceParams p;
    p.kinds = {TraceKind::Mlp};
    p.window = defaultTraceWindow(model.config.nLayers);
    return editLayerAfterTrace(model, prompt, subject, "", traceFact(model, prompt, subject, "", p));
}

int mlpPeakLayer(const Model& model, const std::vector<std::pair<std::string, std::string>>& facts,
                 size_t maxTraced) {
    if (facts.empty()) throw InvalidInput("no facts to trace");
    const size_t traced = std::min(facts.size(), std::max<size_t>(1, maxTraced));
    std::map<int, int> votes;
    for (size_t t = 0; t < traced; ++t) {
        const auto& [prompt, subject] = facts[t * facts.size() / traced];
        ++votes[mlpPeakLayer(model, prompt, subject)];
    }
    // max_element keeps the first of equals: the lowest layer.
    return std::ranges::max_element(votes, {}, [](const auto& v) { return v.second; })->first;
}

double restoredProbability(const Model& model, const std::string& prompt, const std::string& subject,
                           const std::string& answer, const CausalTraceParams& params,
                           const std::vector<std::pair<int, int>>& hiddenStates) {
    CausalTraceParams plain = params;
    plain.severed = Severed::None;
    Prepared p = prepare(model, prompt, subject, answer, plain);
    const TraceSetup& t = *p.setup;
    Hooks hooks;
    for (const auto& [token, layer] : hiddenStates) {
        if (token < 0 || token >= t.nTokens || layer < 0 || layer >= t.nLayers)
            throw InvalidInput("restored state (token " + std::to_string(token) + ", layer " +
                               std::to_string(layer) + ") is outside the prompt or the model");
        hooks.patches.push_back({HookSite::ResidPost, layer, token,
                                 t.clean.resid[layer + 1].row(token).transpose(), PatchMode::Replace});
    }
    std::vector<RunState*> ptrs;
    for (auto& c : p.corrupted) ptrs.push_back(&c);
    t.transformer.rerunMany(ptrs, 0, 0, {&hooks});
    return meanProbability(ptrs, t.answerId);
}

namespace {
nlohmann::json gridJson(const MatrixD& m) {
    nlohmann::json rows = nlohmann::json::array();
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
        std::vector<double> row(m.cols());
        for (Eigen::Index j = 0; j < m.cols(); ++j) row[j] = m(i, j);
        rows.push_back(row);
    }
    return rows;
}

nlohmann::json paramsJson(const CausalTraceParams& p, const NoiseLevel& n) {
    std::vector<std::string> kinds;
    for (auto k : p.kinds) kinds.push_back(toString(k));
    const char* severed[] = {"none", "mlp", "attn"};
    return {{"kinds", kinds}, {"samples", p.samples}, {"window", p.window}, {"noise", n.sigma},
            {"noise_source", n.source}, {"seed", p.seed}, {"severed", severed[static_cast<int>(p.severed)]},
            {"naive", p.naive}, {"method", toString(p.method)},
            {"correction", p.correction == AttributionCorrection::None ? "none" : "next-block"},
            {"metric", p.metric == AttributionMetric::Prob ? "prob" : "logprob"}, {"verify", p.verify}};
}
}  // namespace

nlohmann::json toJson(const CausalTraceResult& r) {
    nlohmann::json kinds = nlohmann::json::object(), effects = nlohmann::json::object();
    for (const auto& [k, grid] : r.probRestored) {
        kinds[toString(k)] = gridJson(grid);
        effects[toString(k)] = gridJson(r.indirectEffect(k));
    }
    nlohmann::json verified = nlohmann::json::array();
    for (const VerifiedCell& v : r.verified)
        verified.push_back({{"kind", toString(v.kind)}, {"token", v.token}, {"layer", v.layer},
                            {"estimated", v.estimated}, {"exact", v.exact}});
    nlohmann::json j = {{"tokens", r.tokens}, {"ids", r.ids}, {"subject_range", {r.subjectBegin, r.subjectEnd}},
            {"answer", r.answer}, {"answer_id", r.answerId}, {"answer_is_top_prediction", r.answerIsTopPrediction},
            {"p_clean", r.probClean}, {"p_corrupted", r.probCorrupted}, {"kinds", kinds},
            {"indirect_effect", effects}, {"method", toString(r.params.method)},
            {"params", paramsJson(r.params, r.noise)}};
    if (r.params.verify > 0) j["verified"] = verified;
    return j;
}

nlohmann::json toJson(const AverageTraceResult& r) {
    nlohmann::json kinds = nlohmann::json::object(), effects = nlohmann::json::object();
    for (const auto& [k, grid] : r.probRestored) kinds[toString(k)] = gridJson(grid);
    for (const auto& [k, grid] : r.indirectEffect) effects[toString(k)] = gridJson(grid);
    return {{"categories", AverageTraceResult::kCategories}, {"facts_used", r.factsUsed},
            {"facts_skipped", r.factsSkipped}, {"p_clean", r.meanProbClean},
            {"p_corrupted", r.meanProbCorrupted}, {"kinds", kinds}, {"indirect_effect", effects},
            {"method", toString(r.params.method)}, {"params", paramsJson(r.params, r.noise)}};
}

}  // namespace mwb
