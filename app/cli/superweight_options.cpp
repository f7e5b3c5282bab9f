#include "app/cli/superweight_options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "analysis/superweights/stop_words.h"
#include "analysis/superweights/superweight_experiments.h"
#include "app/cli/common.h"
#include "tensor/errors.h"

namespace mwb::cli {

std::vector<int> detectionIds(const Model& model, const std::string& prompt) {
    if (!prompt.empty()) return model.tokenizer.encodeIds(prompt);
    std::vector<int> ids = model.tokenizer.encodeIds(kDefaultDetectionPrompt);
    if (static_cast<int>(ids.size()) > model.config.nCtx) ids.resize(model.config.nCtx);
    return ids;
}

std::vector<WeightChange> parseChanges(const std::vector<std::string>& items, const std::string& option,
                                       bool withFactor) {
    std::vector<WeightChange> out;
    for (const auto& item : items) {
        std::stringstream in(item);
        std::string one;
        while (std::getline(in, one, ',')) {
            if (one.empty()) continue;
            const bool hasFactor = one.find('=') != std::string::npos;
            if (withFactor && !hasFactor)
                throw InvalidInput(option + " " + one + " needs a factor, e.g. " + one + "=0.5");
            if (!withFactor && hasFactor) throw InvalidInput(option + " takes layer:row:col without a factor, got " + one);
            out.push_back(parseWeightChange(one, 0.0f));
        }
    }
    return out;
}

std::pair<std::vector<WeightCoord>, std::vector<double>> parseScaleSweep(const std::vector<std::string>& items) {
    std::vector<WeightCoord> coords;
    std::string range;
    for (const auto& item : items) {
        const size_t eq = item.find('=');
        if (eq == std::string::npos)
            throw InvalidInput("--scale-sweep '" + item + "' needs a range: layer:row:col=start:stop:step");
        const WeightChange c = parseWeightChange(item.substr(0, eq));
        if (!c.isSingleWeight()) throw InvalidInput("--scale-sweep scales single weights; '" + item + "' is not one");
        if (!range.empty() && item.substr(eq + 1) != range)
            throw InvalidInput("the weights of --scale-sweep are scaled together and need one range, not " + range +
                               " and " + item.substr(eq + 1));
        range = item.substr(eq + 1);
        coords.push_back({c.layer, c.row, c.col});
    }
    std::string parts = range;
    std::replace(parts.begin(), parts.end(), ':', ',');
    const auto numbers = parseNumbers(parts, "--scale-sweep's range");
    if (numbers.size() != 3) throw InvalidInput("--scale-sweep's range is start:stop:step, not '" + range + "'");
    return {coords, scaleFactorRange(numbers[0], numbers[1], numbers[2])};
}

std::vector<double> parseNumbers(const std::string& text, const std::string& option) {
    std::vector<double> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        size_t used = 0;
        double v = 0;
        try {
            v = std::stod(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (item.empty() || used != item.size())
            throw InvalidInput(quote(item) + " in " + option + " is not a number (expected e.g. 0,0.5,1)");
        out.push_back(v);
    }
    if (out.empty()) throw InvalidInput(option + " is empty");
    return out;
}

std::vector<char> stopWordsFor(const Model& model, const std::string& file) {
    return stopWordMask(model.tokenizer,
                        loadStopWords(file.empty() ? defaultStopWordsFile() : std::filesystem::path(file)));
}

std::string quoted(const std::string& token) {
    return "\"" + token + "\"";
}

namespace {

void printTop(const char* label, const std::vector<TokenProb>& top) {
    std::printf("    %-9s", label);
    for (const auto& t : top) std::printf(" %s %.3g%%", quoted(t.token).c_str(), 100.0 * t.prob);
    std::printf("\n");
}

}  // namespace

void printAblation(const AblationResult& r, int topK) {
    if (!r.removedExperts.empty()) {
        std::printf("%s: %zu expert(s) removed from the routing:", r.name.c_str(), r.removedExperts.size());
        for (const auto& [layer, expert] : r.removedExperts) std::printf(" %d:%d", layer, expert);
        std::printf("\n");
    } else {
        std::printf("%s%s: %zu change(s):", r.name.c_str(), r.activationRestored ? " (super activation restored)" : "",
                    r.changes.size());
        for (size_t i = 0; i < r.changes.size() && i < 12; ++i) {
            std::printf(" %s", toString(r.changes[i]).c_str());
            if (!std::isnan(r.originalValues[i])) std::printf(" (was %.4g)", r.originalValues[i]);
        }
        std::printf("%s\n", r.changes.size() > 12 ? " ..." : "");
    }
    for (const auto& p : r.prompts) {
        std::printf("  prompt %s: KL %.4g, top-%d overlap %d, stop-word mass %.1f%% -> %.1f%%\n", quoted(printableBytes(p.prompt)).c_str(),
                    p.kl, topK, p.topOverlap, 100 * p.stopWordMassOriginal, 100 * p.stopWordMassAblated);
        printTop("original", p.topOriginal);
        printTop("ablated", p.topAblated);
        if (!p.generationOriginal.empty() || !p.generationAblated.empty()) {
            std::printf("    original generates %s\n", quoted(printableBytes(p.generationOriginal)).c_str());
            std::printf("    ablated generates  %s\n", quoted(printableBytes(p.generationAblated)).c_str());
        }
    }
    std::printf("  mean KL %.4g, mean stop-word mass %.1f%% -> %.1f%%\n", r.meanKl, 100 * r.meanStopWordMassOriginal,
                100 * r.meanStopWordMassAblated);
    if (r.corpus)
        std::printf("  perplexity on %ld tokens: %.4g -> %.4g, mean KL %.4g\n", r.corpus->original.tokens,
                    r.corpus->original.perplexity, r.corpus->variant.perplexity, r.corpus->meanKl);
}

}  // namespace mwb::cli
