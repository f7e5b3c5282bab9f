// What `mwb edit` and `mwb eval` share: the editing options on the command line and
// their translation into an EditSpec (editing/edit_run.h), with the layer chosen
// by causal tracing when asked.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "editing/edit_run.h"
#include "model/model.h"

namespace mwb::cli {

struct EditOptions {
    std::string method = "rome";
    std::string layer = "auto";  // a number, or "auto": where causal tracing of the MLP peaks
    std::string layers;          // MEMIT: "a,b,c"; default: the auto layer and the two below
    int expert = -1;             // ROME in a sparse layer; -1: the subject's top expert
    std::string factToken = "subject_last";
    std::string keyMode = "consistent";
    std::string contextJoin = "auto";
    std::optional<int> steps;  // unset: the method's (defaultValueParams)
    std::string stopOn;        // loss or target; empty: the method's
    std::optional<double> clamp;  // unset: the method's
    std::string keyContext;  // subject or prompt; empty: the method's default
    std::string corpus;  // for the second moments; default: the bundled corpus
    long statsTokens = 100000;
    ValueParams value;  // learning rate, KL factor, weight decay; steps, stop rule and clamp from the above
    double momentWeight = 0.0;  // 0: defaultMomentWeight (memit.h)
    bool nullSpace = false;
    double nullSpaceThreshold = 1e-2;
    bool nullSpaceAbsolute = false;
    double nullSpaceL2 = 1.0;
    std::string statsOf = "current";
    bool separateSubjectValues = false;
    int passes = 1;
    uint64_t seed = 0;
    long guardTokens = 4000;  // held-out tokens for the perplexity check; 0 skips it
};

void addEditOptions(CLI::App* cmd, EditOptions& o);

// The bundled file resources/<relative>, or empty when not installed.
std::string bundledResource(const std::string& relative);

// Throws InvalidInput unless --layer and --layers name layers of a model of this shape.
void checkEditLayers(const EditOptions& o, const ModelConfig& config);
// Throws InvalidInput unless --expert `expert` (-1: not given) names an expert of this model.
void checkExpertOption(int expert, const ModelConfig& config);
// checkEditLayers and every other editing option (method, stop rule, clamp, ...):
// commands call it right after reading the model's configuration, before any work.
void checkEditOptions(const EditOptions& o, const ModelConfig& config);

// The spec for these requests (validated first, then the layer traced when asked); "--layer auto" traces the request (a batch: up to ten of them, mlpPeakLayer).
EditSpec editSpec(const Model& model, const std::vector<EditRequest>& requests, const EditOptions& o,
                  bool quiet);

// The statistics corpus (--corpus, else the bundled one) and the guard's sample text
// (the bundled held-out text, empty when not installed).
std::string statisticsCorpus(const EditOptions& o);
std::string guardSample();

}  // namespace mwb::cli
