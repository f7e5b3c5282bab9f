// mwb superweights: find super weights (Yu et al. 2024) and massive activations.
#include <cmath>
#include <cstdio>

#include "analysis/superweights/published_super_weights.h"
#include "analysis/superweights/super_weights.h"
#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/cli/superweight_options.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {

void printLayers(const std::vector<LayerSpikes>& layers) {
    std::printf("%5s | %10s %6s %4s %9s | %10s %6s %4s %9s | %s\n", "layer", "max |in|", "col", "pos", "x median",
                "max |out|", "row", "pos", "x median", "spike");
    for (const auto& s : layers)
        std::printf("%5d | %10.3f %6d %4d %9.1f | %10.3f %6d %4d %9.1f | %s\n", s.layer, s.inputMax, s.inputChannel,
                    s.inputPos, s.inputRatio, s.outputMax, s.outputChannel, s.outputPos, s.outputRatio,
                    s.inputSpike && s.outputSpike ? "input+output"
                    : s.outputSpike               ? "output only (not a super weight)"
                    : s.inputSpike                ? "input only"
                                                  : "");
}

void printWeight(const SuperWeightResult& r, const SuperWeight& s) {
    std::printf("  %d:%d:%d  weight %.4g  input %.4g  output %.4g  at position %d %s  share %.2f%s\n", s.layer, s.row,
                s.col, s.weight, s.inputActivation, s.outputActivation, s.pos, quoted(r.tokens[s.pos]).c_str(),
                s.share, s.rowIsMassiveDim ? "  (row is a massive-activation dimension)" : "");
    std::printf("      stands out %.1fx from the other layers' largest spikes; zeroing it: KL %.4g, zeroing the %d "
                "largest other weights: KL %.4g\n",
                std::exp(s.layerStandout), s.damage, s.controlWeights, s.controlDamage);
}

void printResult(const SuperWeightResult& r) {
    std::printf("prompt: %zu tokens; spikes: above %.0fx the layer's median |value|; candidates from %.0fx, "
                "confirmed by zeroing\n\n",
                r.ids.size(), r.params.minOutputRatio, r.params.candidateRatio);
    std::printf("mlp/down input and output maxima per layer:\n");
    printLayers(r.layers);
    std::printf("\n");
    if (r.superWeights.empty()) {
        std::printf("no super weight found (no weight supplies a spike that stands out and hurts more when zeroed "
                    "than the matrix's largest other weights)\n");
    } else {
        std::printf("super weights (layer:row:col), confirmed, %d detection pass(es):\n", r.iterations);
        for (const auto& s : r.superWeights) printWeight(r, s);
        double worst = 0;
        for (const auto& s : r.layersAfter) worst = std::max(worst, s.outputSpike ? s.outputRatio : 0.0);
        std::printf("with them zeroed: %s\n",
                    worst > 0 ? "some output spikes remain (see --json layers_after_zeroing)" : "no output spike left");
    }
    if (!r.nearMisses.empty()) {
        std::printf("near misses (candidates whose removal hurt less than the control's):\n");
        for (const auto& s : r.nearMisses) printWeight(r, s);
    }
    const auto& m = r.massive;
    std::printf("\nmassive activations (Sun et al.: |x| > %.0f and > %.0fx the median of resid_post): ",
                m.params.minMagnitude, m.params.minRatio);
    if (m.massive.empty()) {
        std::printf("none\n");
    } else {
        std::printf("%zu values in dimension(s)", m.massive.size());
        for (int d : m.dims) std::printf(" %d", d);
        std::printf("\n");
    }
    std::printf("largest residual value per layer:\n");
    for (const auto& l : m.layers) {
        if (l.top.empty()) continue;
        const auto& p = l.top.front();
        std::printf("  layer %3d: %10.3f at position %d %s, dim %d (%.0fx median %.4g)\n", l.layer, p.value, p.pos,
                    quoted(m.tokens[p.pos]).c_str(), p.dim, p.ratio, l.median);
    }
}

}  // namespace

void registerSuperWeights(CLI::App& app) {
    struct Opts {
        std::string model, prompt;
        SuperWeightParams params;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("superweights", "Find super weights and massive activations (Yu et al. 2024)");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    auto* prompt = cmd->add_option("--prompt", o->prompt,
                                   std::string("Prompt for the forward pass (default: \"") + kDefaultDetectionPrompt + "\")");
    cmd->add_option("--min-ratio", o->params.minOutputRatio, "Output spike: times the layer's median |output|")
        ->capture_default_str();
    cmd->add_option("--min-input-ratio", o->params.minInputRatio, "Input spike: times the layer's median |input|")
        ->capture_default_str();
    cmd->add_option("--min-weight-ratio", o->params.minWeightRatio,
                    "The weight's magnitude over the median of its column")
        ->capture_default_str();
    cmd->add_option("--iterations", o->params.maxIterations, "Zero-and-look-again passes")->capture_default_str();
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o, prompt] {
        if (o->params.minOutputRatio <= 0 || o->params.minInputRatio <= 0 || o->params.minWeightRatio < 0)
            throw InvalidInput("--min-ratio and --min-input-ratio must be positive, --min-weight-ratio not negative");
        if (o->params.maxIterations < 1) throw InvalidInput("--iterations must be at least 1");
        const Model m = openModel(o->model);
        const std::vector<int> ids = *prompt ? promptIds(m, o->prompt) : detectionIds(m, "");
        const SuperWeightResult r = detectSuperWeights(m, ids, o->params, progressBar());
        const auto published = publishedFor(m.config);
        if (o->json) {
            nlohmann::json j = toJson(r);
            if (published) j["published"] = publishedComparisonJson(*published, m, r.coords());
            printJson(j);
            return;
        }
        printResult(r);
        if (published) {
            const auto p = publishedComparisonJson(*published, m, r.coords());
            std::printf("\nthis model has the shape of %s; its published super weights (%s):\n",
                        published->model.c_str(), p["source"].get<std::string>().c_str());
            for (const auto& w : p["weights"])
                std::printf("  %d:%d:%d  value here %.4g  %s\n", w["layer"].get<int>(), w["row"].get<int>(),
                            w["col"].get<int>(), w["value"].get<double>(),
                            w["detected"].get<bool>() ? "detected" : "not detected");
        }
    });
}

}  // namespace mwb::cli
