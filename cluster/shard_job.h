// Jobs split into shards over the ranks of a communicator, with one result whatever the
// number of ranks: shard s runs on rank s mod N (in rounds of N shards), its result
// travels to rank 0 as bytes, and rank 0 consumes the results in shard order, so that
// a reduction over shards adds in the same order for 1, 2 or 100 ranks.
//
// Failures are agreed on: every collective step begins with an exchange of each
// rank's status (ok, failed, cancelled), so that a rank that throws never leaves the
// others waiting. Rank 0 then throws one JobError naming the failing rank and its
// error (or Cancelled after Ctrl-C); the other ranks throw StoppedElsewhere.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/checkpoint.h"
#include "cluster/communicator.h"
#include "tensor/errors.h"
#include "tensor/progress.h"

namespace mwb::cluster {

// The job failed on some rank; thrown on rank 0 with the sentence to print.
struct JobError : Error {
    using Error::Error;
};

// Thrown on ranks other than 0 once the job failed or was cancelled: rank 0 reports
// it, these ranks only stop (deliberately not an Error: nothing to print).
struct StoppedElsewhere {};

// Runs `body` on every rank. In a job of one process, just body(). Otherwise an
// exception on any rank ends the body on every rank at its next collective step:
// rank 0 throws JobError (or Cancelled), the others StoppedElsewhere. Commands that
// split work over ranks run their whole work inside it.
void runAgreed(const Communicator& comm, const std::function<void()>& body);

// rootWork() on rank 0, its bytes on every rank; a failure of rootWork (or a failure
// any rank brings to this step) is agreed on first.
std::string agreedBroadcast(const Communicator& comm, const std::function<std::string()>& rootWork);

// What a sharded job does with its shards.
struct ShardJob {
    std::string stage;  // progress stage ("statistics", "facts")
    int shards = 0;
    // Progress units of a shard (tokens, facts); default 1 each.
    std::function<long(int shard)> units;
    // A shard's result as bytes (bytes.h); runs on whichever rank the shard falls to.
    std::function<std::string(int shard)> compute;
    // On rank 0 only, once per shard, in shard order 0, 1, 2, ...
    std::function<void(int shard, std::string_view result)> consume;
};

// Where a job keeps finished shards, and what identifies it there (checkpoint.h).
struct ShardCheckpoint {
    std::filesystem::path dir;  // empty: no checkpoint
    nlohmann::json identity;    // the job's manifest (kind, model, inputs, options, plan)
};

// How a library job runs: over which ranks, keeping finished shards where.
struct ShardRun {
    const Communicator* comm = nullptr;  // nullptr: this process alone
    std::filesystem::path checkpoint = {};  // empty: no checkpoint
    // What else identifies the job in the checkpoint's manifest: options that the
    // library function does not see (the command line's editing options).
    nlohmann::json identity = {};
    const Communicator& communicator() const { return comm ? *comm : Communicator::self(); }
};

// Runs every shard of `job` over the ranks of `comm` (Communicator::self(): this
// process alone). `progress` is called on every rank; rank 0's sees the whole job.
// With a checkpoint, shards already in it are loaded instead of computed (rank 0
// announces how many on stderr) and each newly finished shard is kept. Throws as
// runAgreed describes; in a job of one process, the shard's own exception.
void runShards(const Communicator& comm, const ShardJob& job, const ProgressFn& progress = {},
               const ShardCheckpoint& checkpoint = {});

// Shards of `items` items in groups of `perShard` (the last may be smaller).
inline int shardCount(long items, long perShard) { return int((items + perShard - 1) / perShard); }

}  // namespace mwb::cluster
