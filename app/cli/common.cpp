#include "app/cli/common.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cluster/shard_job.h"
#include "data/datasets.h"
#include "io/hdf5_model_file.h"
#include "tensor/atomic_file.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {
std::atomic<bool> g_interrupted{false};
void onInterrupt(int) { g_interrupted = true; }
}  // namespace

namespace {
bool g_saysWhy = true;
// mpirun answers Ctrl-C, and Slurm a cancelled or timed-out job, with SIGTERM to every
// rank (SIGKILL soon after): no time to wait for a progress call. Rank 0 says why in
// one sentence and every rank ends at once; output files are written by renaming a
// finished temporary file, so none is left half-written.
void onTerminate(int) {
    static const char kSentence[] =
        "mwb: stopped by SIGTERM: the job was ended (Ctrl-C on mpirun, the scheduler, or another rank that died)\n";
    if (g_saysWhy) [[maybe_unused]] auto n = ::write(STDERR_FILENO, kSentence, sizeof kSentence - 1);
    ::_exit(143);
}
}  // namespace

void installInterruptHandler() {
    std::signal(SIGINT, onInterrupt);
    if (cluster::Communicator::launched()) {
        g_saysWhy = cluster::Communicator::launcherRank() == 0;
        std::signal(SIGTERM, onTerminate);
    }
}

namespace {
LoadOptions g_loadOptions;
}  // namespace

void addWeightsOption(CLI::App& app) {
    app.add_option_function<std::string>(
           "--weights",
           [](const std::string& v) {
               if (v == "float16") g_loadOptions.precision = WeightPrecision::Float16;
               else if (v == "bfloat16") g_loadOptions.precision = WeightPrecision::BFloat16;
               else if (v == "float32") g_loadOptions.precision = WeightPrecision::Float32;
               else g_loadOptions.precision.reset();
           },
           "Keep linear weights in memory as float16, bfloat16, float32 or auto (float16 when the file "
           "stores float16 and float32 would need more than half of the memory)")
        ->check(CLI::IsMember({"auto", "float16", "bfloat16", "float32"}))
        ->default_str("auto");
}

Model openModel(const std::string& path) { return loadModel(path, g_loadOptions); }

std::vector<int> parseIds(const std::string& text) {
    std::vector<int> ids;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        size_t used = 0;
        int id = 0;
        try {
            id = std::stoi(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size())
            throw InvalidInput(quote(item) + " in --ids is not a token id (expected e.g. --ids 464,3290)");
        ids.push_back(id);
    }
    if (ids.empty()) throw InvalidInput("--ids is empty");
    return ids;
}

void checkLayer(const std::string& option, int layer, const ModelConfig& config) {
    if (layer < 0 || layer >= config.nLayers)
        throw InvalidInput(option + " " + std::to_string(layer) + " is outside the model's layers 0 .. " +
                           std::to_string(config.nLayers - 1));
}

std::vector<int> parseLayers(const std::string& text, const std::string& option, const ModelConfig& config) {
    std::vector<int> layers;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (item.empty()) continue;
        size_t used = 0;
        int layer = 0;
        try {
            layer = std::stoi(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size())
            throw InvalidInput(quote(item) + " in " + option + " is not a layer number");
        checkLayer(option, layer, config);
        layers.push_back(layer);
    }
    return layers;
}

std::vector<int> promptIds(const Model& model, const std::string& prompt) {
    if (prompt.empty()) throw InvalidInput("the prompt is empty");
    return model.tokenizer.encodeIds(prompt);
}

std::string parseErrorSentence(const std::string& message) {
    std::string text;
    for (char ch : message) {
        if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
        if (ch == ' ' && (text.empty() || text.back() == ' ')) continue;
        text += ch;
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '.')) text.pop_back();
    // CLI11 repeats the value it could not use; a 10 MB argument stays out of the message.
    constexpr size_t kMax = 200;
    if (text.size() > kMax) text = std::string(utf8Prefix(text, kMax)) + "... (" + std::to_string(message.size()) + " bytes)";
    return text + " (mwb COMMAND --help lists the options)";
}

void printJson(const nlohmann::json& j) {
    // Invalid UTF-8 in partial byte tokens is replaced rather than thrown.
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string readOnRoot(const cluster::Communicator& comm, const std::string& path) {
    return cluster::agreedBroadcast(comm, [&] { return readTextFile(path); });
}

void addCheckpointOption(CLI::App* cmd, std::string& dir) {
    cmd->add_option("--checkpoint", dir,
                    "Keep finished shards in this folder; a job run again with it resumes where it stopped");
}

void writeOutput(const std::string& path, const std::string& text) { writeFileAtomically(path, text); }

ProgressFn progressBar() {
    if (cluster::Communicator::launcherRank() != 0) return [](const Progress&) { return !g_interrupted; };
    const bool tty = isatty(STDERR_FILENO);
    auto start = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    auto lastDraw = std::make_shared<std::chrono::steady_clock::time_point>();
    auto lastStage = std::make_shared<std::string>();
    return [=](const Progress& p) {
        if (g_interrupted) {
            if (tty) std::fputs("\n", stderr);
            return false;
        }
        const auto now = std::chrono::steady_clock::now();
        const bool newStage = *lastStage != p.stage;
        if (newStage) {
            *lastStage = std::string(p.stage);
            *start = now;
        }
        const bool finished = p.total > 0 && p.done >= p.total;
        if (!tty) {  // a log: the stage, then a line at most every ten seconds
            if (newStage) {
                std::fprintf(stderr, "%s...\n", std::string(p.stage).c_str());
                *lastDraw = now;
            } else if (p.total > 0 && now - *lastDraw >= std::chrono::seconds(10)) {
                *lastDraw = now;
                const double secs = std::chrono::duration<double>(now - *start).count();
                const double frac = double(p.done) / double(p.total);
                std::fprintf(stderr, "%s: %ld/%ld (%.0f%%), %.0f s elapsed, ETA %.0f s\n", std::string(p.stage).c_str(),
                             p.done, p.total, 100 * frac, secs, frac > 0 ? secs * (1 - frac) / frac : 0.0);
            }
            return true;
        }
        if (!finished && !newStage && now - *lastDraw < std::chrono::milliseconds(100)) return true;
        *lastDraw = now;
        const double secs = std::chrono::duration<double>(now - *start).count();
        const double frac = p.total > 0 ? double(p.done) / double(p.total) : 0.0;
        const double eta = frac > 0 ? secs * (1 - frac) / frac : 0.0;
        const int width = 30;
        std::string bar(static_cast<size_t>(frac * width), '#');
        bar.resize(width, '.');
        std::fprintf(stderr, "\r%-12s [%s] %ld/%ld %5.1f%%  %.0fs elapsed, ETA %.0fs  ",
                     std::string(p.stage).c_str(), bar.c_str(), p.done, p.total, 100 * frac, secs, eta);
        if (finished) std::fputs("\n", stderr);
        return true;
    };
}

}  // namespace mwb::cli
