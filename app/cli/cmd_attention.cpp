// mwb attention: attention weights of every layer and head for a prompt.
#include <cstdio>
#include <optional>

#include "analysis/attention_maps.h"
#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "io/hdf5_model_file.h"
#include "app/cli/superweight_options.h"
#include "app/plots/attention_figure.h"
#include "app/plots/figure_export.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {

// One head as a table: queries down, keys across.
void printHead(const AttentionMaps& a, int layer, int head) {
    const Matrix& w = a.weights[layer][head];
    std::printf("layer %d, head %d (rows: queries, columns: keys)\n%14s", layer, head, "");
    for (size_t k = 0; k < a.tokens.size(); ++k) std::printf(" %6.6s", quoted(a.tokens[k]).c_str());
    std::printf("\n");
    for (int q = 0; q < w.rows(); ++q) {
        std::printf("%14.14s", quoted(a.tokens[q]).c_str());
        for (int k = 0; k < w.cols(); ++k) {
            if (k > q) std::printf(" %6s", "");
            else std::printf(" %6.3f", w(q, k));
        }
        std::printf("\n");
    }
}

// Every selected head in one line: where the last token looks most.
void printSummary(const AttentionMaps& a, std::optional<int> layer, std::optional<int> head) {
    const int last = static_cast<int>(a.tokens.size()) - 1;
    std::printf("the last token %s attends most to (per layer and head):\n", quoted(a.tokens[last]).c_str());
    for (int l = 0; l < a.nLayers; ++l) {
        if (layer && l != *layer) continue;
        std::printf("layer %3d:", l);
        for (int h = 0; h < a.nHeads; ++h) {
            if (head && h != *head) continue;
            Eigen::Index k = 0;
            const float w = a.weights[l][h].row(last).maxCoeff(&k);
            std::printf("  h%d %s %.2f", h, quoted(a.tokens[k]).c_str(), w);
        }
        std::printf("\n");
    }
    std::printf("(give --layer and --head for one head's full map, --json for all weights)\n");
}

}  // namespace

void registerAttention(CLI::App& app) {
    struct Opts {
        std::string model, prompt, png, pdf;
        int layer = -1, head = -1;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("attention", "Attention weights of every layer and head for a prompt");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--prompt", o->prompt, "Prompt text")->required();
    auto* layer = cmd->add_option("--layer", o->layer, "Only this layer");
    auto* head = cmd->add_option("--head", o->head, "Only this head");
    cmd->add_flag("--json", o->json, "Print JSON: tokens and maps [{layer, head, weights[query][key]}]");
    cmd->add_option("--png", o->png, "Draw the --layer's heads (or the --head) into this PNG file");
    cmd->add_option("--pdf", o->pdf, "Draw the --layer's heads (or the --head) into this PDF file");
    cmd->callback([o, layer, head] {
        const ModelConfig config = loadConfig(o->model);
        if (*layer) checkLayer("--layer", o->layer, config);
        if (*head && (o->head < 0 || o->head >= config.nHeads))
            throw InvalidInput("--head " + std::to_string(o->head) + " is outside the model's heads 0 .. " +
                               std::to_string(config.nHeads - 1));
        const Model m = openModel(o->model);
        const AttentionMaps a = attentionMaps(m, promptIds(m, o->prompt));
        const std::optional<int> l = *layer ? std::optional<int>(o->layer) : std::nullopt;
        const std::optional<int> h = *head ? std::optional<int>(o->head) : std::nullopt;
        validateSelection(a, l, h);
        if (!o->png.empty() || !o->pdf.empty()) {
            if (!l) throw InvalidInput("--png and --pdf draw one layer: give --layer (and --head for one head)");
            plots::exportFigures(h ? plots::attentionHeadFigure(a, *l, *h) : plots::attentionLayerFigure(a, *l),
                                 o->png, o->pdf);
        }
        if (o->json) {
            printJson(toJson(a, l, h));
            return;
        }
        if (l && h) printHead(a, *l, *h);
        else printSummary(a, l, h);
    });
}

}  // namespace mwb::cli
