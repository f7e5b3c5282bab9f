// mwb quantize-eval: round-to-nearest block quantisation at 8/4/3 bits, with and
// without the super weights held out, perplexity and KL against the original.
#include <cstdio>

#include "analysis/superweights/quantization.h"
#include "analysis/superweights/super_weights.h"
#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/cli/superweight_options.h"
#include "data/datasets.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {

void printTable(const QuantizationTable& t) {
    if (!t.superWeights.empty()) {
        std::printf("super weights held out where marked +SW:");
        for (const auto& w : t.superWeights) std::printf(" %d:%d:%d", w.layer, w.row, w.col);
        std::printf("\n");
    }
    std::printf("perplexity on %ld tokens\n\n", t.original.tokens);
    std::printf("%-28s %14s %12s %12s %10s\n", "weights", "rel. w error", "perplexity", "mean KL", "clipped");
    std::printf("%-28s %14s %12.4g %12s %10s\n", "original (float32)", "0", t.original.perplexity, "0", "-");
    for (const auto& r : t.rows)
        std::printf("%-28s %14.4g %12.4g %12.4g %10ld\n", r.label.c_str(), r.error.relative(),
                    r.corpus.variant.perplexity, r.corpus.meanKl, r.error.clipped);
}

}  // namespace

void registerQuantizeEval(CLI::App& app) {
    struct Opts {
        std::string model, text, bits = "4", prompt;
        std::vector<std::string> superWeights;
        int block = 128;
        double clip = 0.0;
        long maxTokens = 0;
        bool keep = false, json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("quantize-eval",
                                   "Round-to-nearest block quantisation vs the original: perplexity and KL");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--bits", o->bits, "Bit widths, comma-separated: 3, 4, 8")->capture_default_str();
    cmd->add_option("--block", o->block, "Weights per quantisation block")->capture_default_str();
    cmd->add_flag("--keep-superweights", o->keep, "Also rows with the super weights held out at full precision");
    cmd->add_option("--superweight", o->superWeights,
                    "Super weights to hold out, layer:row:col (default: detected on --prompt)");
    cmd->add_option("--prompt", o->prompt,
                    std::string("Prompt for super-weight detection (default: \"") + kDefaultDetectionPrompt + "\")");
    cmd->add_option("--clip", o->clip, "Also rows clipped at mean + Z std of |w| per block (the paper's clipping)");
    cmd->add_option("--text", o->text, "Text file to measure perplexity and KL on")->required();
    cmd->add_option("--max-tokens", o->maxTokens, "Use only the first N tokens of --text (0: all)");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o] {
        std::vector<int> bits;
        for (double b : parseNumbers(o->bits, "--bits")) {
            if (b != static_cast<int>(b)) throw InvalidInput("--bits takes whole numbers: 3, 4 or 8");
            bits.push_back(static_cast<int>(b));
        }
        if (o->maxTokens < 0) throw InvalidInput("--max-tokens must not be negative");
        const auto configs = tableConfigs(bits, o->block, o->keep, o->clip);
        const auto named = parseChanges(o->superWeights, "--superweight", false);
        Model m = openModel(o->model);
        const auto corpus = corpusChunks(m, readTextFile(o->text), o->maxTokens);
        std::vector<WeightCoord> superWeights;
        for (const auto& c : named) {
            if (!c.isSingleWeight()) throw InvalidInput("--superweight takes single weights layer:row:col");
            validateChange(m.config, c);
            superWeights.push_back({c.layer, c.row, c.col});
        }
        if (o->keep && superWeights.empty()) {
            superWeights = detectSuperWeights(m, detectionIds(m, o->prompt)).coords();
            if (superWeights.empty() && !o->json)
                std::fprintf(stderr, "no super weight detected: the +SW rows equal the plain ones\n");
        }
        const QuantizationTable t = evaluateQuantization(m, configs, superWeights, corpus, progressBar());
        if (o->json) {
            printJson(toJson(t));
            return;
        }
        printTable(t);
    });
}

}  // namespace mwb::cli
