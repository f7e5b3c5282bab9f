// mwb superexperts: the experts whose down projection makes the massive activations
// (Su et al. 2025), and what removing them does against removing as many random ones.
#include <cstdio>
#include <optional>

#include "analysis/experts/super_experts.h"
#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/cli/edit_support.h"
#include "data/datasets.h"
#include "app/cli/superweight_options.h"
#include "metrics/perplexity.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {

void printPeaks(const SuperExpertResult& r, int rows) {
    std::printf("calibration: %ld tokens; peak |down-projection output| per expert: %.4g at the %.4g%% percentile, "
                "%.4g the largest\n",
                r.tokens, r.percentileValue, r.params.percentile, r.largestPeak);
    std::printf("layers where a massive activation forms:");
    if (r.formingLayers.empty()) std::printf(" none");
    for (int l : r.formingLayers) std::printf(" %d", l);
    std::printf("\n");
    const std::vector<ExpertPeak> sorted = r.byPeak();
    std::printf("%6s %7s %10s %8s %8s  %s\n", "layer", "expert", "peak", "channel", "routed", "token");
    for (int i = 0; i < rows && i < int(sorted.size()); ++i) {
        const ExpertPeak& p = sorted[size_t(i)];
        std::printf("%6d %7d %10.4g %8d %8ld  %s\n", p.layer, p.expert, p.peak, p.channel, p.tokensRouted,
                    p.pos >= 0 ? quoted(p.token).c_str() : "-");
    }
    if (r.superExperts.empty()) {
        std::printf("super experts: none (no expert's peak is above the percentile and a tenth of the largest in a "
                    "layer where a massive activation forms)\n");
        return;
    }
    std::printf("super experts:");
    for (const ExpertPeak& p : r.superExperts) std::printf(" %d:%d (%.4g)", p.layer, p.expert, p.peak);
    std::printf("\n");
}

}  // namespace

void registerSuperExperts(CLI::App& app) {
    struct Opts {
        std::string model, text, stopwords;
        std::vector<std::string> prompts;
        long maxTokens = 4096;
        int top = 5, generate = 0, removeTop = 0, rows = 10;
        uint64_t seed = 1;
        double percentile = 99.5, fraction = 0.1;
        bool json = false, noRemoval = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("superexperts",
                                   "Find the super experts of a mixture-of-experts model and measure removing them");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--text", o->text, "Calibration text, also scored for perplexity (default: the bundled held-out text)");
    cmd->add_option("--max-tokens", o->maxTokens, "Use only the first N tokens of the text (0: all)")->capture_default_str();
    cmd->add_option("--prompt", o->prompts, "Prompt to compare next-token distributions on (repeatable)");
    cmd->add_option("--generate", o->generate, "Greedy tokens to generate side by side")->capture_default_str();
    cmd->add_option("--top", o->top, "Top tokens to show and compare")->capture_default_str();
    cmd->add_option("--remove-top", o->removeTop,
                    "Remove the N experts of largest peak instead of the super experts (e.g. when none is found)");
    cmd->add_option("--seed", o->seed, "Seed of the random experts removed as the control")->capture_default_str();
    cmd->add_option("--percentile", o->percentile, "Peak percentile a super expert exceeds")->capture_default_str();
    cmd->add_option("--fraction", o->fraction, "Fraction of the largest peak a super expert exceeds")->capture_default_str();
    cmd->add_option("--rows", o->rows, "Experts listed, largest peak first")->capture_default_str();
    cmd->add_flag("--no-removal", o->noRemoval, "Only profile; do not measure removals");
    cmd->add_option("--stopwords", o->stopwords, "Stop-word list, one word per line (default resources/stopwords.txt)");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o] {
        if (o->maxTokens < 0 || o->generate < 0 || o->removeTop < 0 || o->rows < 0)
            throw InvalidInput("--max-tokens, --generate, --remove-top and --rows must not be negative");
        if (o->top < 1) throw InvalidInput("--top must be at least 1");
        const std::string path = o->text.empty() ? bundledResource("data/heldout.txt") : o->text;
        if (path.empty()) throw InvalidInput("give calibration text with --text");
        const Model m = openModel(o->model);
        if (!m.config.moe()) throw InvalidInput("the model " + quote(m.config.name) + " has no experts, so it has no super experts");
        const std::vector<std::vector<int>> chunks = corpusChunks(m, readTextFile(path), o->maxTokens);
        SuperExpertParams params;
        params.percentile = o->percentile;
        params.fractionOfMax = o->fraction;
        const SuperExpertResult r = findSuperExperts(m, chunks, params, progressBar());

        const std::vector<ExpertId> removed = o->removeTop > 0 ? r.largestPeaks(o->removeTop) : r.superIds();
        std::optional<SuperExpertRemoval> removal;
        if (!o->noRemoval && !removed.empty()) {
            AblationInputs in;
            for (const auto& p : o->prompts) in.prompts.push_back(promptIds(m, p));
            if (in.prompts.empty()) in.prompts.push_back(detectionIds(m, ""));
            in.topK = o->top;
            in.generateTokens = o->generate;
            in.stopWords = stopWordsFor(m, o->stopwords);
            in.corpus = chunks;
            removal = compareSuperExpertRemoval(m, removed, in, o->seed,
                                                o->removeTop > 0 ? "largest-peak experts removed" : "super experts removed",
                                                progressBar());
        }
        if (o->json) {
            nlohmann::json j = toJson(r);
            if (removal) {
                j["removed"] = toJson(removal->removed);
                j["random"] = toJson(removal->random);
            }
            printJson(j);
            return;
        }
        printPeaks(r, o->rows);
        if (removal) {
            std::printf("\n");
            printAblation(removal->removed, o->top);
            std::printf("\n");
            printAblation(removal->random, o->top);
        }
    });
}

}  // namespace mwb::cli
