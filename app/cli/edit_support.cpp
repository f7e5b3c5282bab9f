#include "app/cli/edit_support.h"

#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "analysis/causal_trace.h"
#include "app/cli/common.h"
#include "data/datasets.h"
#include "tensor/errors.h"

namespace mwb::cli {

void checkEditLayers(const EditOptions& o, const ModelConfig& config) {
    if (o.layer != "auto") {
        size_t used = 0;
        int layer = -1;
        try {
            layer = std::stoi(o.layer, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != o.layer.size()) throw InvalidInput("--layer must be a number or auto, not " + quote(o.layer));
        checkLayer("--layer", layer, config);
    }
    parseLayers(o.layers, "--layers", config);
}

std::string bundledResource(const std::string& relative) {
#ifdef MWB_RESOURCE_DIR
    const std::filesystem::path p = std::filesystem::path(MWB_RESOURCE_DIR) / relative;
    if (std::filesystem::exists(p)) return p.string();
#endif
    (void)relative;
    return {};
}

std::string statisticsCorpus(const EditOptions& o) {
    const std::string path = o.corpus.empty() ? bundledResource("data/corpus.txt") : o.corpus;
    if (path.empty()) throw InvalidInput("give a text corpus for the second-moment statistics with --corpus");
    return readTextFile(path);
}

std::string guardSample() {
    const std::string path = bundledResource("data/heldout.txt");
    return path.empty() ? std::string() : readTextFile(path);
}

void addEditOptions(CLI::App* cmd, EditOptions& o) {
    cmd->add_option("--method", o.method, "rome or memit")->capture_default_str();
    cmd->add_option("--layer", o.layer, "Layer to edit, or auto (the causal-trace peak)")->capture_default_str();
    cmd->add_option("--layers", o.layers, "MEMIT's layers, e.g. 2,3,4 (default: the auto layer and two below)");
    cmd->add_option("--expert", o.expert,
                    "ROME in a mixture-of-experts layer: the expert to edit (default: the one the subject's token "
                    "is routed to with the largest weight)");
    cmd->add_option("--fact-token", o.factToken, "subject_last, subject_first or last")->capture_default_str();
    cmd->add_option("--key", o.keyMode, "consistent (r-ROME) or original (the reference code's)")->capture_default_str();
    cmd->add_option("--key-context", o.keyContext,
                    "subject (k* read in the prefixes + the subject alone, the paper's eq. 3) or prompt (in the "
                    "prefixes + the whole prompt, the reference code's); default: subject for ROME, prompt for MEMIT");
    cmd->add_option("--context-join", o.contextJoin,
                    "auto (a line break where \"<prefix>. \" would split a subject opening the prompt into "
                    "other tokens) or space (always, as the reference code)")
        ->capture_default_str();
    cmd->add_option("--corpus", o.corpus, "Text for the second-moment statistics (default: the bundled corpus)");
    cmd->add_option("--stats-tokens", o.statsTokens, "Tokens for the statistics")->capture_default_str();
    cmd->add_option("--stats-of", o.statsOf,
                    "current: statistics of the model's current weights, recomputed after every edit below the "
                    "edited layers; unedited: of the model before its recorded edits (the reference code's, computed "
                    "once)")
        ->capture_default_str();
    cmd->add_option("--guard-tokens", o.guardTokens,
                    "Held-out tokens for the perplexity check before and after the edit (0: skip it; "
                    "it is two forward passes over them, slow on a large model)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--steps", o.steps,
                    "Optimisation steps for v* at most (default: ROME 40, stopping when the target is reached; "
                    "MEMIT 20, the reference's)");
    cmd->add_option("--lr", o.value.learningRate, "Learning rate for v*")->capture_default_str();
    cmd->add_option("--kl-factor", o.value.klFactor, "Weight of the essence KL term")->capture_default_str();
    cmd->add_option("--weight-decay", o.value.weightDecay, "Weight decay on v*")->capture_default_str();
    cmd->add_option("--clamp", o.clamp,
                    "Norm clamp factor for v* (ROME: × ||W k*||, default 4, the reference's) or for each z "
                    "(MEMIT: × the last edited layer's output, default 1)");
    cmd->add_option("--stop-on", o.stopOn,
                    "Stop the v* optimisation early when: target (the target's NLL is below 0.05 in the templated "
                    "prompts and, for ROME, in the prompt as the update delivers it; ROME's default) or loss (the "
                    "whole loss is below 0.05, the reference code's rule; MEMIT's default)");
    cmd->add_option("--moment-weight", o.momentWeight,
                   "MEMIT's λ (mom2_update_weight); default 6400 x d_ff / 16384 (200 at d_ff 512); "
                   "--null-space's solve has none");
    cmd->add_flag("--null-space", o.nullSpace, "MEMIT: AlphaEdit null-space projection");
    cmd->add_option("--null-space-threshold", o.nullSpaceThreshold,
                    "MEMIT --null-space: eigenvectors of C whose eigenvalues are below this fraction of the largest "
                    "span the null space (the JSON reports each layer's dimension, eigenvalue cut-off and share of C's trace)")
        ->capture_default_str();
    cmd->add_flag("--null-space-absolute", o.nullSpaceAbsolute,
                  "MEMIT --null-space: compare C's eigenvalues with --null-space-threshold itself, not with that "
                  "fraction of the largest (the reference AlphaEdit's rule; its threshold is 2e-2)");
    cmd->add_option("--null-space-l2", o.nullSpaceL2,
                    "MEMIT --null-space: weight of ||ΔW P||² in AlphaEdit's objective (eq. 9 has 1, the reference "
                    "code 10); larger makes the update smaller")
        ->capture_default_str();
    cmd->add_flag("--separate-subject-values", o.separateSubjectValues,
                  "MEMIT: optimise each request's change on its own even where requests share a subject (the "
                  "reference code's; default: one shared change per subject, MEMIT-Merge)");
    cmd->add_option("--passes", o.passes,
                    "MEMIT: run the batch again on the edited model, with fresh targets, up to N times in all "
                    "(iterative editing: more facts delivered, more neighbours disturbed; with --null-space --clamp 0.75 "
                    "the best batch setting measured, docs/editing.md)")
        ->capture_default_str();
    cmd->add_option("--seed", o.seed, "Seed for the context templates")->capture_default_str();
}

namespace {

// Everything of the spec but its layers: the options checked and translated, which
// needs no model.
EditSpec specWithoutLayers(const EditOptions& o) {
    EditSpec spec;
    spec.method = parseEditMethod(o.method);
    spec.factToken = parseFactToken(o.factToken);
    if (o.keyMode == "original") spec.keyMode = KeyMode::Original;
    else if (o.keyMode != "consistent") throw InvalidInput("--key must be consistent or original");
    if (!o.keyContext.empty()) spec.keyContext = parseKeyContext(o.keyContext);
    // The step limit, stop rule and clamp are the method's unless given (defaultValueParams).
    const ValueParams methodDefaults = defaultValueParams(spec.method);
    spec.value = o.value;
    spec.value->steps = o.steps.value_or(methodDefaults.steps);
    spec.value->stopRule = o.stopOn.empty() ? methodDefaults.stopRule : parseStopRule(o.stopOn);
    spec.value->clampNormFactor = o.clamp.value_or(methodDefaults.clampNormFactor);
    validateValueParams(*spec.value);
    spec.templateSeed = o.seed;
    if (o.contextJoin != "auto" && o.contextJoin != "space") throw InvalidInput("--context-join must be auto or space");
    spec.subjectTokensAsInPrompt = o.contextJoin == "auto";
    if (!(o.momentWeight >= 0)) throw InvalidInput("--moment-weight must not be negative (0: the default)");
    spec.momentWeight = o.momentWeight;
    spec.nullSpace = o.nullSpace;
    if (!(o.nullSpaceThreshold > 0)) throw InvalidInput("--null-space-threshold must be positive");
    spec.nullSpaceThreshold = o.nullSpaceThreshold;
    if (o.nullSpaceAbsolute && !o.nullSpace) throw InvalidInput("--null-space-absolute is for --null-space");
    spec.nullSpaceThresholdIsAbsolute = o.nullSpaceAbsolute;
    if (!(o.nullSpaceL2 > 0) || !std::isfinite(o.nullSpaceL2)) throw InvalidInput("--null-space-l2 must be positive");
    spec.nullSpaceL2 = o.nullSpaceL2;
    spec.separateSubjectValues = o.separateSubjectValues;
    if (o.passes < 1) throw InvalidInput("--passes must be at least 1");
    if (o.passes > 1 && spec.method != EditMethod::Memit) throw InvalidInput("--passes is for MEMIT");
    spec.passes = o.passes;
    if (o.statsTokens < 1) throw InvalidInput("--stats-tokens must be positive");
    spec.stats.maxTokens = o.statsTokens;
    if (o.statsOf != "unedited" && o.statsOf != "current") throw InvalidInput("--stats-of must be unedited or current");
    spec.statsOfUneditedModel = o.statsOf == "unedited";
    return spec;
}

}  // namespace

void checkExpertOption(int expert, const ModelConfig& config) {
    if (expert < 0) return;
    if (!config.moe()) throw InvalidInput("--expert is for a model with experts; this one has none");
    if (expert >= config.nExperts)
        throw InvalidInput("--expert " + std::to_string(expert) + ": the model has experts 0 to " +
                           std::to_string(config.nExperts - 1));
}

void checkEditOptions(const EditOptions& o, const ModelConfig& config) {
    checkEditLayers(o, config);
    const EditSpec spec = specWithoutLayers(o);
    if (o.expert >= 0) {
        if (spec.method != EditMethod::Rome) throw InvalidInput("--expert is for ROME (--method rome)");
        checkExpertOption(o.expert, config);
        if (o.layer != "auto")
            if (const std::string problem = editTargetProblem(config, std::stoi(o.layer), o.expert); !problem.empty())
                throw InvalidInput("--expert " + std::to_string(o.expert) + ": " + problem);
    }
}

EditSpec editSpec(const Model& model, const std::vector<EditRequest>& requests, const EditOptions& o,
                  bool quiet) {
    if (requests.empty()) throw InvalidInput("no edit requests");
    checkEditLayers(o, model.config);
    for (const EditRequest& r : requests) validateRequest(r);
    EditSpec spec = specWithoutLayers(o);
    int layer = -1;
    if (spec.method == EditMethod::Rome || o.layers.empty()) {
        if (o.layer == "auto") {
            std::vector<std::pair<std::string, std::string>> facts;
            for (const EditRequest& r : requests) {
                facts.emplace_back(fillTemplate(r.prompt, r.subject), r.subject);
            }
            layer = mlpPeakLayer(model, facts);
            if (!quiet)
                std::cerr << "layer " << layer
                          << (requests.size() > 1 ? " (where causal tracing of the MLP peaks for most of the traced requests)\n"
                                                  : " (where causal tracing of the MLP peaks)\n");
        } else {
            layer = std::stoi(o.layer);  // checked by checkEditLayers
        }
    }
    if (spec.method == EditMethod::Rome) {
        spec.layers = {layer};
        spec.expert = o.expert;
    }
    else if (!o.layers.empty())
        spec.layers = parseLayers(o.layers, "--layers", model.config);
    else  // three layers ending at the trace's peak, shifted up when the peak is below layer 2
        spec.layers = memitLayersEndingAt(std::min(model.config.nLayers - 1, std::max(layer, 2)));
    return spec;
}

}  // namespace mwb::cli
