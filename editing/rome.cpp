#include "editing/rome.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>

#include "editing/second_moments.h"
#include "tensor/errors.h"

namespace mwb {

ValueParams romeValueParams() {
    ValueParams p;
    p.steps = 40;
    p.stopRule = StopRule::Target;
    return p;
}

RomeResult computeRome(const Model& model, const EditRequest& request, const RomeParams& params,
                       MatrixD secondMoment, const ProgressFn& progress) {
    requireDenseModel(model.config, "ROME");
    validateRequest(request);
    const auto& c = model.config;
    const int layer = params.layer;
    if (layer < 0 || layer >= c.nLayers)
        throw InvalidInput("layer " + std::to_string(layer) + " is out of range (the model has " +
                           std::to_string(c.nLayers) + " layers)");
    if (secondMoment.rows() != c.dFf || secondMoment.cols() != c.dFf)
        throw InvalidInput("the second-moment matrix has the wrong size for this model");
    RomeResult r;
    r.layer = layer;
    r.contextTemplates = contextTemplates(model, params.templates, progress);
    const PlacedRequest placed = placeRequest(model, request, r.contextTemplates, params.factToken,
                                                    params.templates.subjectTokensAsInPrompt);
    const std::vector<double> weights = keyWeights(params.templates);
    const RequestKeys keys = requestKeys(model, placed, layer, weights);
    r.keyStar = params.keyContext == KeyContext::Prompt
                    ? keys.keyStar
                    : requestKeys(model, keyPlacement(model, request, r.contextTemplates, params.factToken,
                                                      params.keyContext, placed),
                                  layer, weights)
                          .keyStar;
    r.keyBare = keys.keyBare;
    r.valueInit = keys.mlpOutBare;

    // Direction of the update: C⁻¹ k*, normalised (eq. 2), solved, never inverted.
    // Factorised in place (C is ours): a 7B model's C is a gigabyte.
    const double meanSquared = meanSquaredOutput(model.weights.blocks[layer].down.weight, secondMoment);
    const double shift = params.ridge > 0 ? params.ridge * secondMoment.diagonal().mean() : 0.0;
    secondMoment.diagonal().array() += shift;
    const Eigen::LDLT<Eigen::Ref<MatrixD>> solver(secondMoment);
    if (solver.info() != Eigen::Success) throw Error("the second-moment matrix could not be factorised");
    VectorD u = solver.solve(r.keyStar.cast<double>());
    if (!u.allFinite() || u.norm() == 0) throw Error("the second-moment matrix is singular for this key");
    const double solvedNorm = u.norm();
    u.normalize();
    // C was factorised in place; uᵀ C u from what is left: (C + shift·I) u = k* / ||(C + shift·I)⁻¹k*||.
    const double uCu = u.dot(r.keyStar.cast<double>()) / solvedNorm - shift;
    r.right = u.cast<float>();
    // The reference's value: v* − W k = δ at the bare key (target_init is W k_bare).
    const Vector& key = updatedKey(r, params.keyMode);
    const double denom = u.dot(key.cast<double>());
    if (std::abs(denom) < 1e-12) throw Error("the edit is degenerate: the key is orthogonal to its update direction");

    // The update will add δ · uᵀk / uᵀkey to the MLP output for a key k: at the bare
    // prompt's key, that share of δ.
    std::optional<double> bareShare;
    if (params.value.stopRule == StopRule::Target) bareShare = u.dot(r.keyBare.cast<double>()) / denom;
    const ValueTarget v = optimizeValue(model, request, placed, params.factToken, layer, r.valueInit.norm(),
                                        params.value, progress, bareShare);
    r.delta = v.delta;
    r.loss = v.loss;
    r.probTargetInit = v.probTargetInit;
    r.probTargetFinal = v.probTargetFinal;
    r.left = (r.delta.cast<double>() / denom).cast<float>();
    r.weightChange = r.left.norm() * r.right.norm() / model.weights.blocks[layer].down.weight.norm();
    r.outputChange = meanSquared > 0 ? r.left.norm() * std::sqrt(std::max(uCu, 0.0) / meanSquared) : 0.0;
    return r;
}

void applyRankOne(Model& model, int layer, const Vector& left, const Vector& right) {
    auto& w = model.weights.blocks.at(layer).down.weight;
    if (left.size() != w.rows() || right.size() != w.cols())
        throw InvalidInput("the rank-one factors do not match mlp/down of layer " + std::to_string(layer));
    w.noalias() += left * right.transpose();
}

nlohmann::json toJson(const RomeResult& r) {
    return {{"layer", r.layer},
            {"weight_change", r.weightChange},
            {"output_change", r.outputChange},
            {"delta_norm", r.delta.norm()},
            {"value_init_norm", r.valueInit.norm()},
            {"prob_target_init", r.probTargetInit},
            {"prob_target_final", r.probTargetFinal},
            {"loss", r.loss},
            {"context_templates", r.contextTemplates}};
}

}  // namespace mwb
