// The communicator over MPI (communicator.h); compiled only when CMake found MPI.
// The C API only: without these, Open MPI's and MPICH's mpi.h pull in their deprecated
// C++ bindings, which need a library of their own.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "cluster/communicator.h"

namespace mwb::cluster {

namespace {

// MPI messages count in int: larger payloads go in pieces of at most 1 GiB.
constexpr size_t kPiece = size_t(1) << 30;
constexpr int kSizeTag = 1, kDataTag = 2;

// Waits for a non-blocking operation, sleeping between checks. Blocking MPI calls
// spin at full speed while a rank waits for the others at the end of a round; on a
// shared node (or with more ranks than cores) that spinning takes the CPU from the
// ranks still computing. A check every few milliseconds costs nothing against shards
// that take seconds.
void wait(MPI_Request& request) {
    auto pause = std::chrono::microseconds(50);
    for (int done = 0;;) {
        MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        if (done) return;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(5000));
    }
}

void finalizeAtExit() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
}

}  // namespace

const Communicator& Communicator::self() {
    static const Communicator alone;
    return alone;
}

const Communicator& Communicator::world() {
    static const Communicator w = [] {
        Communicator c;
        if (!launched()) return c;
        int provided = 0;
        // Only the main thread calls MPI; OpenMP threads do the arithmetic in between.
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
        std::atexit(finalizeAtExit);
        MPI_Comm_rank(MPI_COMM_WORLD, &c.m_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c.m_size);
        return c;
    }();
    return w;
}

std::vector<int> Communicator::allGather(int value) const {
    std::vector<int> all(m_size, value);
    if (m_size == 1) return all;
    MPI_Request request;
    MPI_Iallgather(&value, 1, MPI_INT, all.data(), 1, MPI_INT, MPI_COMM_WORLD, &request);
    wait(request);
    return all;
}

std::string Communicator::broadcast(const std::string& bytes) const {
    if (m_size == 1) return bytes;
    uint64_t n = m_rank == 0 ? bytes.size() : 0;
    MPI_Request request;
    MPI_Ibcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &request);
    wait(request);
    std::string out = m_rank == 0 ? bytes : std::string(n, '\0');
    for (size_t at = 0; at < n; at += kPiece) {
        MPI_Ibcast(out.data() + at, int(std::min(kPiece, n - at)), MPI_BYTE, 0, MPI_COMM_WORLD, &request);
        wait(request);
    }
    return out;
}

std::vector<std::string> Communicator::gather(const std::string& bytes) const {
    if (m_size == 1) return {bytes};
    MPI_Request request;
    if (m_rank != 0) {
        const uint64_t n = bytes.size();
        MPI_Isend(&n, 1, MPI_UINT64_T, 0, kSizeTag, MPI_COMM_WORLD, &request);
        wait(request);
        for (size_t at = 0; at < n; at += kPiece) {
            MPI_Isend(bytes.data() + at, int(std::min(kPiece, n - at)), MPI_BYTE, 0, kDataTag, MPI_COMM_WORLD,
                      &request);
            wait(request);
        }
        return {};
    }
    std::vector<std::string> all(m_size);
    all[0] = bytes;
    for (int r = 1; r < m_size; ++r) {
        uint64_t n = 0;
        MPI_Irecv(&n, 1, MPI_UINT64_T, r, kSizeTag, MPI_COMM_WORLD, &request);
        wait(request);
        all[r].resize(n);
        for (size_t at = 0; at < n; at += kPiece) {
            MPI_Irecv(all[r].data() + at, int(std::min(kPiece, n - at)), MPI_BYTE, r, kDataTag, MPI_COMM_WORLD,
                      &request);
            wait(request);
        }
    }
    return all;
}

void Communicator::abort(int code) const {
    if (m_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
}

std::string Communicator::implementation() {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string text(version, size_t(length));
    const size_t comma = text.find(',');
    return comma == std::string::npos ? text : text.substr(0, comma);
}

bool Communicator::available() { return true; }

bool Communicator::running() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized && world().size() > 1;
}

// MPI_Init without a launcher would make Open MPI start a runtime of its own (a
// "singleton"), which is slow and fails in some sandboxes; a plain run of mwb stays an
// ordinary single process instead.
bool Communicator::launched() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
        if (const char* v = std::getenv(name); v && *v) return true;
    return false;
}

int Communicator::launcherRank() {
    for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
        if (const char* v = std::getenv(name); v && *v) return std::atoi(v);
    return 0;
}

}  // namespace mwb::cluster
