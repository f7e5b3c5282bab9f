// What `mwb train --config train.json` reads: the model shape, the corpus, the
// tokenizer, and the optimisation settings. See parseTrainConfig for the JSON keys.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/config.h"

namespace mwb {

struct TrainConfig {
    // Shape of the model; vocabSize is taken from the tokenizer.
    ModelConfig model;

    // A model file to start from instead of random weights (fine-tuning): its shape,
    // weights and tokenizer are used, and `model` and the tokenizer keys are absent.
    std::filesystem::path init;

    // Text the model learns from, concatenated in order. With a non-empty
    // documentSeparator every file is split at it; each document (or each file) is
    // followed by the tokenizer's end-of-text token.
    std::vector<std::filesystem::path> corpus;
    std::string documentSeparator;

    // Either learn a byte-level BPE of tokenizerVocab tokens from the corpus (its first
    // tokenizerTrainBytes bytes when that is > 0), or reuse the tokenizer of a model file.
    int tokenizerVocab = 0;
    int64_t tokenizerTrainBytes = 0;
    std::filesystem::path tokenizerFrom;

    // Held-out text for the evaluation loss: evalText files, or else the last
    // evalFraction of the corpus tokens (excluded from training). evalEvery = 0: only
    // at the end; evalBatches batches of batchSize windows are scored.
    std::vector<std::filesystem::path> evalText;
    double evalFraction = 0.0;
    int evalEvery = 0;
    int evalBatches = 4;

    // Known-facts files (datasets.md) whose subjects are routed through their last
    // token in training: the positions after a mention of a subject of several tokens
    // do not attend to its earlier tokens (subject_routing.h). Empty: plain training.
    std::vector<std::filesystem::path> routeSubjects;
    // The share of those mentions that is routed, drawn once per mention from the
    // seed; the others are trained unmasked, so the model also sees subjects whole.
    double routeFraction = 1.0;
    // In the first routeHiddenLayers layers the positions after a routed mention may not
    // attend to its last token either (subjects of one token are then routed too): the
    // subject reaches them only through the last token's state after those layers.
    int routeHiddenLayers = 0;

    // Optimisation: steps of batchSize * gradAccum packed windows of seqLen tokens.
    int seqLen = 128;
    int batchSize = 16;
    int gradAccum = 1;
    int steps = 1000;
    // Ends the run after this step (0: after `steps`) while the schedule still spans
    // `steps`: the first stage of a recipe that continues from a mid-schedule model.
    int stopAt = 0;
    int lastStep() const { return stopAt > 0 ? stopAt : steps; }
    double lr = 1e-3;       // peak learning rate after warm-up
    double minLr = 1e-4;    // end of the cosine decay
    int warmup = 100;       // steps of linear warm-up
    double weightDecay = 0.1;
    double beta1 = 0.9;
    double beta2 = 0.95;
    double adamEps = 1e-8;
    double gradClip = 1.0;  // global L2 norm; 0 disables clipping
    uint64_t seed = 1;
    // Mixture-of-experts models: the weight of the load-balancing loss added to the
    // language-modelling loss (BackpropT::setRouterBalance; Fedus et al. 2022 use 0.01).
    double routerAuxLossCoef = 0.01;

    // Output: the final model, and checkpoints every checkpointEvery steps (0: none
    // except on interruption and at the end) as `<checkpoint>.h5` (the model) and
    // `<checkpoint>.state` (optimiser, step and sampler state). The default
    // checkpoint prefix is `out` without its extension plus ".ckpt".
    std::filesystem::path out;
    std::filesystem::path checkpoint;
    int checkpointEvery = 0;
    int logEvery = 10;  // steps between status reports
};

// Reads a training configuration. Relative paths are taken relative to baseDir (the
// folder of the config file). Keys (all optional unless marked):
//   model: {architecture*, n_layer*, n_head*, n_kv_head, d_model*, d_ff*, n_ctx*,
//           activation, norm_eps, rope_theta, tie_embeddings, name,
//           n_experts, n_experts_per_token, d_expert, d_shared_expert, norm_topk_prob,
//           moe_every, dense_layers}   (*)
//   tokenizer: {vocab_size, train_bytes} or {from: "model.h5"}   (*)
//   init: "model.h5" (instead of model and tokenizer),
//   corpus*: path or [paths], document_separator,
//   eval_text: path or [paths], eval_fraction, eval_every, eval_batches,
//   route_subjects: path or [paths], route_fraction, route_hidden_layers,
//   seq_len, batch_size, grad_accum, steps, stop_at, lr, min_lr, warmup, weight_decay,
//   beta1, beta2, adam_eps, grad_clip, seed, router_aux_loss_coef, out*, checkpoint,
//   checkpoint_every, log_every.
// Throws InvalidInput naming `source` and the key for unknown keys, wrong types,
// missing required keys and out-of-range values.
TrainConfig parseTrainConfig(const nlohmann::json& j, const std::filesystem::path& baseDir,
                             const std::string& source = "train config");

// The two configs describe the same shape of model (vocabulary and name aside).
bool sameShape(const ModelConfig& a, const ModelConfig& b);

// parseTrainConfig of a JSON file; throws InvalidInput when it cannot be read or parsed.
TrainConfig loadTrainConfig(const std::filesystem::path& file);

}  // namespace mwb
