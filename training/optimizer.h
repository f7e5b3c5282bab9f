// AdamW with decoupled weight decay (Loshchilov & Hutter 2019), the warm-up +
// cosine learning-rate schedule and global-norm gradient clipping, over the tensors
// listed by forEachTensor.
#pragma once

#include <string>

#include "model/config.h"
#include "model/weights.h"

namespace mwb {

// Linear warm-up from lr/warmup to lr over `warmup` steps, then cosine decay to minLr
// at step totalSteps. step counts from 0.
double learningRate(int step, int totalSteps, int warmup, double lr, double minLr);

// The global L2 norm of all gradient tensors (summed in double, in file order). When
// maxNorm > 0 and the norm exceeds it, scales every tensor by maxNorm / norm.
// Returns the norm before clipping.
double clipGradNorm(const ModelConfig& c, Weights& grads, double maxNorm);

// Whether weight decay applies to the tensor at an HDF5 path: only the matrices of
// the linear layers (attention, MLP and an untied lm_head). Norm weights, biases and
// the token and position embeddings are not decayed: shrinking them towards zero does
// not regularise (norms, biases), and decaying the rarely seen rows of a large
// embedding table only erases what little they learned.
bool decaysWeight(const std::string& path);

struct AdamWSettings {
    double beta1 = 0.9;
    double beta2 = 0.95;
    double eps = 1e-8;
    double weightDecay = 0.1;
};

class AdamW {
public:
    AdamW(const ModelConfig& config, AdamWSettings settings);

    // One update of `weights` from `grads` at learning rate lr:
    //   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g²,
    //   w -= lr (m / (1-b1^t) / (sqrt(v / (1-b2^t)) + eps) + wd w)   (wd only where decaysWeight).
    void step(Weights& weights, const Weights& grads, double lr);

    // State, for checkpoints: number of steps taken and the first and second moments.
    long steps() const { return m_steps; }
    Weights& firstMoment() { return m_m; }
    Weights& secondMoment() { return m_v; }
    void setSteps(long steps) { m_steps = steps; }

private:
    ModelConfig m_config;
    AdamWSettings m_settings;
    long m_steps = 0;
    Weights m_m;
    Weights m_v;
};

}  // namespace mwb
