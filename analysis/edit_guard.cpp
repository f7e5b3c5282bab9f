#include "analysis/edit_guard.h"

#include <sstream>

#include "analysis/perplexity.h"

namespace mwb {

double samplePerplexity(const Model& model, const std::string& sample, long maxTokens) {
    if (sample.empty()) return 0.0;
    return corpusPerplexity(model, corpusChunks(model, sample, maxTokens)).perplexity;
}

EditGuard judgeEdit(double weightChange, double outputChange, double perplexityBefore, double perplexityAfter) {
    EditGuard g{weightChange, outputChange, perplexityBefore, perplexityAfter, false, {}};
    const bool perplexityJump = perplexityBefore > 0 && perplexityAfter > 1.1 * perplexityBefore;
    g.destructive = perplexityJump || outputChange > 0.5;
    if (g.destructive) {
        std::ostringstream w;
        w << "this edit looks destructive: it moves the edited layers' output on ordinary text by " << outputChange
          << " x its size (||ΔW||/||W|| = " << weightChange << "), perplexity on held-out text " << perplexityBefore
          << " -> " << perplexityAfter;
        g.warning = w.str();
    }
    return g;
}

nlohmann::json toJson(const EditGuard& g) {
    return {{"weight_change", g.weightChange}, {"output_change", g.outputChange},
            {"perplexity_before", g.perplexityBefore},
            {"perplexity_after", g.perplexityAfter}, {"destructive", g.destructive}, {"warning", g.warning}};
}

}  // namespace mwb
