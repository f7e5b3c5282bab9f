// Top-k routing of one token (see moe_routing.h).
#include "model/moe_routing.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace mwb {

void routeToken(const ModelConfig& c, const float* logits, int* experts, float* weights) {
    const int n = c.nExperts, k = c.nExpertsPerToken;
    // The softmax is monotonic, so ranking the logits ranks the probabilities; ranking
    // the logits also keeps two experts whose probabilities round to the same float
    // apart. The tie rule (lower index first) is what a stable descending sort gives,
    // and does not depend on the other tokens of the batch.
    thread_local std::vector<int> order;
    order.resize(size_t(n));
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
        return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
    });
    // softmax(x)_e = exp(x_e - max) / sum exp(x - max) (Shazeer et al. 2017, eq. 3-4 with
    // the top-k applied after the softmax, as Mixtral, OLMoE and Qwen-MoE do).
    const double top = logits[order[0]];
    double sum = 0.0;
    for (int e = 0; e < n; ++e) sum += std::exp(double(logits[e]) - top);
    double chosen = 0.0;
    for (int j = 0; j < k; ++j) chosen += std::exp(double(logits[order[j]]) - top) / sum;
    for (int j = 0; j < k; ++j) {
        experts[j] = order[j];
        const double p = std::exp(double(logits[order[j]]) - top) / sum;
        weights[j] = float(c.normTopK ? p / chosen : p);
    }
}

}  // namespace mwb
