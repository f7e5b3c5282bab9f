// Helpers shared by the subcommands: loading a model named on the command line,
// printing JSON, the progress bar on stderr with Ctrl-C cancellation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cluster/communicator.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb::cli {

// Loads and checks a model file (errors name the file and the HDF5 path).
Model openModel(const std::string& path);
// The global --weights option that openModel follows (hdf5_model_file.h, LoadOptions).
void addWeightsOption(CLI::App& app);

// "1,2,3" -> {1,2,3}; throws InvalidInput on anything else.
std::vector<int> parseIds(const std::string& text);

// Throws InvalidInput unless `layer` is one of the model's (0 .. n_layer - 1), naming
// the option it came from. Commands check their arguments right after reading the
// model's configuration (loadConfig), before loading weights or doing any work.
void checkLayer(const std::string& option, int layer, const ModelConfig& config);
// "3,4" -> {3, 4}, each checked by checkLayer; empty text gives an empty list.
std::vector<int> parseLayers(const std::string& text, const std::string& option, const ModelConfig& config);

// Encodes a prompt, refusing an empty one.
std::vector<int> promptIds(const Model& model, const std::string& prompt);

void printJson(const nlohmann::json& j);

// A progress bar on stderr (redrawn at most ~10 times a second, only when stderr is
// a terminal, else one line per stage); returns false once Ctrl-C was pressed, which
// cancels the work. On ranks other than 0 of an MPI job, only the Ctrl-C check.
ProgressFn progressBar();

// The commands that split their work over the ranks of an MPI job (docs/cluster.md)
// run it inside cluster::runAgreed; these are their common pieces.
// The bytes of a file read on rank 0 only, on every rank.
std::string readOnRoot(const cluster::Communicator& comm, const std::string& path);
// --checkpoint DIR: where finished shards are kept, so that a killed job resumes.
void addCheckpointOption(CLI::App* cmd, std::string& dir);
// Writes `text` to `path` through a temporary file (never a partial file); rank 0 only.
void writeOutput(const std::string& path, const std::string& text);

// CLI11's message for a mistake on the command line as one sentence on one line, a
// long value in it cut short; with the hint where the options are listed.
std::string parseErrorSentence(const std::string& message);

// Called by main() before running a command.
void installInterruptHandler();

}  // namespace mwb::cli
