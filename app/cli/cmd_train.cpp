// `mwb train --config train.json [--resume]`: train a model from scratch, with a
// status line per log_every steps on stderr, periodic checkpoints and resume.
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "training/trainer.h"

namespace mwb::cli {

namespace {

std::atomic<bool> g_stopTraining{false};
void onTrainInterrupt(int) { g_stopTraining = true; }

// h:mm:ss
std::string clock(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
    const long s = long(seconds + 0.5);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    return buf;
}

void printStatus(const TrainStatus& s) {
    std::fprintf(stderr, "step %d/%d  loss %.4f  lr %.2e  grad %.3f  %.0f tok/s  elapsed %s  ETA %s",
                 s.step, s.totalSteps, s.loss, s.lr, s.gradNorm, s.tokensPerSecond,
                 clock(s.elapsedSeconds).c_str(), clock(s.etaSeconds).c_str());
    if (s.routerBalanceLoss > 0) std::fprintf(stderr, "  balance %.4f", s.routerBalanceLoss);
    if (std::isfinite(s.evalLoss)) std::fprintf(stderr, "  eval %.4f", s.evalLoss);
    std::fputc('\n', stderr);
}

}  // namespace

void registerTrain(CLI::App& app) {
    struct Opts {
        std::string config;
        bool resume = false;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "train", "Train a model from scratch on a text corpus, as described by a JSON config");
    cmd->add_option("--config", o->config, "Training configuration (train.json)")->required();
    cmd->add_flag("--resume", o->resume,
                  "Continue from the configuration's last checkpoint (bit-identical to an "
                  "uninterrupted run with the same thread count)");
    cmd->add_flag("--json", o->json, "Print the result as JSON");
    cmd->callback([o] {
        const TrainConfig config = loadTrainConfig(o->config);
        // Ctrl-C stops after the current step and writes a checkpoint (--resume continues).
        g_stopTraining = false;
        std::signal(SIGINT, onTrainInterrupt);
        const ProgressFn bar = progressBar();
        TrainCallbacks cb;
        cb.progress = [bar](const Progress& p) {
            if (g_stopTraining) return false;
            return p.stage == "train" ? true : bar(p);
        };
        cb.onStatus = printStatus;
        cb.onMessage = [](const std::string& m) { std::fprintf(stderr, "%s\n", m.c_str()); };
        const TrainResult r = runTraining(config, o->resume, cb);
        if (o->json) {
            printJson({{"out", r.out.string()},
                       {"steps", r.steps},
                       {"loss", r.finalLoss},
                       {"eval_loss", std::isfinite(r.evalLoss) ? nlohmann::json(r.evalLoss) : nlohmann::json()},
                       {"vocab_size", r.vocabSize},
                       {"train_tokens", r.trainTokens}});
        } else {
            std::cout << "wrote " << r.out.string() << ": " << r.steps << " steps, loss "
                      << r.finalLoss;
            if (std::isfinite(r.evalLoss)) std::cout << ", held-out loss " << r.evalLoss;
            std::cout << "\n";
        }
    });
}

}  // namespace mwb::cli
