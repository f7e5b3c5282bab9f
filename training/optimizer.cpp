// AdamW, learning-rate schedule and gradient clipping (see optimizer.h).
#include "training/optimizer.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "tensor/adam.h"
#include "tensor/errors.h"

namespace mwb {

namespace {

struct TensorSpan {
    std::string path;
    float* data;
    Eigen::Index size;
};

std::vector<TensorSpan> tensorSpans(const ModelConfig& c, Weights& w) {
    std::vector<TensorSpan> out;
    forEachTensor(c, w, [&](const std::string& path, auto& t) {
        out.push_back({path, t.data(), t.size()});
    });
    return out;
}

using FlatArray = Eigen::Map<Eigen::ArrayXf>;

}  // namespace

double learningRate(int step, int totalSteps, int warmup, double lr, double minLr) {
    if (step < warmup) return lr * double(step + 1) / double(warmup);
    const int decaySteps = totalSteps - warmup;
    if (decaySteps <= 0) return lr;
    const double progress = std::min(1.0, double(step - warmup) / double(decaySteps));
    return minLr + 0.5 * (lr - minLr) * (1.0 + std::cos(std::numbers::pi * progress));
}

double clipGradNorm(const ModelConfig& c, Weights& grads, double maxNorm) {
    double sum = 0;
    const auto spans = tensorSpans(c, grads);
    for (const TensorSpan& s : spans) sum += FlatArray(s.data, s.size).cast<double>().square().sum();
    const double norm = std::sqrt(sum);
    if (maxNorm > 0 && norm > maxNorm) {
        const float scale = float(maxNorm / norm);
        for (const TensorSpan& s : spans) FlatArray(s.data, s.size) *= scale;
    }
    return norm;
}

bool decaysWeight(const std::string& path) {
    if (path.rfind("/embed/", 0) == 0) return false;
    if (path.find("norm") != std::string::npos) return false;
    return path.size() >= 7 && path.compare(path.size() - 7, 7, "/weight") == 0;
}

AdamW::AdamW(const ModelConfig& config, AdamWSettings settings)
    : m_config(config),
      m_settings(settings),
      m_m(zeroWeights<float>(config)),
      m_v(zeroWeights<float>(config)) {}

void AdamW::step(Weights& weights, const Weights& grads, double lr) {
    ++m_steps;
    const auto w = tensorSpans(m_config, weights);
    const auto g = tensorSpans(m_config, const_cast<Weights&>(grads));
    const auto m = tensorSpans(m_config, m_m);
    const auto v = tensorSpans(m_config, m_v);
    MWB_CHECK(w.size() == g.size() && w.size() == m.size() && w.size() == v.size());
    const AdamHyper adam{m_settings.beta1, m_settings.beta2, m_settings.eps};
    for (size_t i = 0; i < w.size(); ++i) {
        MWB_CHECK(w[i].size == g[i].size && w[i].size == m[i].size && w[i].size == v[i].size);
        FlatArray wi(w[i].data, w[i].size), gi(g[i].data, g[i].size);
        FlatArray mi(m[i].data, m[i].size), vi(v[i].data, v[i].size);
        adamMoments(mi, vi, gi, adam);
        const float decay = decaysWeight(w[i].path) ? float(lr * m_settings.weightDecay) : 0.0f;
        wi -= adamStep(mi, vi, m_steps, lr, adam) + decay * wi;
    }
}

}  // namespace mwb
