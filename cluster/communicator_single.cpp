// The communicator of a build without MPI: every job is one process (communicator.h).
#include <cstdlib>

#include "cluster/communicator.h"

namespace mwb::cluster {

const Communicator& Communicator::self() {
    static const Communicator alone;
    return alone;
}

const Communicator& Communicator::world() { return self(); }

std::vector<int> Communicator::allGather(int value) const { return {value}; }
std::string Communicator::broadcast(const std::string& bytes) const { return bytes; }
std::vector<std::string> Communicator::gather(const std::string& bytes) const { return {bytes}; }
void Communicator::abort(int code) const { std::exit(code); }
std::string Communicator::implementation() { return "none (this build has no MPI)"; }
bool Communicator::available() { return false; }
bool Communicator::running() { return false; }
int Communicator::launcherRank() { return 0; }
bool Communicator::launched() { return false; }

}  // namespace mwb::cluster
