#include "app/cli/edit_support.h"

#include <filesystem>
#include <iostream>
#include <sstream>

#include "analysis/causal_trace.h"
#include "analysis/perplexity.h"
#include "app/cli/common.h"
#include "editing/context_templates.h"
#include "editing/edit_history.h"
#include "editing/second_moments.h"
#include "model/errors.h"

namespace mwb::cli {

namespace {

std::vector<int> parseLayerList(const std::string& text) {
    std::vector<int> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty()) {
            try {
                out.push_back(std::stoi(item));
            } catch (const std::exception&) {
                throw InvalidInput("'" + item + "' is not a layer number");
            }
        }
    return out;
}

std::string corpusText(const EditOptions& o) {
    const std::string path = o.corpus.empty() ? bundledResource("data/corpus.txt") : o.corpus;
    if (path.empty()) throw InvalidInput("give a text corpus for the second-moment statistics with --corpus");
    return readTextFile(path);
}

double samplePerplexity(const Model& model) {
    const std::string path = bundledResource("data/heldout.txt");
    if (path.empty()) return 0.0;
    return corpusPerplexity(model, corpusChunks(model, readTextFile(path), 4000)).perplexity;
}

}  // namespace

std::string bundledResource(const std::string& relative) {
#ifdef MWB_RESOURCE_DIR
    const std::filesystem::path p = std::filesystem::path(MWB_RESOURCE_DIR) / relative;
    if (std::filesystem::exists(p)) return p.string();
#endif
    (void)relative;
    return {};
}

void addEditOptions(CLI::App* cmd, EditOptions& o) {
    cmd->add_option("--method", o.method, "rome or memit")->capture_default_str();
    cmd->add_option("--layer", o.layer, "Layer to edit, or auto (the causal-trace peak)")->capture_default_str();
    cmd->add_option("--layers", o.layers, "MEMIT's layers, e.g. 2,3,4 (default: the auto layer and two below)");
    cmd->add_option("--fact-token", o.factToken, "subject_last, subject_first or last")->capture_default_str();
    cmd->add_option("--key", o.keyMode, "consistent (r-ROME) or original (the reference code's)")->capture_default_str();
    cmd->add_option("--corpus", o.corpus, "Text for the second-moment statistics (default: the bundled corpus)");
    cmd->add_option("--stats-tokens", o.statsTokens, "Tokens for the statistics")->capture_default_str();
    cmd->add_option("--steps", o.value.steps, "Optimisation steps for v*")->capture_default_str();
    cmd->add_option("--lr", o.value.learningRate, "Learning rate for v*")->capture_default_str();
    cmd->add_option("--kl-factor", o.value.klFactor, "Weight of the essence KL term")->capture_default_str();
    cmd->add_option("--weight-decay", o.value.weightDecay, "Weight decay on v*")->capture_default_str();
    cmd->add_option("--clamp", o.value.clampNormFactor, "Norm clamp factor for v*")->capture_default_str();
    cmd->add_option("--moment-weight", o.momentWeight, "MEMIT's λ (mom2_update_weight)")->capture_default_str();
    cmd->add_flag("--null-space", o.nullSpace, "MEMIT: AlphaEdit null-space projection");
    cmd->add_option("--seed", o.seed, "Seed for the context templates")->capture_default_str();
}

int tracePeakLayer(const Model& model, const EditRequest& request) {
    CausalTraceParams p;
    p.kinds = {TraceKind::Mlp};
    // The paper's window of 10 of GPT-2 XL's 48 layers, scaled to this model.
    p.window = std::max(1, (model.config.nLayers * 10 + 24) / 48);
    const auto r = traceFact(model, fillTemplate(request.prompt, request.subject), request.subject, "", p);
    Eigen::Index best;
    r.probRestored.at(TraceKind::Mlp).row(r.subjectEnd - 1).maxCoeff(&best);
    return static_cast<int>(best);
}

EditOutcome runEdit(Model& model, const std::vector<EditRequest>& requests, const EditOptions& o,
                    bool guard, bool quiet) {
    if (requests.empty()) throw InvalidInput("no edit requests");
    const double pplBefore = guard ? samplePerplexity(model) : 0.0;
    EditOutcome out;
    EditRecord record;
    record.method = o.method;
    if (requests.size() == 1) {
        record.subject = requests[0].subject;
        record.prompt = requests[0].prompt;
        record.targetNew = requests[0].targetNew;
        record.targetTrue = requests[0].targetTrue;
    } else {
        record.subject = std::to_string(requests.size()) + " subjects";
        record.prompt = "(batch)";
    }
    const int nLayers = model.config.nLayers;
    int layer = -1;
    if (o.layer == "auto") {
        layer = tracePeakLayer(model, requests[0]);
        if (!quiet) std::cerr << "layer " << layer << " (where causal tracing of the MLP peaks)\n";
    } else {
        try {
            layer = std::stoi(o.layer);
        } catch (const std::exception&) {
            throw InvalidInput("--layer must be a number or auto");
        }
    }
    const std::string corpus = corpusText(o);
    SecondMomentOptions so;
    so.maxTokens = o.statsTokens;
    ContextTemplateOptions templates;
    templates.seed = o.seed;
    const FactToken factToken = parseFactToken(o.factToken);
    if (o.method == "rome") {
        if (requests.size() != 1) throw InvalidInput("ROME edits one fact at a time; use --method memit for a batch");
        if (layer < 0 || layer >= nLayers)
            throw InvalidInput("layer " + std::to_string(layer) + " is out of range (the model has " +
                               std::to_string(nLayers) + " layers)");
        RomeParams p;
        p.layer = layer;
        p.factToken = factToken;
        if (o.keyMode == "original") p.keyMode = KeyMode::Original;
        else if (o.keyMode != "consistent") throw InvalidInput("--key must be consistent or original");
        p.value = o.value;
        p.templates = templates;
        const SecondMoment c = secondMoment(model, layer, corpus, so, quiet ? ProgressFn{} : progressBar());
        const RomeResult r = computeRome(model, requests[0], p, c.moment, quiet ? ProgressFn{} : progressBar());
        record.layers = {layer};
        record.left = {Matrix(r.left)};
        record.right = {Matrix(r.right)};
        out.details = toJson(r);
        out.guard.weightChange = r.weightChange;
    } else if (o.method == "memit") {
        MemitParams p;
        p.layers = o.layers.empty() ? std::vector<int>{} : parseLayerList(o.layers);
        if (p.layers.empty())
            for (int l = std::max(0, layer - 2); l <= layer; ++l) p.layers.push_back(l);
        p.factToken = factToken;
        p.value = o.value;
        p.templates = templates;
        p.momentWeight = o.momentWeight;
        p.nullSpace = o.nullSpace;
        std::map<int, MatrixD> moments;
        for (auto& [l, m] : secondMoments(model, p.layers, corpus, so, quiet ? ProgressFn{} : progressBar()))
            moments[l] = std::move(m.moment);
        // applyMemit changes the weights as it goes; keep the originals for the record.
        std::vector<Matrix> before;
        for (int l : p.layers) before.push_back(model.weights.blocks.at(l).down.weight);
        const MemitResult r = applyMemit(model, requests, p, moments, quiet ? ProgressFn{} : progressBar());
        for (size_t i = 0; i < p.layers.size(); ++i) model.weights.blocks[p.layers[i]].down.weight = before[i];
        record.layers = p.layers;
        for (const auto& u : r.updates) {
            record.left.push_back(u.left);
            record.right.push_back(u.right);
            out.guard.weightChange += u.weightChange;
        }
        out.details = toJson(r);
    } else {
        throw InvalidInput("--method must be rome or memit");
    }
    applyEdit(model, record);
    out.layers = record.layers;
    if (guard) {
        out.guard.perplexityBefore = pplBefore;
        out.guard.perplexityAfter = samplePerplexity(model);
        // An edit that moves perplexity on unrelated text by more than 10%, or changes
        // the weights by more than half their norm, has probably broken the model.
        const bool pplJump = pplBefore > 0 && out.guard.perplexityAfter > 1.1 * pplBefore;
        out.guard.destructive = pplJump || out.guard.weightChange > 0.5;
        if (out.guard.destructive) {
            std::ostringstream w;
            w << "this edit looks destructive: ||ΔW||/||W|| = " << out.guard.weightChange
              << ", perplexity on held-out text " << pplBefore << " -> " << out.guard.perplexityAfter;
            out.guard.warning = w.str();
        }
    }
    return out;
}

nlohmann::json toJson(const GuardReport& g) {
    return {{"weight_change", g.weightChange}, {"perplexity_before", g.perplexityBefore},
            {"perplexity_after", g.perplexityAfter}, {"destructive", g.destructive}, {"warning", g.warning}};
}

}  // namespace mwb::cli
