// The processes of one job and the few collective operations the sharded jobs need.
// Built on MPI when it was found at configure time and the program was started by an
// MPI launcher (mpirun, srun); otherwise a job of one process. This file and
// communicator_mpi.cpp are the only places that know about MPI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mwb::cluster {

class Communicator {
public:
    // The job this process belongs to. The first call initialises MPI when the process
    // was started by an MPI launcher (MPI is finalised at exit); without a launcher, or
    // in a build without MPI, a job of one process. Not thread-safe: call it from the
    // main thread.
    static const Communicator& world();
    // A job of this process alone, whatever the launcher: for work that must not be
    // split (the GUI, library calls that are not given a communicator).
    static const Communicator& self();

    int rank() const { return m_rank; }
    int size() const { return m_size; }
    bool isRoot() const { return m_rank == 0; }

    // Every rank's value, in rank order, on every rank.
    std::vector<int> allGather(int value) const;
    // `bytes` of rank 0, on every rank (the argument is ignored elsewhere).
    std::string broadcast(const std::string& bytes) const;
    // Every rank's bytes in rank order on rank 0; an empty list on the other ranks.
    // Any size (sent in pieces below MPI's 2 GiB message limit).
    std::vector<std::string> gather(const std::string& bytes) const;
    // Ends every process of the job at once (MPI_Abort), for a failure that cannot be
    // agreed on; in a job of one process, std::exit(code).
    [[noreturn]] void abort(int code) const;

    // Whether this process is part of a job of several processes that has started
    // (world() was called under a launcher); never initialises anything itself.
    static bool running();
    // This process's rank as the launcher's environment gives it, without starting
    // MPI: 0 for a plain run, and always 0 in a build without MPI (whose processes
    // are each a job of their own).
    static int launcherRank();
    // Whether an MPI launcher started this process (always false without MPI).
    static bool launched();

    // "Open MPI 4.1.4" or "none (this build has no MPI)", for reports.
    static std::string implementation();
    // Whether this build can run over several processes.
    static bool available();

private:
    Communicator() = default;
    int m_rank = 0;
    int m_size = 1;
};

}  // namespace mwb::cluster
