// mwb routing: which experts a mixture-of-experts model routes each token to.
#include <cstdio>

#include "analysis/experts/expert_routing.h"
#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/cli/superweight_options.h"
#include "data/datasets.h"
#include "metrics/perplexity.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {

void printRouting(const ExpertRoutingResult& r) {
    for (const LayerRoutingResult& l : r.layers) {
        std::printf("layer %d\n", l.layer);
        for (size_t pos = 0; pos < l.tokens.size(); ++pos) {
            std::printf("%6zu %-14.14s", pos, quoted(r.tokens[pos]).c_str());
            const TokenRouting& t = l.tokens[pos];
            for (size_t j = 0; j < t.experts.size(); ++j) std::printf("  %3d (%.3f)", t.experts[j], t.weights[j]);
            std::printf("\n");
        }
    }
}

void printLoad(const ExpertLoad& load) {
    std::printf("share of the routing choices per expert over %ld tokens (even: %.1f%%)\n%6s", load.tokens,
                100.0 / load.nExperts, "layer");
    for (int e = 0; e < load.nExperts; ++e) std::printf(" %6d", e);
    std::printf("\n");
    for (size_t i = 0; i < load.layers.size(); ++i) {
        std::printf("%6d", load.layers[i]);
        for (int e = 0; e < load.nExperts; ++e) std::printf(" %5.1f%%", 100 * load.share[i][size_t(e)]);
        std::printf("\n");
    }
}

}  // namespace

void registerRouting(CLI::App& app) {
    struct Opts {
        std::string model, prompt, ids, text;
        long maxTokens = 4096;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("routing",
                                   "The experts each token is routed to, per mixture-of-experts layer, or their load over a text");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    auto* prompt = cmd->add_option("--prompt", o->prompt, "Prompt text");
    auto* ids = cmd->add_option("--ids", o->ids, "Prompt as token ids, e.g. 464,3290");
    prompt->excludes(ids);
    auto* text = cmd->add_option("--text", o->text, "Instead: the expert load over this text (share of choices per expert)");
    text->excludes(prompt)->excludes(ids);
    cmd->add_option("--max-tokens", o->maxTokens, "With --text: its first N tokens (0: all)")->capture_default_str();
    cmd->add_flag("--json", o->json, "Print JSON: layers[].tokens[].experts and weights");
    cmd->callback([o, prompt, ids, text] {
        if (!*prompt && !*ids && !*text) throw InvalidInput("give the prompt with --prompt TEXT or --ids 1,2,3, or --text FILE");
        if (o->maxTokens < 0) throw InvalidInput("--max-tokens must not be negative");
        const Model m = openModel(o->model);
        if (*text) {
            const ExpertLoad load = expertLoad(m, corpusChunks(m, readTextFile(o->text), o->maxTokens), progressBar());
            if (o->json) {
                printJson(toJson(load));
                return;
            }
            printLoad(load);
            return;
        }
        const std::vector<int> input = *ids ? parseIds(o->ids) : promptIds(m, o->prompt);
        const ExpertRoutingResult r = expertRouting(m, input);
        if (o->json) {
            printJson(toJson(r));
            return;
        }
        printRouting(r);
    });
}

}  // namespace mwb::cli
