// Progress reporting and cancellation for long work, without Qt: the callback
// returns false to ask the work to stop, which then throws mwb::Cancelled.
#pragma once

#include <functional>
#include <string_view>

#include "tensor/errors.h"

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

// Reports the progress of one step of a longer job as the span [begin, end] (fractions
// of the whole) of `fn`'s bar, so that a job of several steps fills one bar once.
inline ProgressFn progressSpan(ProgressFn fn, double begin, double end) {
    if (!fn) return {};
    return [fn = std::move(fn), begin, end](const Progress& p) {
        constexpr long kUnits = 1000;
        const double f = p.total > 0 ? static_cast<double>(p.done) / p.total : 0.0;
        return fn({static_cast<long>(kUnits * (begin + (end - begin) * f)), kUnits, p.stage});
    };
}

}  // namespace mwb
