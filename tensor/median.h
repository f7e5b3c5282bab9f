// The median of a list of numbers (the mean of the two middle ones for an even count;
// 0 for none): for summaries that a few outliers must not move.
#pragma once

#include <algorithm>
#include <vector>

namespace mwb {

inline double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace mwb
