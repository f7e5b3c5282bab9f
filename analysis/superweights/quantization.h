// Round-to-nearest weight quantisation as in the super-weight paper (Yu et al. 2024,
// section 4.2): symmetric absmax per block of `blockSize` consecutive weights (row-
// major) of every attention (q, k, v, o) and MLP (up, gate, down) matrix, at 8, 4 or
// 3 bits; optionally holding the super weights out (excluded from their block's
// absmax and kept at full precision) and clipping outliers first (z-score per block).
// The quantised model is compared against the original on a corpus: perplexity and
// mean KL divergence of the next-token distributions, in one table.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/superweights/model_variant.h"
#include "metrics/perplexity.h"
#include "analysis/superweights/weight_selection.h"
#include "model/weight_overrides.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

struct QuantizationConfig {
    int bits = 4;                      // 3, 4 or 8
    int blockSize = 128;               // consecutive weights sharing one scale
    bool holdOutSuperWeights = false;  // keep the given super weights exact
    double clipZ = 0.0;                // > 0: clip |w| above mean|w| + clipZ * std|w| of the block first
};

std::string label(const QuantizationConfig& c);  // e.g. "int4/128 clip z=3 +SW"

// Throws InvalidInput unless bits is 3, 4 or 8, the block size is at least 1 and clipZ >= 0.
void validateConfig(const QuantizationConfig& c);

struct QuantizationError {
    double squaredError = 0.0;  // sum of (w - q(w))^2 (held-out weights add 0)
    double squaredNorm = 0.0;   // sum of w^2 over all weights of the matrices
    long weights = 0;           // weights quantised (held-out ones not counted)
    long clipped = 0;
    long heldOut = 0;

    double relative() const;  // sqrt(squaredError / squaredNorm)
    void add(const QuantizationError& o);
};

// The quantised copy of `w` (symmetric: q = clamp(round(w / s), -qmax, qmax) * s with
// s = absmax / qmax, qmax = 2^(bits-1) - 1, per block). Flat indices in `heldOut` take
// no part in their block's scale and keep their exact value.
Matrix quantizeBlockwise(const Matrix& w, const QuantizationConfig& config, const std::vector<long>& heldOut,
                         QuantizationError& error);

// A matrix quantisation touches: its file path, where it sits, and the model's weight.
struct QuantizedMatrix {
    std::string path;
    int layer;
    BlockLinear which;
    const Matrix* weight;
};
std::vector<QuantizedMatrix> quantizedMatrices(const Model& model);

// Overrides with quantised copies of all those matrices. `superWeights` are held out
// when the config asks for it (validated against the model).
WeightOverrides quantizationOverrides(const Model& model, const QuantizationConfig& config,
                                const std::vector<WeightCoord>& superWeights, QuantizationError& error);

struct QuantizationRow {
    QuantizationConfig config;
    std::string label;
    QuantizationError error;
    CorpusComparison corpus;  // original and quantised perplexity, mean KL
};

struct QuantizationTable {
    std::vector<WeightCoord> superWeights;
    CorpusScore original;
    std::vector<QuantizationRow> rows;
};

// One row per config, in order; the model is not changed. Throws InvalidInput
// for a bad config, no config, an empty corpus or a super weight outside the model.
QuantizationTable evaluateQuantization(const Model& model, const std::vector<QuantizationConfig>& configs,
                                       const std::vector<WeightCoord>& superWeights,
                                       const std::vector<std::vector<int>>& corpus, const ProgressFn& progress = {});

// The rows of the standard table: for each bit width plain round-to-nearest, then
// with the super weights held out (when holdOut), clipped (when clipZ > 0), and both.
std::vector<QuantizationConfig> tableConfigs(const std::vector<int>& bits, int blockSize, bool holdOut, double clipZ);

nlohmann::json toJson(const QuantizationTable& t);

}  // namespace mwb
