// The MLP of a mixture-of-experts layer in the differentiable pass (see backprop.h and
// docs/mixture-of-experts.md): the same routing as the inference pass
// (moe_routing.h: top k by logit, lower index first on ties, softmax weights, optionally
// renormalised), and its gradient. The choice of experts is piecewise constant in the
// router logits, so the gradient flows through the chosen experts and, by the softmax,
// into the router; with renormalisation only the chosen logits receive it.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "model/backprop.h"
#include "tensor/errors.h"

namespace mwb {

namespace {

using Eigen::Index;

// y = down(act(gate h) * up h) of an expert's rows, keeping u, g and m.
template <typename T, typename Cache>
void expertForward(const ModelConfig& c, const ExpertT<T>& e, Cache& x, MatrixT<T>& scratch) {
    bp::linearForward(x.h, e.up, x.u, scratch);
    bp::linearForward(x.h, e.gate, x.g, scratch);
    bp::gluForward(c.activation, x.g, x.u, x.m);
    bp::linearForward(x.m, e.down, x.y, scratch);
}

// From dy = d loss / d y, dh = d loss / d h of the expert's rows (and the weight
// gradients into g when not null).
template <typename T, typename Cache>
void expertBackward(const ModelConfig& c, const ExpertT<T>& e, const Cache& x, const MatrixT<T>& dy,
                    MatrixT<T>& dh, ExpertT<T>* g, MatrixT<T>& scratch) {
    MatrixT<T> dm, dg, du;
    bp::productXW(dm, dy, e.down.weightIn(scratch), false);
    bp::gluBackward(c.activation, x.g, x.u, dm, dg, du);
    bp::productXW(dh, du, e.up.weightIn(scratch), false);
    bp::productXW(dh, dg, e.gate.weightIn(scratch), true);
    if (g) {
        bp::linearWeightGrad(dy, x.m, g->down);
        bp::linearWeightGrad(du, x.h, g->up);
        bp::linearWeightGrad(dg, x.h, g->gate);
    }
}

}  // namespace

template <typename T>
void BackpropT<T>::moeForward(int layer, LayerCache& a) {
    const ModelConfig& c = m_config;
    const MoeWeightsT<T>& moe = m_weights.blocks[layer].moe;
    const Index rows = a.h2.rows();
    const int nExperts = c.nExperts, k = c.nExpertsPerToken;
    MatrixT<T> logits;
    bp::linearForward(a.h2, moe.router, logits, m_scratch);
    a.routerProbs.resize(rows, nExperts);
    a.moeWeights.resize(rows, k);
    a.moeExperts.resize(rows, k);
    a.experts.assign(size_t(nExperts), ExpertCache{});
    std::vector<int> order(static_cast<size_t>(nExperts));
    for (Index r = 0; r < rows; ++r) {
        const auto l = logits.row(r);
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          [&](int x, int y) { return l[x] != l[y] ? l[x] > l[y] : x < y; });
        a.routerProbs.row(r) = (l.array() - l.maxCoeff()).exp();
        a.routerProbs.row(r) /= a.routerProbs.row(r).sum();
        T chosen = 0;
        for (int j = 0; j < k; ++j) chosen += a.routerProbs(r, order[j]);
        for (int j = 0; j < k; ++j) {
            a.moeExperts(r, j) = order[size_t(j)];
            a.moeWeights(r, j) = a.routerProbs(r, order[j]) / (c.normTopK ? chosen : T(1));
            a.experts[size_t(order[j])].slots.push_back(int(r) * k + j);
        }
    }
    if (m_routerBalance > 0 && !m_recomputing) {
        double loss = 0;
        for (int e = 0; e < nExperts; ++e)
            loss += double(a.experts[size_t(e)].slots.size()) / double(rows * k) * double(a.routerProbs.col(e).mean());
        m_balanceLoss[size_t(layer)] = m_routerBalance * nExperts * loss / c.moeLayerCount();
    }
    a.moeOut.setZero(rows, c.dModel);
    for (int e = 0; e < nExperts; ++e) {
        ExpertCache& x = a.experts[size_t(e)];
        if (x.slots.empty()) continue;
        x.h.resize(Index(x.slots.size()), c.dModel);
        for (size_t i = 0; i < x.slots.size(); ++i) x.h.row(Index(i)) = a.h2.row(x.slots[i] / k);
        expertForward(c, moe.experts[size_t(e)], x, m_scratch);
        for (size_t i = 0; i < x.slots.size(); ++i) {
            const int r = x.slots[i] / k, j = x.slots[i] % k;
            a.moeOut.row(r) += a.moeWeights(r, j) * x.y.row(Index(i));
        }
    }
    if (c.dSharedExpert > 0) {  // + sigmoid(shared_gate h) * shared(h)
        a.shared.h = a.h2;
        expertForward(c, moe.shared, a.shared, m_scratch);
        MatrixT<T> gate;
        bp::linearForward(a.h2, moe.sharedGate, gate, m_scratch);
        a.sharedGate = gate.col(0);
        for (Index r = 0; r < rows; ++r)
            a.moeOut.row(r) += T(1) / (T(1) + std::exp(-a.sharedGate[r])) * a.shared.y.row(r);
    }
}

template <typename T>
void BackpropT<T>::moeBackward(int layer, const LayerCache& a, const MatrixT<T>& dOut, BlockWeightsT<T>* g) {
    const ModelConfig& c = m_config;
    const MoeWeightsT<T>& moe = m_weights.blocks[layer].moe;
    MoeWeightsT<T>* gm = g ? &g->moe : nullptr;
    const Index rows = a.h2.rows();
    const int nExperts = c.nExperts, k = c.nExpertsPerToken;
    m_dh2.setZero(rows, c.dModel);
    MatrixT<T> dWeights(rows, k);  // d loss / d (mixing weight j of row r)
    MatrixT<T> dy, dh;
    for (int e = 0; e < nExperts; ++e) {
        const ExpertCache& x = a.experts[size_t(e)];
        if (x.slots.empty()) continue;
        dy.resize(Index(x.slots.size()), c.dModel);
        for (size_t i = 0; i < x.slots.size(); ++i) {
            const int r = x.slots[i] / k, j = x.slots[i] % k;
            dy.row(Index(i)) = a.moeWeights(r, j) * dOut.row(r);
            dWeights(r, j) = dOut.row(r).dot(x.y.row(Index(i)));
        }
        expertBackward(c, moe.experts[size_t(e)], x, dy, dh, gm ? &gm->experts[size_t(e)] : nullptr, m_scratch);
        for (size_t i = 0; i < x.slots.size(); ++i) m_dh2.row(x.slots[i] / k) += dh.row(Index(i));
    }
    // Through the softmax into the router logits. Renormalised, the weights are the
    // softmax of the chosen logits alone: dl_j = w_j (dw_j - Σ_i w_i dw_i) for chosen j.
    // Otherwise w_j = p_{e_j}: dl_e = p_e (dw_e [e chosen] - Σ_j p_{e_j} dw_j) for all e.
    MatrixT<T> dLogits = MatrixT<T>::Zero(rows, nExperts);
    for (Index r = 0; r < rows; ++r) {
        T s = 0;
        for (int j = 0; j < k; ++j) s += a.moeWeights(r, j) * dWeights(r, j);
        if (!c.normTopK) dLogits.row(r) = -s * a.routerProbs.row(r);
        for (int j = 0; j < k; ++j)
            dLogits(r, a.moeExperts(r, j)) += a.moeWeights(r, j) * (dWeights(r, j) - (c.normTopK ? s : T(0)));
    }
    if (m_routerBalance > 0) {
        // d balance / d p_{r,e} = alpha E f_e / (rows * sparse layers), then the softmax.
        Eigen::Matrix<T, 1, Eigen::Dynamic> dp(nExperts);
        for (int e = 0; e < nExperts; ++e)
            dp[e] = T(m_routerBalance * nExperts * double(a.experts[size_t(e)].slots.size()) /
                      (double(rows * k) * double(rows) * c.moeLayerCount()));
        for (Index r = 0; r < rows; ++r) {
            const T mean = a.routerProbs.row(r).dot(dp);
            dLogits.row(r).array() += a.routerProbs.row(r).array() * (dp.array() - mean);
        }
    }
    bp::productXW(m_dh2, dLogits, moe.router.weightIn(m_scratch), true);
    if (gm) bp::linearWeightGrad(dLogits, a.h2, gm->router);
    if (c.dSharedExpert > 0) {
        MatrixT<T> dGate(rows, 1);
        dy.resize(rows, c.dModel);
        for (Index r = 0; r < rows; ++r) {
            const T sigma = T(1) / (T(1) + std::exp(-a.sharedGate[r]));
            dy.row(r) = sigma * dOut.row(r);
            dGate(r, 0) = sigma * (T(1) - sigma) * dOut.row(r).dot(a.shared.y.row(r));
        }
        expertBackward(c, moe.shared, a.shared, dy, dh, gm ? &gm->shared : nullptr, m_scratch);
        m_dh2 += dh;
        bp::productXW(m_dh2, dGate, moe.sharedGate.weightIn(m_scratch), true);
        if (gm) bp::linearWeightGrad(dGate, a.h2, gm->sharedGate);
    }
}

template <typename T>
double BackpropT<T>::routerBalanceLoss() const {
    double sum = 0;
    if (m_routerBalance > 0)
        for (double x : m_balanceLoss) sum += x;
    return sum;
}

template void BackpropT<float>::moeForward(int, LayerCache&);
template void BackpropT<double>::moeForward(int, LayerCache&);
template void BackpropT<float>::moeBackward(int, const LayerCache&, const MatrixT<float>&, BlockWeightsT<float>*);
template void BackpropT<double>::moeBackward(int, const LayerCache&, const MatrixT<double>&, BlockWeightsT<double>*);
template double BackpropT<float>::routerBalanceLoss() const;
template double BackpropT<double>::routerBalanceLoss() const;

}  // namespace mwb
