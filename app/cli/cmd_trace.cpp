#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

#include "analysis/causal_trace.h"
#include "analysis/experts/expert_trace.h"
#include "cluster/shard_job.h"
#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/plots/figure_export.h"
#include "app/plots/expert_figure.h"
#include "app/plots/trace_figure.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {

struct TraceOpts {
    std::string model, prompt, subject, answer, facts, out, checkpoint, kinds = "hidden,mlp,attn", severed = "none", png, pdf;
    std::string method = "exact", correction = "none", metric = "prob";
    int samples = 10, window = 0, limit = 0, verify = 0;  // window 0: defaultTraceWindow
    std::optional<double> noise;  // unset: 3 x the embeddings' std
    uint64_t seed = 1;
    bool json = false, naive = false, keepWrong = false, experts = false;
};

CausalTraceParams paramsFrom(const TraceOpts& o) {
    CausalTraceParams p;
    p.kinds.clear();
    std::stringstream in(o.kinds);
    std::string k;
    while (std::getline(in, k, ','))
        if (!k.empty()) p.kinds.push_back(parseTraceKind(k));
    p.samples = o.samples;
    p.window = o.window;
    p.noise = o.noise;  // checked by the trace: finite and >= 0
    p.seed = o.seed;
    p.naive = o.naive;
    if (o.severed == "mlp") p.severed = Severed::Mlp;
    else if (o.severed == "attn") p.severed = Severed::Attn;
    else if (o.severed != "none") throw InvalidInput("--severed must be none, mlp or attn");
    p.method = parseTraceMethod(o.method);
    if (o.correction == "next-block") p.correction = AttributionCorrection::NextBlock;
    else if (o.correction != "none") throw InvalidInput("--correction must be none or next-block");
    if (o.metric == "logprob") p.metric = AttributionMetric::LogProb;
    else if (o.metric != "prob") throw InvalidInput("--metric must be prob or logprob");
    if (p.method == TraceMethod::Exact && (o.correction != "none" || o.metric != "prob"))
        throw InvalidInput("--correction and --metric apply to --method attribution only");
    p.verify = o.verify;  // checked by the trace: >= 0, attribution only
    return p;
}

// A text heatmap: one row per token, one column per layer, shaded by the value.
void printGrid(const CausalTraceResult& r, TraceKind kind) {
    const MatrixD& g = r.probRestored.at(kind);
    const char* shades = " .:-=+*#%@";
    const double lo = r.probCorrupted, hi = std::max(r.probClean, g.maxCoeff());
    std::printf("\n%s: p(%s) after restoring %s (columns: layers 0..%ld; ' ' = corrupted %.3f, '@' = %.3f)\n",
                toString(kind).c_str(), r.answer.c_str(),
                kind == TraceKind::Hidden ? "one layer's hidden state"
                                          : ("a window of " + std::to_string(r.params.window) + " " +
                                             toString(kind) + " layers").c_str(),
                static_cast<long>(g.cols()) - 1, lo, hi);
    for (Eigen::Index t = 0; t < g.rows(); ++t) {
        const bool subject = t >= r.subjectBegin && t < r.subjectEnd;
        std::string label = nlohmann::json(r.tokens[t]).dump() + (subject ? "*" : "");
        std::printf("%16.16s |", label.c_str());
        Eigen::Index best;
        g.row(t).maxCoeff(&best);
        for (Eigen::Index l = 0; l < g.cols(); ++l) {
            const double f = hi > lo ? (g(t, l) - lo) / (hi - lo) : 0.0;
            std::putchar(shades[std::clamp(static_cast<int>(f * 9.999), 0, 9)]);
        }
        std::printf("| max %.3f at layer %ld\n", g.row(t).maxCoeff(), static_cast<long>(best));
    }
}

void printVerified(const CausalTraceResult& r) {
    std::printf("\nverified cells: the estimate against the exact restoration (same noise samples)\n");
    std::printf("%-6s %16s %5s %10s %10s %10s\n", "kind", "token", "layer", "estimated", "exact", "error");
    for (const VerifiedCell& v : r.verified) {
        const std::string label = nlohmann::json(r.tokens[v.token]).dump();
        std::printf("%-6s %16.16s %5d %10.4f %10.4f %+10.4f\n", toString(v.kind).c_str(), label.c_str(), v.layer,
                    v.estimated, v.exact, v.estimated - v.exact);
    }
}

void runTrace(const TraceOpts& o, const CLI::Option& prompt, const cluster::Communicator& comm);

}  // namespace

void registerTrace(CLI::App& app) {
    auto o = std::make_shared<TraceOpts>();
    auto* cmd = app.add_subcommand("trace", "Causal tracing (ROME section 2): where does the model recall a fact?");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    auto* prompt = cmd->add_option("--prompt", o->prompt, "Prompt that ends where the answer starts");
    cmd->add_option("--subject", o->subject, "Subject in the prompt whose tokens are corrupted");
    cmd->add_option("--answer", o->answer, "Expected answer (default: the model's own top prediction)");
    auto* facts = cmd->add_option("--facts", o->facts, "Average over a known-facts JSON file instead");
    facts->excludes(prompt);
    cmd->add_option("--out", o->out, "With --facts: write the averaged result as JSON here");
    cmd->add_option("--limit", o->limit, "With --facts: use only the first N facts");
    cmd->add_flag("--keep-wrong", o->keepWrong, "With --facts: also average facts the model gets wrong");
    cmd->add_option("--kind", o->kinds, "Comma-separated kinds: hidden, mlp, attn")->capture_default_str();
    cmd->add_option("--samples", o->samples, "Noise samples")->capture_default_str();
    cmd->add_option("--window", o->window,
                    "Layers restored together for mlp/attn (default: round(layers x 10 / 48), at least 1)");
    cmd->add_option("--noise", o->noise, "Absolute noise sigma (default: 3 x embedding std)");
    cmd->add_option("--seed", o->seed, "Noise seed")->capture_default_str();
    cmd->add_option("--severed", o->severed, "Freeze later mlp or attn of the token: none, mlp, attn")
        ->capture_default_str();
    cmd->add_flag("--naive", o->naive, "Recompute every run in full (reference behaviour, slow)");
    cmd->add_option("--method", o->method,
                    "exact: every restoration run; attribution: first-order estimate from gradients")
        ->capture_default_str();
    cmd->add_option("--correction", o->correction,
                    "With --method attribution: none, or next-block (AtP*: the first attention layer after "
                    "each restoration runs exactly)")
        ->capture_default_str();
    cmd->add_option("--metric", o->metric, "With --method attribution: differentiate prob or logprob")
        ->capture_default_str();
    cmd->add_option("--verify", o->verify,
                    "With --method attribution: run the K highest estimated cells of each kind exactly")
        ->capture_default_str();
    cmd->add_flag("--experts", o->experts,
                  "Mixture of experts: restore each expert's contribution at the subject's last token (layer x expert grid)");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_option("--png", o->png, "Also draw the heatmaps into this PNG file");
    cmd->add_option("--pdf", o->pdf, "Also draw the heatmaps into this PDF file");
    addCheckpointOption(cmd, o->checkpoint);
    cmd->callback([o, prompt] {
        const cluster::Communicator& comm = cluster::Communicator::world();
        cluster::runAgreed(comm, [&] { runTrace(*o, *prompt, comm); });
    });
}

namespace {

// The work of `mwb trace`, on every rank of the job (inside cluster::runAgreed).
void runTrace(const TraceOpts& o, const CLI::Option& prompt, const cluster::Communicator& comm) {
    if (o.window < 0) throw InvalidInput("--window must be at least 1");
    CausalTraceParams params = paramsFrom(o);
    const Model m = openModel(o.model);
    if (o.window == 0) params.window = defaultTraceWindow(m.config.nLayers);
    if (!o.facts.empty()) {
        if (o.verify != 0) throw InvalidInput("--verify applies to a single prompt, not to --facts");
        auto list = parseKnownFacts(readOnRoot(comm, o.facts), o.facts);
        if (o.limit > 0 && static_cast<size_t>(o.limit) < list.size()) list.resize(o.limit);
        const AverageTraceResult avg = traceFacts(m, list, params, !o.keepWrong, progressBar(),
                                                  {.comm = &comm, .checkpoint = o.checkpoint});
        if (!comm.isRoot()) return;
        const auto j = toJson(avg);
        plots::exportFigures(plots::averageTraceFigure(avg, m.config.name), o.png, o.pdf);
        if (!o.out.empty()) writeOutput(o.out, j.dump(1) + "\n");
        if (o.json) { printJson(j); return; }
        std::printf("%d facts averaged (%d skipped: the model's top-1 was not the attribute); noise %.4f (%s)\n",
                    avg.factsUsed, avg.factsSkipped, avg.noise.sigma, avg.noise.source.c_str());
        std::printf("mean p(answer): clean %.4f, corrupted %.4f\n", avg.meanProbClean, avg.meanProbCorrupted);
        for (const auto& [kind, grid] : avg.indirectEffect) {
            std::printf("\naverage indirect effect, %s (rows: token categories; columns: layers)\n",
                        toString(kind).c_str());
            for (int c = 0; c < 6; ++c) {
                std::printf("%24s", AverageTraceResult::kCategories[c]);
                for (Eigen::Index l = 0; l < grid.cols(); ++l) std::printf(" %6.3f", grid(c, l));
                std::printf("\n");
            }
        }
        return;
    }
    if (comm.size() > 1)
        throw InvalidInput("one prompt is traced by one process; --facts FILE splits a facts file over the ranks");
    if (!prompt) throw InvalidInput("give --prompt and --subject, or --facts FILE");
    if (o.subject.empty()) throw InvalidInput("--subject is required with --prompt");
    if (o.experts) {
        if (params.method != TraceMethod::Exact || params.naive || params.severed != Severed::None || o.verify != 0)
            throw InvalidInput("--experts is an exact trace of single experts; it takes --samples, --noise and --seed only");
        const ExpertTraceResult r = traceExperts(m, o.prompt, o.subject, o.answer, params, progressBar());
        plots::exportFigures(plots::expertTraceFigure(r), o.png, o.pdf);
        if (o.json) {
            printJson(toJson(r));
            return;
        }
        std::printf("answer %s: p clean %.4f, p corrupted %.4f (noise %.4f; %d samples); at token %d %s\n",
                    nlohmann::json(r.answer).dump().c_str(), r.probClean, r.probCorrupted, r.noise.sigma, r.samples,
                    r.subjectEnd - 1, nlohmann::json(r.tokens[size_t(r.subjectEnd - 1)]).dump().c_str());
        std::printf("p(answer) with one expert's clean contribution restored (rows: layers; columns: experts; "
                    "* routed in the clean run)\n%6s", "");
        for (int e = 0; e < r.nExperts; ++e) std::printf(" %7d", e);
        std::printf("\n");
        for (size_t i = 0; i < r.layers.size(); ++i) {
            std::printf("%6d", r.layers[i]);
            for (int e = 0; e < r.nExperts; ++e) {
                const bool routed = std::find(r.cleanExperts[i].begin(), r.cleanExperts[i].end(), e) != r.cleanExperts[i].end();
                std::printf(" %6.3f%s", r.probRestored(Eigen::Index(i), e), routed ? "*" : " ");
            }
            std::printf("\n");
        }
        return;
    }
    const CausalTraceResult r = traceFact(m, o.prompt, o.subject, o.answer, params, progressBar());
    plots::exportFigures(plots::traceFigure(r, m.config.name), o.png, o.pdf);
    const std::string warning = recallWarning(r);
    if (!warning.empty()) std::fprintf(stderr, "warning: %s\n", warning.c_str());
    if (o.json) {
        nlohmann::json j = toJson(r);
        if (!warning.empty()) j["warning"] = warning;
        printJson(j);
        return;
    }
    std::printf("answer %s: p clean %.4f, p corrupted %.4f (noise %.4f, %s; %d samples)\n",
                nlohmann::json(r.answer).dump().c_str(), r.probClean, r.probCorrupted, r.noise.sigma,
                r.noise.source.c_str(), r.params.samples);
    if (r.params.method == TraceMethod::Attribution)
        std::printf("method: attribution (first-order estimates of the restored probabilities)\n");
    if (!r.answerIsTopPrediction) std::printf("note: the model's top prediction is not this answer\n");
    for (const auto& [kind, grid] : r.probRestored) printGrid(r, kind);
    if (!r.verified.empty()) printVerified(r);
}

}  // namespace

}  // namespace mwb::cli
