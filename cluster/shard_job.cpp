// Sharded jobs over the ranks of a communicator, with agreed failures (shard_job.h).
#include "cluster/shard_job.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <optional>

#include "cluster/bytes.h"
#include "cluster/checkpoint.h"

namespace mwb::cluster {

namespace {

enum Status : int { kOk = 0, kFailed = 1, kCancelled = 2 };

// Runs work(); in a job of several processes turns its exception into a status and a
// message for the next exchange. In a job of one process the exception goes on as
// it is, so that a single process reports exactly what it always did.
template <class Fn>
int attempt(const Communicator& comm, Fn&& work, std::string& message) {
    if (comm.size() == 1) {
        work();
        return kOk;
    }
    try {
        work();
        return kOk;
    } catch (const JobError&) {
        throw;
    } catch (const StoppedElsewhere&) {
        throw;
    } catch (const Cancelled&) {
        return kCancelled;
    } catch (const std::bad_alloc&) {
        message = "out of memory";
    } catch (const std::exception& e) {
        message = e.what();
    }
    return kFailed;
}

// Every rank's status; when any is not ok, every rank throws: rank 0 the sentence for
// the lowest failing rank (a failure outranks a cancellation), the others
// StoppedElsewhere. Rank 0's own failure keeps its message as a single process has it.
void exchange(const Communicator& comm, int status, const std::string& message) {
    if (comm.size() == 1) return;
    const std::vector<int> statuses = comm.allGather(status);
    bool allOk = true;
    for (int s : statuses) allOk = allOk && s == kOk;
    if (allOk) return;
    const std::vector<std::string> messages = comm.gather(status == kFailed ? message : std::string());
    if (!comm.isRoot()) throw StoppedElsewhere{};
    for (int r = 0; r < comm.size(); ++r) {
        if (statuses[r] != kFailed) continue;
        // Rank 0's failure outside a shard (bad input every rank meets alike) reads
        // as a single process's; a failure in a shard names its rank.
        if (r == 0 && messages[0].rfind("at shard ", 0) != 0) throw JobError(messages[0]);
        throw JobError("rank " + std::to_string(r) + " of " + std::to_string(comm.size()) + " failed" +
                       (messages[r].rfind("at shard ", 0) == 0 ? " " : ": ") + messages[r]);
    }
    throw Cancelled{};
}

// MWB_FAIL_SHARD=RANK:SHARD makes that rank fail when it starts that shard, with an
// error (or with ":kill", killed by SIGKILL as a lost node is): a test hook for the
// failure and resume paths, as MWB_FAIL_WRITES is for full disks.
void failShardForTest(const Communicator& comm, int shard) {
    const char* spec = std::getenv("MWB_FAIL_SHARD");
    if (!spec || !*spec) return;
    int rank = -1, failing = -1;
    char mode[16] = {};
    if (std::sscanf(spec, "%d:%d:%15s", &rank, &failing, mode) < 2) return;
    if (rank != comm.rank() || failing != shard) return;
    if (std::string(mode) == "kill") std::raise(SIGKILL);
    throw Error("MWB_FAIL_SHARD made shard " + std::to_string(shard) + " fail (a test hook)");
}

}  // namespace

void runAgreed(const Communicator& comm, const std::function<void()>& body) {
    std::string message;
    const int status = attempt(comm, body, message);
    exchange(comm, status, message);  // also the final agreement when this rank succeeded
}

std::string agreedBroadcast(const Communicator& comm, const std::function<std::string()>& rootWork) {
    std::string bytes, message;
    const int status = attempt(comm, [&] { if (comm.isRoot()) bytes = rootWork(); }, message);
    exchange(comm, status, message);
    return comm.broadcast(bytes);
}

void runShards(const Communicator& comm, const ShardJob& job, const ProgressFn& progress,
               const ShardCheckpoint& checkpoint) {
    const auto units = [&](int shard) { return job.units ? job.units(shard) : 1L; };
    long totalUnits = 0;
    for (int s = 0; s < job.shards; ++s) totalUnits += units(s);

    // Rank 0 alone reads the checkpoint and decides which shards remain.
    std::optional<CheckpointStore> store;
    const std::string plan = agreedBroadcast(comm, [&] {
        if (!checkpoint.dir.empty()) store.emplace(checkpoint.dir, checkpoint.identity);
        std::vector<int> remaining;
        for (int s = 0; s < job.shards; ++s)
            if (!store || !store->finished().count(s)) remaining.push_back(s);
        ByteWriter w;
        w.put(remaining);
        return w.take();
    });
    const std::vector<int> remaining = ByteReader(plan, "the shard plan").getVector<int>();
    long doneUnits = 0;
    if (comm.isRoot() && store) {
        for (int s = 0; s < job.shards; ++s)
            if (store->finished().count(s)) doneUnits += units(s);
        if (remaining.size() < size_t(job.shards))
            std::fprintf(stderr, "resuming from %s: %d of %d shards already finished\n",
                         store->dir().string().c_str(), job.shards - int(remaining.size()), job.shards);
    }

    // Rank 0 consumes in shard order: results that arrive early wait in `pending`.
    std::map<int, std::string> pending;
    int next = 0;
    const auto drain = [&] {
        for (; next < job.shards; ++next) {
            if (auto it = pending.find(next); it != pending.end()) {
                job.consume(next, it->second);
                pending.erase(it);
            } else if (store && store->finished().count(next)) {
                job.consume(next, store->load(next));
            } else {
                break;
            }
        }
    };
    const int nRanks = comm.size();
    for (size_t first = 0; first < remaining.size(); first += size_t(nRanks)) {
        const size_t mine = first + size_t(comm.rank());
        std::string result, message;
        const int status = attempt(comm, [&] {
            if (comm.isRoot()) drain();
            report(progress, {doneUnits, totalUnits, job.stage});
            if (mine >= remaining.size()) return;
            failShardForTest(comm, remaining[mine]);
            try {
                result = job.compute(remaining[mine]);
            } catch (const Error& e) {
                if (nRanks == 1) throw;
                throw Error("at shard " + std::to_string(remaining[mine]) + ": " + e.what());
            }
        }, message);
        exchange(comm, status, message);
        std::vector<std::string> results = comm.gather(result);
        if (!comm.isRoot()) continue;
        for (int r = 0; r < nRanks && first + size_t(r) < remaining.size(); ++r) {
            const int shard = remaining[first + size_t(r)];
            if (store) store->save(shard, results[size_t(r)]);
            doneUnits += units(shard);
            pending[shard] = std::move(results[size_t(r)]);
        }
    }
    if (!comm.isRoot()) return;
    drain();
    MWB_CHECK(next == job.shards && pending.empty());
    report(progress, {totalUnits, totalUnits, job.stage});
}

}  // namespace mwb::cluster
