// Attribution tracing against the exact trace over a facts file: how often the
// estimate's strongest cell and strongest layer (at the subject's last token, the
// layer ROME would edit) are the exact trace's, the Spearman rank correlation of the
// grids (cells from the subject on: earlier ones are p_corrupted in both), and the
// time of an MLP trace of each method. Facts the model gets wrong are skipped.
//
//   build/bench/attribution_compare MODEL FACTS.json [N=30] [SAMPLES=10] [WINDOW=auto]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "analysis/causal_trace.h"
#include "data/datasets.h"
#include "io/hdf5_model_file.h"
#include "tensor/errors.h"

namespace {

using namespace mwb;

std::vector<double> ranks(const std::vector<double>& v) {
    std::vector<size_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
        for (size_t k = i; k <= j; ++k) r[order[k]] = (i + j) / 2.0;  // ties: mean rank
        i = j + 1;
    }
    return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
    const auto ra = ranks(a), rb = ranks(b);
    const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / ra.size();
    const double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / rb.size();
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < ra.size(); ++i) {
        sab += (ra[i] - ma) * (rb[i] - mb);
        saa += (ra[i] - ma) * (ra[i] - ma);
        sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

struct Variant {
    const char* name;
    AttributionCorrection correction;
    AttributionMetric metric;
};

struct Tally {
    int cell = 0, layer = 0, n = 0;
    double rho = 0.0;
};

double seconds(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc < 3) {
            std::fprintf(stderr, "usage: attribution_compare MODEL FACTS.json [N] [SAMPLES] [WINDOW]\n");
            return 2;
        }
        const Model m = loadModel(argv[1]);
        const auto facts = loadKnownFacts(argv[2]);
        const int wanted = argc > 3 ? std::atoi(argv[3]) : 30;
        CausalTraceParams base;
        base.samples = argc > 4 ? std::atoi(argv[4]) : 10;
        base.window = argc > 5 ? std::atoi(argv[5]) : std::max(1, (m.config.nLayers * 10 + 24) / 48);
        std::vector<std::string> subjects;
        for (const auto& f : facts) subjects.push_back(f.subject);
        base.noise = defaultNoise(m, subjects).sigma;
        const std::vector<Variant> variants = {
            {"AtP (p)", AttributionCorrection::None, AttributionMetric::Prob},
            {"AtP (log p)", AttributionCorrection::None, AttributionMetric::LogProb},
            {"AtP* next block (p)", AttributionCorrection::NextBlock, AttributionMetric::Prob},
        };
        const std::vector<TraceKind> kinds = {TraceKind::Hidden, TraceKind::Mlp, TraceKind::Attn};
        std::vector<std::vector<Tally>> tallies(variants.size(), std::vector<Tally>(kinds.size()));
        double exactMlpTime = 0.0;
        std::vector<double> mlpTime(variants.size(), 0.0);
        int used = 0;
        size_t i = 0;
        for (; i < facts.size() && used < wanted; ++i) {
            const auto& f = facts[i];
            CausalTraceParams p = base;
            const auto exact = traceFact(m, f.prompt, f.subject, f.attribute, p);
            if (!exact.answerIsTopPrediction) continue;
            ++used;
            CausalTraceParams mlp = p;
            mlp.kinds = {TraceKind::Mlp};
            auto t0 = std::chrono::steady_clock::now();
            traceFact(m, f.prompt, f.subject, f.attribute, mlp);
            exactMlpTime += seconds(t0);
            for (size_t v = 0; v < variants.size(); ++v) {
                CausalTraceParams a = p;
                a.method = TraceMethod::Attribution;
                a.correction = variants[v].correction;
                a.metric = variants[v].metric;
                const auto est = traceFact(m, f.prompt, f.subject, f.attribute, a);
                CausalTraceParams am = a;
                am.kinds = {TraceKind::Mlp};
                t0 = std::chrono::steady_clock::now();
                traceFact(m, f.prompt, f.subject, f.attribute, am);
                mlpTime[v] += seconds(t0);
                for (size_t k = 0; k < kinds.size(); ++k) {
                    const MatrixD& x = exact.probRestored.at(kinds[k]);
                    const MatrixD& e = est.probRestored.at(kinds[k]);
                    Eigen::Index xt, xl, et, el;
                    x.maxCoeff(&xt, &xl);
                    e.maxCoeff(&et, &el);
                    Tally& t = tallies[v][k];
                    t.cell += xt == et && xl == el;
                    const int last = exact.subjectEnd - 1;
                    x.row(last).maxCoeff(&xl);
                    e.row(last).maxCoeff(&el);
                    t.layer += xl == el;
                    std::vector<double> xs, es;
                    for (Eigen::Index tok = exact.subjectBegin; tok < x.rows(); ++tok)
                        for (Eigen::Index l = 0; l < x.cols(); ++l) {
                            xs.push_back(x(tok, l));
                            es.push_back(e(tok, l));
                        }
                    t.rho += spearman(xs, es);
                    ++t.n;
                }
            }
            std::fprintf(stderr, "\r%d facts", used);
        }
        std::fprintf(stderr, "\n");
        std::printf("%d facts the model gets right (of the first %zu); %d samples, window %d, noise %.4f\n",
                    used, i, base.samples, base.window, *base.noise);
        std::printf("%-22s %-6s %14s %15s %14s\n", "method", "kind", "strongest cell", "strongest layer",
                    "mean Spearman");
        for (size_t v = 0; v < variants.size(); ++v)
            for (size_t k = 0; k < kinds.size(); ++k) {
                const Tally& t = tallies[v][k];
                std::printf("%-22s %-6s %8d/%-5d %9d/%-5d %14.3f\n", variants[v].name, toString(kinds[k]).c_str(),
                            t.cell, t.n, t.layer, t.n, t.rho / std::max(t.n, 1));
            }
        std::printf("\nMLP trace time over the facts: exact %.3f s\n", exactMlpTime);
        for (size_t v = 0; v < variants.size(); ++v)
            std::printf("  %-22s %.3f s (exact / attribution = %.1f)\n", variants[v].name, mlpTime[v],
                        exactMlpTime / std::max(mlpTime[v], 1e-9));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "attribution_compare: %s\n", e.what());
        return 1;
    }
}
