// mwb lens: the logit lens — top tokens read out of the residual stream after every
// layer, and a target token's probability per layer.
#include <cstdio>

#include "analysis/logit_lens.h"
#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/cli/superweight_options.h"
#include "app/plots/figure_export.h"
#include "app/plots/lens_figure.h"
#include "tokenizer/continuation.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {

void printLens(const LogitLensResult& r) {
    std::printf("top-1 token read out after each layer (rows: layers, columns: positions)\n%6s", "");
    for (const auto& t : r.tokens) std::printf(" %10.10s", quoted(t).c_str());
    std::printf("\n");
    for (size_t l = 0; l < r.top.size(); ++l) {
        std::printf("%6zu", l);
        for (const auto& list : r.top[l]) std::printf(" %10.10s", quoted(list.front().token).c_str());
        std::printf("\n");
    }
    const size_t last = r.tokens.size() - 1;
    std::printf("\nat the last position %s, top %d per layer:\n", quoted(r.tokens[last]).c_str(), r.topK);
    for (size_t l = 0; l < r.top.size(); ++l) {
        std::printf("%6zu", l);
        for (const auto& t : r.top[l][last]) std::printf("  %s %.1f%%", quoted(t.token).c_str(), 100 * t.prob);
        std::printf("\n");
    }
    if (r.targetId >= 0) {
        std::printf("\np(%s) at the last position per layer:\n", quoted(r.target).c_str());
        for (size_t l = 0; l < r.targetProb.size(); ++l)
            std::printf("%6zu  %.6f\n", l, r.targetProb[l][last]);
    }
}

}  // namespace

void registerLens(CLI::App& app) {
    struct Opts {
        std::string model, prompt, target, png, pdf;
        int top = 5, targetId = -1;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("lens", "Logit lens: the residual stream read out after every layer");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--prompt", o->prompt, "Prompt text")->required();
    cmd->add_option("--top", o->top, "Top tokens per layer and position")->capture_default_str();
    auto* target = cmd->add_option("--target", o->target,
                                   "Target continuation; its first token's probability is tracked (a leading space "
                                   "is implied, as in the fact data sets)");
    auto* targetId = cmd->add_option("--target-id", o->targetId, "Target token id instead of --target");
    target->excludes(targetId);
    cmd->add_flag("--json", o->json, "Print JSON: top[layer][pos][k] and target.prob[layer][pos]");
    cmd->add_option("--png", o->png, "Draw the grid into this PNG file (coloured by the target when given)");
    cmd->add_option("--pdf", o->pdf, "Draw the grid into this PDF file");
    cmd->callback([o, target] {
        const Model m = openModel(o->model);
        const std::vector<int> ids = promptIds(m, o->prompt);
        int id = o->targetId;
        if (*target) id = continuationIds(m.tokenizer, o->prompt, o->target).front();
        const LogitLensResult r = logitLens(m, ids, o->top, id);
        plots::exportFigures(plots::lensFigure(r, id >= 0), o->png, o->pdf);
        if (o->json) {
            printJson(toJson(r));
            return;
        }
        printLens(r);
    });
}

}  // namespace mwb::cli
