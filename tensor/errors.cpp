#include "tensor/errors.h"

#include <string>

namespace mwb {

void checkFailed(const char* expr, const char* file, int line) {
    // An internal invariant is broken: a bug, not bad input. Still an exception so
    // that the GUI survives and can report it.
    throw std::logic_error(std::string("internal error: ") + expr + " failed at " + file + ":" +
                           std::to_string(line));
}

}  // namespace mwb
