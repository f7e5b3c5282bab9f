// Second moments C = E[k kᵀ] of the MLP keys (mlp_in, the input of mlp/down) over
// a text corpus — the statistic ROME and MEMIT use to spread an edit so that other
// keys are disturbed least (Meng et al. 2022, §3.1, eq. 2). Cached on disk, keyed
// by everything that determines the keys, so an edited model never reuses stale
// statistics while a second edit of an unchanged layer is instant.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cluster/shard_job.h"
#include "model/model.h"
#include "tensor/progress.h"
#include "tensor/tensor.h"

namespace mwb {

struct SecondMomentOptions {
    long maxTokens = 100000;  // the reference's mom2_n_samples
    // Tokens per shard: the unit of work split over ranks and kept by a checkpoint. The
    // sums of a shard start from zero and the shards are added in order, so the result
    // depends on this (in the last bits) but not on the number of ranks; part of the
    // cache key.
    long shardTokens = 4096;
    // Each chunk's Kᵀ K as a float product (the run-time-chosen matrix kernel, several
    // times faster than the double update on a large d_ff), added to the double sums:
    // for the audit, whose statistic needs C to a few digits, not the editors' C,
    // which stays the double accumulation. Part of the cache key.
    bool floatProducts = false;
    // Where cached statistics live; empty: "<model file>.mwbstats/" beside the model
    // when that folder is writable, else $XDG_CACHE_HOME/mwb (or ~/.cache/mwb).
    std::filesystem::path cacheDir;
    bool useCache = true;
    // Every edit changes a layer's weights and so its key: sequential editing would
    // fill the folder without bound. After a write, the least recently used files
    // beyond this many bytes are removed (never the one just written).
    uintmax_t maxCacheBytes = uintmax_t(2) << 30;
};

// Where keys are read: the MLP of a dense layer (expert -1), mlp_in; or one expert of a
// sparse layer, expert_in, over the tokens routed to it (docs/mixture-of-experts.md,
// "Editing experts").
struct KeySite {
    int layer = -1;
    int expert = -1;
    auto operator<=>(const KeySite&) const = default;
};

struct SecondMoment {
    int layer = -1;
    int expert = -1;
    long tokens = 0;  // keys averaged (an expert's: the tokens routed to it)
    MatrixD moment;   // [width x width], E[k kᵀ] (width: d_ff, or d_expert)
    bool fromCache = false;
};

// A 64-bit fingerprint of everything that determines the keys of `layer`: the
// embeddings, every block below it, the layer's attention, norms and mlp/up (and
// gate; in a sparse layer the router and every expert's up and gate) — but not its
// down projections, which an edit of that layer changes.
uint64_t keyFingerprint(const Model& model, int layer);

// Statistics of several layers from one pass over the corpus (documents: one per
// line, split into chunks of at most nCtx tokens). Accumulated in double, by shards
// of options.shardTokens tokens added in order. With `run` over several ranks
// (inside cluster::runAgreed), the shards are split over them and the result,
// identical bit for bit to one process's, is on rank 0 (which alone reads and writes
// the cache); the other ranks return an empty map.
std::map<int, SecondMoment> secondMoments(const Model& model, const std::vector<int>& layers,
                                          const std::string& corpusText,
                                          const SecondMomentOptions& options = {},
                                          const ProgressFn& progress = {},
                                          const cluster::ShardRun& run = {});

// E‖W k‖² = tr(W C Wᵀ) over the keys C summarises: the mean squared output of
// mlp/down on ordinary text (bias excluded).
double meanSquaredOutput(const Matrix& w, const MatrixD& moment);

// How far an update ΔW = left · rightᵀ of mlp/down moves the layer's output on the
// keys C summarises, relative to that output: sqrt(E‖ΔW k‖² / E‖W k‖²)
// = sqrt(tr(leftᵀleft · rightᵀ C right) / tr(W C Wᵀ)). ||ΔW|| / ||W|| weighs every
// direction of key space alike; an update can be large in directions ordinary text
// hardly uses and still leave the layer's output on that text almost unchanged.
double outputChange(const Matrix& w, const MatrixD& left, const MatrixD& right, const MatrixD& moment);

// A model written from another (an edit saved elsewhere) starts with the other's
// cached statistics beside it: hard links, no copies, so that a later edit of the new
// file finds the statistics its unedited layers still share. Does nothing where the
// source has none or the link cannot be made (another file system); never throws.
void linkCachedStatistics(const std::filesystem::path& sourceModel, const std::filesystem::path& writtenModel);

// The same for any key sites, MLPs and experts together. An expert's keys are its
// expert_in rows at the tokens routed to it (whatever their mixing weight): the keys its
// down projection sees. Throws InvalidInput for a site the model does not have
// (editTargetProblem) and for an expert the corpus never routes a token to.
std::map<KeySite, SecondMoment> keySecondMoments(const Model& model, const std::vector<KeySite>& sites,
                                                 const std::string& corpusText,
                                                 const SecondMomentOptions& options = {},
                                                 const ProgressFn& progress = {},
                                                 const cluster::ShardRun& run = {});

SecondMoment secondMoment(const Model& model, int layer, const std::string& corpusText,
                          const SecondMomentOptions& options = {}, const ProgressFn& progress = {});

}  // namespace mwb
