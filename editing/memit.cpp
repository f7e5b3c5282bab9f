#include "editing/memit.h"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "editing/second_moments.h"
#include "model/transformer.h"
#include "tensor/errors.h"

namespace mwb {

namespace {

void validate(const Model& model, const std::vector<EditRequest>& requests, const MemitParams& p,
              const std::map<KeySite, MatrixD>& moments) {
    if (requests.empty()) throw InvalidInput("MEMIT needs at least one edit request");
    if (p.layers.empty()) throw InvalidInput("MEMIT needs at least one layer to edit");
    if (!(p.momentWeight >= 0)) throw InvalidInput("MEMIT's λ must not be negative (0: the default)");
    if (p.passes < 1) throw InvalidInput("MEMIT needs at least one pass");
    if (p.nullSpace && !(p.nullSpaceThreshold > 0))
        throw InvalidInput("the null-space threshold must be positive");
    if (p.nullSpace && !(p.nullSpaceL2 > 0 && std::isfinite(p.nullSpaceL2)))
        throw InvalidInput("the null-space L2 weight must be positive");
    for (size_t i = 0; i < p.layers.size(); ++i) {
        const int l = p.layers[i];
        if (l < 0 || l >= model.config.nLayers)
            throw InvalidInput("layer " + std::to_string(l) + " is out of range (the model has " +
                               std::to_string(model.config.nLayers) + " layers)");
        if (i > 0 && l <= p.layers[i - 1]) throw InvalidInput("MEMIT's layers must be given in ascending order");
        std::vector<int> experts = {-1};
        if (model.config.moeLayer(l)) {
            const auto e = p.experts.find(l);
            if (e == p.experts.end() || e->second.size() != requests.size())
                throw InvalidInput("layer " + std::to_string(l) + " is a mixture of experts: MEMIT needs the expert "
                                   "each request edits there (subjectExperts)");
            experts = e->second;
        }
        for (int expert : experts) {
            if (const std::string problem = editTargetProblem(model.config, l, expert); !problem.empty())
                throw InvalidInput(problem);
            const auto it = moments.find({l, expert});
            if (it == moments.end() || it->second.rows() != editedKeyWidth(model.config, expert))
                throw InvalidInput("no second-moment statistics for layer " + std::to_string(l) +
                                   (expert >= 0 ? ", expert " + std::to_string(expert) : std::string()));
        }
    }
    for (const auto& r : requests) validateRequest(r);
}

// AlphaEdit's projection P = V Vᵀ onto the eigenvectors of C with small eigenvalues:
// keys of preserved knowledge (which C summarises) are left untouched by P-projected
// updates. V is the first `dimension` eigenvectors (Eigen sorts the eigenvalues in
// ascending order); P itself is never formed.
struct NullSpace {
    Eigen::SelfAdjointEigenSolver<MatrixD> eig;
    Eigen::Index dimension = 0;
    double cutoff = 0.0;       // eigenvalues below it span the null space
    double energyShare = 0.0;  // tr(P C) / tr(C): how much of the preserved keys P lets through
    auto basis() const { return eig.eigenvectors().leftCols(dimension); }
};

// The reference code's threshold is absolute (2e-2), which depends on the keys' scale;
// relative to the largest eigenvalue (the default) it carries over between models.
NullSpace nullSpace(const MatrixD& c, double threshold, bool absolute) {
    NullSpace ns{Eigen::SelfAdjointEigenSolver<MatrixD>(c)};
    const auto& w = ns.eig.eigenvalues();
    ns.cutoff = absolute ? threshold : threshold * w.maxCoeff();
    while (ns.dimension < c.rows() && w[ns.dimension] < ns.cutoff) ++ns.dimension;
    ns.energyShare = w.head(ns.dimension).sum() / w.sum();
    return ns;
}

// AlphaEdit (Fang et al. 2025, eq. 9): ΔW = R Kᵀ P (K Kᵀ P + K_p K_pᵀ P + α I)⁻¹, K_p
// the keys of earlier edits, α the weight of ||ΔW P||² (1 in eq. 9, the reference
// code's L2). With U = [K K_p] the bracket is α I + U (Uᵀ P), so by the Woodbury
// identity Kᵀ P M⁻¹ = (B − (B U)(α I + Uᵀ P U)⁻¹ (Uᵀ P)) / α with B = Kᵀ P: only r × r
// systems (r = edits + earlier keys), and no d_ff × d_ff matrix besides C's
// eigenvectors (each is a gigabyte on a 7B model). Returns (Kᵀ P M⁻¹)ᵀ [dFf x n].
MatrixD alphaEditRight(const MatrixD& keys, const MatrixD& previousKeys, const NullSpace& ns, double alpha) {
    const Eigen::Index n = keys.cols();
    MatrixD u(keys.rows(), n + previousKeys.cols());
    u << keys, previousKeys;
    const MatrixD uP = (u.transpose() * ns.basis()) * ns.basis().transpose();  // Uᵀ P [r x dFf]
    MatrixD inner = uP * u;                                                     // Uᵀ P U, symmetric
    inner.diagonal().array() += alpha;
    const Eigen::LLT<MatrixD> llt(inner);
    if (llt.info() != Eigen::Success) throw Error("AlphaEdit's system is not positive definite");
    const MatrixD b = uP.topRows(n);  // Kᵀ P
    return ((b - (b * u) * llt.solve(uP)) / alpha).transpose();
}

// Requests about one subject share one δ unless `separate` (memit.h).
std::vector<std::vector<int>> subjectGroups(const std::vector<EditRequest>& requests, bool separate) {
    std::vector<std::vector<int>> groups;
    std::map<std::string, size_t> groupOf;
    for (int i = 0; i < static_cast<int>(requests.size()); ++i) {
        auto it = groupOf.find(requests[i].subject);
        if (it == groupOf.end() || separate) {
            it = groupOf.insert_or_assign(requests[i].subject, groups.size()).first;
            groups.emplace_back();
        }
        groups[it->second].push_back(i);
    }
    return groups;
}

struct PassTargets {
    MatrixD z;                         // [dModel x n] z_i = h_i + δ_i at the last edited layer
    std::vector<ValueTarget> targets;  // per request
    bool moved = false;                // some δ_i is not zero
};

// Algorithm 1, step 1, on the model as it is now.
PassTargets passTargets(const Model& model, const std::vector<EditRequest>& requests,
                        const std::vector<PlacedRequest>& placed, const std::vector<std::vector<int>>& groups,
                        const MemitParams& params, const std::function<void(long)>& report) {
    const int lastLayer = params.layers.back();
    PassTargets out{MatrixD(model.config.dModel, requests.size()), std::vector<ValueTarget>(requests.size())};
    for (const std::vector<int>& group : groups) {
        report(group.front());
        std::vector<EditRequest> groupRequests;
        std::vector<PlacedRequest> groupPlaced;
        std::vector<Vector> resid;
        for (int i : group) {
            groupRequests.push_back(requests[i]);
            groupPlaced.push_back(placed[i]);
            resid.push_back(residualAtLookup(model, placed[i], lastLayer));
        }
        const ValueTarget t = optimizeSharedValue(model, groupRequests, groupPlaced, params.factToken, lastLayer,
                                                  resid.front().norm(), params.value);
        out.moved = out.moved || t.delta.norm() > 0;
        for (size_t g = 0; g < group.size(); ++g) {
            out.z.col(group[g]) = (resid[g] + t.delta).cast<double>();
            out.targets[group[g]] = t;
        }
    }
    return out;
}

void appendColumns(Matrix& all, const Matrix& more) {
    all.conservativeResize(more.rows(), all.cols() + more.cols());
    all.rightCols(more.cols()) = more;
}

// The update's right factor for one key site: (λC + K Kᵀ)⁻¹ K (eq. 14), or AlphaEdit's.
MatrixD rightFactor(const MatrixD& keys, const KeySite& site, const MemitParams& params, double lambda,
                    const MatrixD& moment, std::optional<NullSpace>& ns) {
    const int layer = site.layer;
    if (params.nullSpace) {
        MatrixD previous(keys.rows(), 0);
        if (auto it = params.previousKeys.find(site); it != params.previousKeys.end() && it->second.size()) {
            if (it->second.rows() != keys.rows())
                throw InvalidInput("earlier edits' keys for layer " + std::to_string(layer) + " have " +
                                   std::to_string(it->second.rows()) + " rows, expected " +
                                   std::to_string(keys.rows()));
            previous = it->second;
        }
        if (!ns)  // once per layer, not per pass
            ns = nullSpace(moment, params.nullSpaceThreshold, params.nullSpaceThresholdIsAbsolute);
        if (ns->dimension == 0)  // P = 0: the update would silently change nothing
            throw InvalidInput("layer " + std::to_string(layer) + "'s statistics have no eigenvalue below the "
                               "null-space threshold; raise it");
        return alphaEditRight(keys, previous, *ns, params.nullSpaceL2);
    }
    // A = λC + K Kᵀ, built and factorised in place: on a 7B model every d_ff x d_ff
    // matrix is a gigabyte. LLT reads only the lower triangle.
    MatrixD a = lambda * moment;
    a.selfadjointView<Eigen::Lower>().rankUpdate(keys);
    const Eigen::LLT<Eigen::Ref<MatrixD>> llt(a);
    if (llt.info() != Eigen::Success)
        throw Error("MEMIT's system for layer " + std::to_string(layer) + " is not positive definite");
    return llt.solve(keys);
}

}  // namespace

ValueParams memitValueParams() {
    ValueParams p;
    p.clampNormFactor = 1.0;
    return p;
}

double defaultMomentWeight(int keyWidth) { return 6400.0 * keyWidth / 16384.0; }

double defaultMomentWeight(const ModelConfig& config) { return defaultMomentWeight(config.dFf); }

MemitResult applyMemit(Model& model, const std::vector<EditRequest>& requests, const MemitParams& params,
                       const std::map<int, MatrixD>& moments, const ProgressFn& progress) {
    std::map<KeySite, MatrixD> sites;
    for (const auto& [layer, c] : moments) sites[{layer, -1}] = c;
    return applyMemit(model, requests, params, sites, progress);
}

MemitResult applyMemit(Model& model, const std::vector<EditRequest>& requests, const MemitParams& params,
                       const std::map<KeySite, MatrixD>& moments, const ProgressFn& progress) {
    validate(model, requests, params, moments);
    const int n = static_cast<int>(requests.size());
    const int nLayers = static_cast<int>(params.layers.size());
    MemitResult result;
    result.contextTemplates = contextTemplates(model, params.templates, progress);
    std::vector<PlacedRequest> placed, keyPlaced;
    for (const auto& r : requests) {
        placed.push_back(placeRequest(model, r, result.contextTemplates, params.factToken,
                                      params.templates.subjectTokensAsInPrompt));
        keyPlaced.push_back(keyPlacement(model, r, result.contextTemplates, params.factToken, params.keyContext,
                                         placed.back()));
    }
    const std::vector<double> weights = keyWeights(params.templates);
    const std::vector<std::vector<int>> groups = subjectGroups(requests, params.separateSubjectValues);
    const auto lambdaFor = [&](int expert) {
        return params.momentWeight > 0 ? params.momentWeight
                                       : defaultMomentWeight(editedKeyWidth(model.config, expert));
    };
    const long steps = static_cast<long>(params.passes) * (n + nLayers);
    std::map<KeySite, MemitLayerUpdate> updates;  // per key site, every pass's columns side by side
    std::map<KeySite, std::optional<NullSpace>> nullSpaces;

    for (int pass = 0; pass < params.passes; ++pass) {
        const long done = static_cast<long>(pass) * (n + nLayers);
        PassTargets t = passTargets(model, requests, placed, groups, params,
                                    [&](long i) { report(progress, {done + i, steps, "targets"}); });
        if (pass == 0) result.targets = std::move(t.targets);
        else if (!t.moved) break;  // every target already reached: nothing left to write

        for (int li = 0; li < nLayers; ++li) {
            const int layer = params.layers[li];
            report(progress, {done + n + li, steps, "layers"});
            // The current hidden state at the last layer, with the updates of the earlier
            // layers already in place; what is left spread over the layers still to edit
            // (eq. 15).
            MatrixD residual(model.config.dModel, n);
            for (int i = 0; i < n; ++i)
                residual.col(i) =
                    t.z.col(i) - residualAtLookup(model, placed[i], params.layers.back()).cast<double>();
            residual /= static_cast<double>(nLayers - li);
            // The requests each key site of the layer writes: all of them to a dense MLP;
            // in a sparse layer, each expert those assigned to it.
            std::map<int, std::vector<int>> byExpert;
            for (int i = 0; i < n; ++i)
                byExpert[model.config.moeLayer(layer) ? params.experts.at(layer)[size_t(i)] : -1].push_back(i);
            for (const auto& [expert, which] : byExpert) {
                const KeySite site{layer, expert};
                const Eigen::Index m = Eigen::Index(which.size());
                MatrixD keys(editedKeyWidth(model.config, expert), m), r(model.config.dModel, m);
                for (Eigen::Index j = 0; j < m; ++j) {
                    const int i = which[size_t(j)];
                    keys.col(j) = requestKeys(model, keyPlaced[i], layer, weights, expert).keyStar.cast<double>();
                    // An expert's output enters the layer's output times its mixing weight g
                    // at the bare prompt: it is asked for R / g (where the token no longer goes
                    // to it, g = 0, the update cannot reach the request and R is left as it is).
                    const PlacedRequest bare{{placed[i].ids[0]}, {placed[i].lookup[0]}};
                    const double g = expert < 0 ? 1.0 : requestKeys(model, bare, layer, {}, expert).mixingWeightBare;
                    r.col(j) = residual.col(i) / (g > 0 ? g : 1.0);
                }
                // ΔW = R · (A⁻¹ K)ᵀ: factors left = R [dModel x m], right = A⁻¹K [width x m].
                const Matrix left = r.cast<float>();
                const Matrix right =
                    rightFactor(keys, site, params, lambdaFor(expert), moments.at(site), nullSpaces[site]).cast<float>();
                editedDown(model.weights, layer, expert) += left * right.transpose();
                MemitLayerUpdate& u = updates[site];
                u.layer = layer;
                u.expert = expert;
                u.keys = keys;
                appendColumns(u.left, left);
                appendColumns(u.right, right);
            }
        }
        result.passes = pass + 1;
    }
    for (auto& [site, u] : updates) {
        // Judged on the whole change, every pass together, against the weights before it
        // (rebuilt here, one layer at a time, rather than kept for every layer all along:
        // each is d_model x d_ff, 180 MB on a 7B model).
        const Matrix delta = u.left * u.right.transpose();
        const Matrix before = editedDown(model.weights, site.layer, site.expert) - delta;
        u.weightChange = delta.norm() / before.norm();
        u.outputChange = outputChange(before, u.left.cast<double>(), u.right.cast<double>(), moments.at(site));
        if (const auto& ns = nullSpaces[site]) {
            u.nullSpaceDimension = int(ns->dimension);
            u.nullSpaceEnergyShare = ns->energyShare;
            u.nullSpaceCutoff = ns->cutoff;
        }
        result.updates.push_back(std::move(u));
    }
    report(progress, {steps, steps, "layers"});
    return result;
}

nlohmann::json toJson(const MemitResult& r) {
    nlohmann::json layers = nlohmann::json::array(), targets = nlohmann::json::array();
    for (const auto& u : r.updates) {
        layers.push_back({{"layer", u.layer}, {"weight_change", u.weightChange}, {"output_change", u.outputChange}});
        if (u.expert >= 0) layers.back()["expert"] = u.expert;
        if (u.nullSpaceDimension >= 0) {
            layers.back()["null_space_dimension"] = u.nullSpaceDimension;
            layers.back()["null_space_energy_share"] = u.nullSpaceEnergyShare;
            layers.back()["null_space_cutoff"] = u.nullSpaceCutoff;
        }
    }
    for (const auto& t : r.targets)
        targets.push_back({{"delta_norm", t.delta.norm()}, {"prob_target_init", t.probTargetInit},
                           {"prob_target_final", t.probTargetFinal}});
    return {{"layers", layers}, {"targets", targets}, {"passes", r.passes}};
}

}  // namespace mwb
