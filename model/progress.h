// Progress reporting and cancellation for long work, without Qt: the callback
// returns false to ask the work to stop, which then throws mwb::Cancelled.
#pragma once

#include <functional>
#include <string_view>

#include "model/errors.h"

namespace mwb {

struct Progress {
    long done = 0;
    long total = 0;
    std::string_view stage;
};

using ProgressFn = std::function<bool(const Progress&)>;

inline void report(const ProgressFn& fn, const Progress& p) {
    if (fn && !fn(p)) throw Cancelled{};
}

}  // namespace mwb
