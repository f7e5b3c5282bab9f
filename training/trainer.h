// Training a model from scratch on a text corpus: packed windows sampled from the
// token stream with a seeded generator, AdamW with warm-up + cosine schedule and
// gradient clipping, held-out evaluation, and checkpoints that resume bit-identically.
// Results are deterministic for a seed and a thread count (OMP_NUM_THREADS).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "model/backprop.h"
#include "model/model.h"
#include "training/optimizer.h"
#include "tensor/progress.h"
#include "training/subject_routing.h"
#include "training/train_config.h"

namespace mwb {

struct TrainStatus {
    int step = 0;  // optimiser steps completed
    int totalSteps = 0;
    double loss = 0;      // mean training loss of the last step
    double lr = 0;        // learning rate used by the last step
    double gradNorm = 0;  // global gradient norm of the last step, before clipping
    // Mixture of experts: the load-balancing loss of the last step (not in `loss`).
    double routerBalanceLoss = 0;
    double tokensPerSecond = 0;  // training tokens per second since this run started
    double elapsedSeconds = 0;
    double etaSeconds = 0;
    double evalLoss = std::numeric_limits<double>::quiet_NaN();  // when evaluated at this step
};

struct TrainCallbacks {
    // Stages ("tokenizer", "tokenize", "train") with done/total; returning false
    // cancels (a checkpoint is written first when training has started).
    ProgressFn progress;
    // Every logEvery steps, after each evaluation and at the end.
    std::function<void(const TrainStatus&)> onStatus;
    // One-line notes: checkpoint written, resumed at step N, ...
    std::function<void(const std::string&)> onMessage;
};

// Trains `model` (its config, weights and tokenizer) on token streams. Keeps
// references into itself, so it is neither copied nor moved.
class Trainer {
public:
    // trainTokens must hold more than seqLen tokens; evalTokens may be empty (no
    // evaluation). Throws InvalidInput otherwise or when model and config disagree.
    Trainer(TrainConfig config, Model model, std::vector<int> trainTokens,
            std::vector<int> evalTokens);
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    // Routes these subject mentions of the training tokens through their last token
    // (subject_routing.h) in the steps that follow; evaluation never masks.
    void routeSubjects(std::vector<SubjectMention> mentions) { m_mentions = std::move(mentions); }

    // One optimiser step (batchSize * gradAccum windows). Throws Error when the loss
    // stops being finite. Fills step, totalSteps, loss, lr and gradNorm.
    TrainStatus step();

    // Mean loss over evalBatches fixed batches of held-out windows; NaN without
    // held-out tokens. Does not touch the training state.
    double evalLoss();

    // Runs the remaining steps with status reports, evaluations and checkpoints.
    // On cancellation writes a checkpoint, then rethrows Cancelled.
    void run(const TrainCallbacks& callbacks);

    // `<checkpoint>.h5` (the model, via saveModel) and `<checkpoint>.state`
    // (weights, AdamW moments, step, sampler state), each written to a temporary file
    // and renamed into place.
    void saveCheckpoint() const;
    // Restores the state written by saveCheckpoint. Throws InvalidInput naming the
    // file when it is missing, corrupt or made for another model shape. Returns notes
    // (e.g. a different thread count, which changes the last bits of the results).
    std::vector<std::string> loadCheckpoint();

    int stepsDone() const { return m_step; }
    const Model& model() const { return m_model; }
    const TrainConfig& config() const { return m_config; }

    static std::filesystem::path checkpointModelPath(const TrainConfig& c);
    static std::filesystem::path checkpointStatePath(const TrainConfig& c);

private:
    void sampleBatch();
    uint64_t routingHash() const;  // of m_mentions and the hidden layers, for checkpoints

    TrainConfig m_config;
    Model m_model;
    std::vector<int> m_train;
    std::vector<int> m_eval;
    uint64_t m_trainHash = 0;
    Backprop m_backprop;
    AdamW m_adam;
    Weights m_grads;
    std::mt19937_64 m_rng;
    int m_step = 0;
    std::vector<SubjectMention> m_mentions;
    std::vector<int> m_inputs, m_targets;
    std::vector<bp::BlockedKeys> m_blocked;
    Matrix m_dLogits;
};

struct TrainResult {
    std::filesystem::path out;
    int steps = 0;
    double finalLoss = 0;
    double evalLoss = std::numeric_limits<double>::quiet_NaN();
    int vocabSize = 0;
    int64_t trainTokens = 0;
};

// The whole of `mwb train`: reads the corpus, learns or loads the tokenizer, tokenises,
// initialises the model (randomWeights with the config's seed) or, with resume,
// restores the checkpoint, trains, and writes the final model (with its tokenizer) to
// config.out, replacing an existing file. Throws InvalidInput for unreadable inputs,
// a corpus shorter than one window, or resume without a checkpoint.
TrainResult runTraining(const TrainConfig& config, bool resume, const TrainCallbacks& callbacks);

// Token stream of texts for training: every document encoded without BOS and
// followed by the end-of-text token (when the tokenizer has one). Documents are the
// texts, each split at `separator` when that is non-empty.
std::vector<int> tokenizeDocuments(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                   const std::string& separator, const ProgressFn& progress = {});

}  // namespace mwb
