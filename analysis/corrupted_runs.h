// The building blocks of corrupted runs, shared by causal tracing and the subject
// check (Meng et al. 2022 §2.1): noise added through hooks, copies of a clean run
// recomputed from the corrupted layer and position on, the answer's mean probability
// over them, and the noise level as three standard deviations of the activations.
#pragma once

#include <vector>

#include "model/hooks.h"
#include "model/transformer.h"
#include "tensor/tensor.h"

namespace mwb {

// `hooks` plus Add patches of noise.row(i) at (site, layer), position firstPos + i.
Hooks withNoise(HookSite site, int layer, int firstPos, const Matrix& noise, Hooks hooks = {});

// One copy of `clean` per entry of `hooks`, each rerun from (fromLayer, fromPos) with
// its hooks, all in one batched pass (Transformer::rerunMany).
std::vector<RunState> rerunCopies(const Transformer& transformer, const RunState& clean, int fromLayer,
                                  int fromPos, const std::vector<Hooks>& hooks);

// The mean over the runs of the answer's probability at the last position.
double meanProbability(const std::vector<RunState*>& runs, int answerId);
double meanProbability(const std::vector<RunState>& runs, int answerId);
// The same from the runs' last logit rows, one row per run.
double meanProbability(const Eigen::Ref<const Matrix>& lastLogits, int answerId);

// The spread of activation entries, accumulated entry by entry in double: the noise
// level of a corrupted run is three times their (unbiased) standard deviation, as
// torch.std() in the reference code.
struct ActivationSpread {
    double sum = 0.0, sumSq = 0.0;
    long count = 0;

    template <typename Row>
    void add(const Row& row) {
        for (Eigen::Index j = 0; j < row.size(); ++j) {
            sum += row[j];
            sumSq += double(row[j]) * row[j];
        }
        count += row.size();
    }
    // 3 standard deviations; 0 with fewer than 2 entries.
    double threeSigma() const;
};

}  // namespace mwb
