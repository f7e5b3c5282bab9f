#include "metrics/next_token_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "tensor/errors.h"

namespace mwb {

VectorD logSoftmax(const Eigen::Ref<const RowVector>& logits) {
    VectorD x = logits.transpose().cast<double>();
    const double m = x.maxCoeff();
    const double lse = m + std::log((x.array() - m).exp().sum());
    return x.array() - lse;
}

double klDivergence(const VectorD& logP, const VectorD& logQ) {
    MWB_CHECK(logP.size() == logQ.size());
    double kl = 0.0;
    for (Eigen::Index i = 0; i < logP.size(); ++i) {
        const double p = std::exp(logP[i]);
        if (p > 0.0) kl += p * (logP[i] - logQ[i]);
    }
    return std::max(0.0, kl);
}

std::vector<TokenProb> topTokens(const VectorD& probs, int k, const Tokenizer& tokenizer) {
    k = std::clamp<int>(k, 0, static_cast<int>(probs.size()));
    std::vector<int> order(probs.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int a, int b) { return probs[a] != probs[b] ? probs[a] > probs[b] : a < b; });
    std::vector<TokenProb> out;
    for (int i = 0; i < k; ++i) {
        const int id = order[i];
        out.push_back({id, id < tokenizer.vocabSize() ? tokenizer.tokenDisplay(id) : std::to_string(id), probs[id]});
    }
    return out;
}

int topOverlap(const std::vector<TokenProb>& a, const std::vector<TokenProb>& b) {
    std::unordered_set<int> ids;
    for (const auto& t : a) ids.insert(t.id);
    int n = 0;
    for (const auto& t : b) n += ids.count(t.id) ? 1 : 0;
    return n;
}

double maskedMass(const VectorD& probs, const std::vector<char>& mask) {
    double sum = 0.0;
    const Eigen::Index n = std::min<Eigen::Index>(probs.size(), static_cast<Eigen::Index>(mask.size()));
    for (Eigen::Index i = 0; i < n; ++i)
        if (mask[i]) sum += probs[i];
    return sum;
}

nlohmann::json toJson(const TokenProb& t) { return {{"id", t.id}, {"token", t.token}, {"prob", t.prob}}; }

nlohmann::json toJson(const std::vector<TokenProb>& list) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : list) out.push_back(toJson(t));
    return out;
}

}  // namespace mwb
