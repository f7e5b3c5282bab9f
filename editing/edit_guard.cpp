#include "editing/edit_guard.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "metrics/perplexity.h"

namespace mwb {

double samplePerplexity(const Model& model, const std::string& sample, long maxTokens) {
    if (sample.empty()) return 0.0;
    return corpusPerplexity(model, corpusChunks(model, sample, maxTokens)).perplexity;
}

EditGuard judgeEdit(double weightChange, double outputChange, double perplexityBefore, double perplexityAfter,
                    int facts) {
    EditGuard g;
    g.weightChange = weightChange;
    g.outputChange = outputChange;
    g.perplexityBefore = perplexityBefore;
    g.perplexityAfter = perplexityAfter;
    const bool perplexityJump = perplexityBefore > 0 && perplexityAfter > 1.1 * perplexityBefore;
    g.outputChangeLimit = 0.5 * std::sqrt(std::max(1, facts));
    g.destructive = perplexityJump || outputChange > g.outputChangeLimit;
    if (g.destructive) {
        std::ostringstream w;
        w << "this edit looks destructive: it moves the edited layers' output on ordinary text by " << outputChange
          << " x its size (||ΔW||/||W|| = " << weightChange << ")";
        if (perplexityBefore > 0) w << ", perplexity on held-out text " << perplexityBefore << " -> " << perplexityAfter;
        g.warning = w.str();
    }
    return g;
}

nlohmann::json toJson(const EditGuard& g) {
    return {{"weight_change", g.weightChange}, {"output_change", g.outputChange},
            {"perplexity_before", g.perplexityBefore},
            {"perplexity_after", g.perplexityAfter}, {"output_change_limit", g.outputChangeLimit},
            {"destructive", g.destructive}, {"warning", g.warning}};
}

GuardedEdit runGuardedEdit(Model& model, const std::vector<EditRequest>& requests, const EditSpec& spec,
                           const std::string& corpus, const std::string& sample, long guardTokens,
                           const ProgressFn& progress) {
    const double before = samplePerplexity(model, sample, guardTokens);
    GuardedEdit out{runEdit(model, requests, spec, corpus, progress), {}};
    out.guard = judgeEdit(out.run.weightChange, out.run.outputChange, before, samplePerplexity(model, sample, guardTokens),
                          static_cast<int>(requests.size()));
    return out;
}

}  // namespace mwb
