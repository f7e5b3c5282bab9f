// What `mwb edit` and `mwb eval` share: the editing options on the command line,
// choosing the layer from a causal trace, loading statistics, and running one
// ROME or MEMIT edit with its guard (weight change and perplexity change).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "editing/memit.h"
#include "editing/rome.h"
#include "model/datasets.h"
#include "model/model.h"

namespace mwb::cli {

struct EditOptions {
    std::string method = "rome";
    std::string layer = "auto";  // a number, or "auto": where causal tracing of the MLP peaks
    std::string layers;          // MEMIT: "a,b,c"; default: the auto layer and the two below
    std::string factToken = "subject_last";
    std::string keyMode = "consistent";
    std::string corpus;  // for the second moments; default: the bundled corpus
    long statsTokens = 100000;
    ValueParams value;
    double momentWeight = 15000.0;
    bool nullSpace = false;
    uint64_t seed = 0;
};

void addEditOptions(CLI::App* cmd, EditOptions& o);

// The bundled file resources/<relative>, or empty when not installed.
std::string bundledResource(const std::string& relative);

// The layer where restoring the MLP at the subject's last token helps most.
int tracePeakLayer(const Model& model, const EditRequest& request);

struct GuardReport {
    double weightChange = 0.0;  // ||ΔW|| / ||W|| summed over layers
    double perplexityBefore = 0.0, perplexityAfter = 0.0;
    bool destructive = false;
    std::string warning;
};

// Applies one edit (ROME for one request, MEMIT for any number) to `model`, records
// it in model.edits, and measures the guard on a small text sample.
struct EditOutcome {
    nlohmann::json details;
    GuardReport guard;
    std::vector<int> layers;
};
EditOutcome runEdit(Model& model, const std::vector<EditRequest>& requests, const EditOptions& o,
                    bool guard, bool quiet = false);

nlohmann::json toJson(const GuardReport& g);

}  // namespace mwb::cli
