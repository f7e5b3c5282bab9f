// mwb ablate: zero or scale mlp/down weights and compare against the original
// (Yu et al. 2024): KL, top tokens, stop-word mass, perplexity, generations; the
// paper's restore-the-super-activation variant, its control and the scale sweep.
#include <cmath>
#include <cstdio>
#include <optional>

#include "analysis/experts/expert_ablation.h"
#include "analysis/superweights/ablation.h"
#include "analysis/superweights/stop_words.h"
#include "analysis/superweights/super_weights.h"
#include "analysis/superweights/superweight_experiments.h"
#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/cli/superweight_options.h"
#include "app/plots/figure_export.h"
#include "app/plots/superweight_figure.h"
#include "data/datasets.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {

struct AblateOpts {
    std::string model, text, stopwords, factors, png, pdf;
    std::vector<std::string> prompts, zero, scale, scaleSweep, experts;
    int top = 5, generate = 0, control = 0;
    long maxTokens = 0;
    bool json = false, restore = false, sweep = false, detect = false;
};

AblationInputs ablationInputs(const Model& m, const AblateOpts& o) {
    AblationInputs in;
    for (const auto& p : o.prompts) in.prompts.push_back(promptIds(m, p));
    in.topK = o.top;
    in.generateTokens = o.generate;
    in.stopWords = stopWordsFor(m, o.stopwords);
    if (!o.text.empty()) in.corpus = corpusChunks(m, readTextFile(o.text), o.maxTokens);
    return in;
}

void printSweep(const ScaleSweep& s) {
    std::printf("scale sweep of %zu weight(s); original: stop-word mass %.1f%%", s.weights.size(),
                100 * s.stopWordMassOriginal);
    if (s.perplexityOriginal) std::printf(", perplexity %.4g", *s.perplexityOriginal);
    std::printf("\n%8s %12s %14s %10s  %s\n", "factor", "perplexity", "stop-word mass", "KL", "top tokens");
    for (const auto& p : s.points) {
        char ppl[32] = "-";
        if (p.perplexity) std::snprintf(ppl, sizeof ppl, "%.5g", *p.perplexity);
        std::printf("%8.2f %12s %13.1f%% %10.4g ", p.factor, ppl, 100 * p.stopWordMass, p.meanKl);
        for (size_t k = 0; k < p.top.size() && k < 3; ++k) std::printf(" %s", quoted(p.top[k].token).c_str());
        std::printf("\n");
    }
}

}  // namespace

void registerAblate(CLI::App& app) {
    auto o = std::make_shared<AblateOpts>();
    auto* cmd = app.add_subcommand("ablate", "Zero or scale mlp/down weights, or remove experts, and compare with the original model");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--zero", o->zero, "Weights to zero: layer:row:col, layer:row:* or layer:*:col (repeatable)");
    cmd->add_option("--scale", o->scale, "Weights to scale: layer:row:col=factor (repeatable)");
    cmd->add_flag("--detect", o->detect, "Zero the super weights detected on the first prompt");
    cmd->add_option("--expert", o->experts,
                    "Mixture of experts: remove expert layer:expert from the routing (repeatable or comma-separated)");
    cmd->add_option("--prompt", o->prompts, "Prompt to compare next-token distributions on (repeatable)")->required();
    cmd->add_option("--text", o->text, "Text file to measure perplexity on (chunks of the model's context)");
    cmd->add_option("--max-tokens", o->maxTokens, "Use only the first N tokens of --text (0: all)");
    cmd->add_option("--top", o->top, "Top tokens to show and compare")->capture_default_str();
    cmd->add_option("--generate", o->generate, "Greedy tokens to generate side by side")->capture_default_str();
    cmd->add_flag("--restore-activation", o->restore,
                  "Patch the original super activation back in (the paper's 'remove SW, restore SA')");
    cmd->add_option("--control", o->control, "Also zero the N largest other weights of the same matrices instead");
    cmd->add_flag("--sweep", o->sweep, "Scale the weights by each of --factors and report perplexity and stop-word mass");
    cmd->add_option("--factors", o->factors, "Factors for --sweep (default 0,0.25,...,3)");
    cmd->add_option("--scale-sweep", o->scaleSweep,
                    "Scale weights together over a range and plot perplexity and KL: layer:row:col=start:stop:step "
                    "(repeatable, one range)");
    cmd->add_option("--png", o->png, "With a sweep: also draw perplexity, KL and stop-word mass into this PNG file");
    cmd->add_option("--pdf", o->pdf, "With a sweep: the same figure as PDF");
    cmd->add_option("--stopwords", o->stopwords, "Stop-word list, one word per line (default resources/stopwords.txt)");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o] {
        if (o->top < 1) throw InvalidInput("--top must be at least 1");
        if (o->generate < 0 || o->control < 0 || o->maxTokens < 0)
            throw InvalidInput("--generate, --control and --max-tokens must not be negative");
        if (!o->scaleSweep.empty() && (o->sweep || !o->zero.empty() || !o->scale.empty() || o->detect))
            throw InvalidInput("--scale-sweep names its own weights; it does not combine with --sweep, --zero, --scale or --detect");
        if ((!o->png.empty() || !o->pdf.empty()) && o->scaleSweep.empty() && !o->sweep)
            throw InvalidInput("--png and --pdf draw a sweep: use them with --scale-sweep or --sweep");
        if (!o->experts.empty()) {
            if (!o->zero.empty() || !o->scale.empty() || o->detect || o->sweep || !o->scaleSweep.empty() || o->restore ||
                o->control > 0)
                throw InvalidInput("--expert removes experts from the routing; it does not combine with the weight options");
            std::vector<ExpertId> experts;
            for (const auto& item : o->experts)
                for (const ExpertId& e : parseExpertList(item)) experts.push_back(e);
            Model m = openModel(o->model);
            expertRemoval(m, experts);  // every expert checked before any run
            const AblationInputs in = ablationInputs(m, *o);
            const AblationResult r = runExpertAblation(m, experts, in, "expert ablation", progressBar());
            if (o->json) printJson(toJson(r));
            else printAblation(r, o->top);
            return;
        }
        std::optional<std::pair<std::vector<WeightCoord>, std::vector<double>>> scaleSweep;
        if (!o->scaleSweep.empty()) scaleSweep = parseScaleSweep(o->scaleSweep);
        std::vector<WeightChange> changes = parseChanges(o->zero, "--zero", false);
        if (scaleSweep)
            for (const auto& c : scaleSweep->first) changes.push_back({c.layer, c.row, c.col, 1.0f});
        for (const auto& c : parseChanges(o->scale, "--scale", true)) changes.push_back(c);
        if (changes.empty() && !o->detect) throw InvalidInput("name the weights to change with --zero, --scale or --detect");
        Model m = openModel(o->model);
        AblationInputs in = ablationInputs(m, *o);
        if (o->detect) {
            const auto found = detectSuperWeights(m, in.prompts.front());
            if (found.superWeights.empty()) throw InvalidInput("--detect found no super weight on the first prompt");
            for (const auto& c : zeroChanges(found.coords())) changes.push_back(c);
        }
        for (const auto& c : changes) validateChange(m.config, c);

        if (o->sweep || scaleSweep) {
            std::vector<WeightCoord> coords;
            for (const auto& c : changes) {
                if (!c.isSingleWeight()) throw InvalidInput("--sweep scales single weights; " + toString(c) + " is a row or column");
                coords.push_back({c.layer, c.row, c.col});
            }
            const auto factors = scaleSweep         ? scaleSweep->second
                                 : o->factors.empty() ? defaultScaleFactors()
                                                      : parseNumbers(o->factors, "--factors");
            const ScaleSweep s = runScaleSweep(m, coords, factors, in, progressBar());
            if (o->json) printJson(toJson(s));
            else printSweep(s);
            plots::exportFigures(plots::scaleSweepFigure(s, m.config.name), o->png, o->pdf);
            return;
        }
        const AblationResult r = runAblation(m, changes, in, o->restore, o->restore ? "restore" : "ablation", progressBar());
        std::optional<AblationResult> control;
        if (o->control > 0)
            control = runAblation(m, largestOtherWeights(m, changes, o->control), in, false, "control", progressBar());
        if (o->json) {
            nlohmann::json j = toJson(r);
            if (control) j["control"] = toJson(*control);
            printJson(j);
            return;
        }
        printAblation(r, o->top);
        if (control) {
            std::printf("\n");
            printAblation(*control, o->top);
        }
    });
}

}  // namespace mwb::cli
