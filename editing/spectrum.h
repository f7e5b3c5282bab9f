// The largest singular values and the numerical rank of a matrix, cheaply when it is
// low-rank: the difference between an edited and an unedited weight matrix usually
// has rank one (ROME) or a few (MEMIT), so a randomized range sketch (Halko,
// Martinsson & Tropp 2011, algorithm 4.1) of a handful of columns captures it exactly.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace mwb {

struct SpectrumOptions {
    int top = 8;            // how many of the largest singular values to return
    // A singular value counts towards the rank when it exceeds
    //   max(relTol * largest singular value, absTol).
    // relTol must be >= 1e-7 (the exact fallback squares the matrix, which resolves
    // singular values down to ~1e-8 of the largest). absTol is for a known noise
    // floor, e.g. float rounding of the matrices whose difference is analysed.
    double relTol = 1e-6;
    double absTol = 0.0;
    // The sketch starts with 8 columns and doubles until it holds a singular value
    // below the threshold. When it would exceed maxSketch columns (or half the smaller
    // side), the spectrum is computed exactly if the smaller side is <= exactLimit or
    // `exact` is set; otherwise the rank is reported as a lower bound.
    int maxSketch = 256;
    int exactLimit = 1024;
    bool exact = false;     // always compute the exact spectrum
    uint64_t seed = 1;      // of the Gaussian test matrix (results are deterministic)
};

struct Spectrum {
    std::vector<double> singularValues;  // the largest ones, descending (at most `top`)
    int rank = 0;                        // singular values above the threshold
    bool rankIsLowerBound = false;       // the sketch ran out before the rank was found
    double threshold = 0.0;              // the cut used for the rank
    bool exactMethod = false;            // computed from the full matrix, not a sketch
};

// d: [m x n] (a vector is [m x 1]). Never throws for finite input.
Spectrum spectrum(const Eigen::Ref<const MatrixD>& d, const SpectrumOptions& options = {});

}  // namespace mwb
