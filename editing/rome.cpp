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
    validateRequest(request);
    const auto& c = model.config;
    const int layer = params.layer;
    if (layer < 0 || layer >= c.nLayers)
        throw InvalidInput("layer " + std::to_string(layer) + " is out of range (the model has " +
                           std::to_string(c.nLayers) + " layers)");
    RomeResult r;
    r.layer = layer;
    r.contextTemplates = contextTemplates(model, params.templates, progress);
    const PlacedRequest placed = placeRequest(model, request, r.contextTemplates, params.factToken,
                                                    params.templates.subjectTokensAsInPrompt);
    r.expert = c.moeLayer(layer) && params.expert < 0
                   ? subjectExperts(model, {request}, {layer}, params.factToken).at(layer).front()
                   : params.expert;
    if (const std::string problem = editTargetProblem(c, layer, r.expert); !problem.empty())
        throw InvalidInput(problem);
    const int width = editedKeyWidth(c, r.expert);
    if (secondMoment.rows() != width || secondMoment.cols() != width)
        throw InvalidInput("the second-moment matrix has the wrong size for this model");
    const std::vector<double> weights = keyWeights(params.templates);
    const RequestKeys keys = requestKeys(model, placed, layer, weights, r.expert);
    r.keyStar = params.keyContext == KeyContext::Prompt
                    ? keys.keyStar
                    : requestKeys(model, keyPlacement(model, request, r.contextTemplates, params.factToken,
                                                      params.keyContext, placed),
                                  layer, weights, r.expert)
                          .keyStar;
    r.keyBare = keys.keyBare;
    r.valueInit = keys.mlpOutBare;
    r.mixingWeight = keys.mixingWeightBare;
    r.routedExperts = keys.routedBare;
    r.routedWeights = keys.routedWeightsBare;
    if (r.expert >= 0 && !(r.mixingWeight > 0)) {
        std::string routed;
        for (int e : r.routedExperts) routed += (routed.empty() ? "" : ", ") + std::to_string(e);
        throw InvalidInput("the subject's token is not routed to expert " + std::to_string(r.expert) + " at layer " +
                           std::to_string(layer) + " (it goes to experts " + routed +
                           "), so an edit of that expert would not reach the prompt");
    }

    // Direction of the update: C⁻¹ k*, normalised (eq. 2), solved, never inverted.
    // Factorised in place (C is ours): a 7B model's C is a gigabyte.
    const Matrix& w = editedDown(model.weights, layer, r.expert);
    const double meanSquared = meanSquaredOutput(w, secondMoment);
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
    // prompt's key, that share of δ. (An expert's update is divided by its mixing weight
    // below, which the bare prompt's output multiplies it by again.)
    std::optional<double> bareShare;
    if (params.value.stopRule == StopRule::Target) bareShare = u.dot(r.keyBare.cast<double>()) / denom;
    const ValueTarget v = optimizeValue(model, request, placed, params.factToken, layer, r.valueInit.norm(),
                                        params.value, progress, bareShare);
    r.delta = v.delta;
    r.loss = v.loss;
    r.probTargetInit = v.probTargetInit;
    r.probTargetFinal = v.probTargetFinal;
    // The layer's output gets the expert's output times its mixing weight g: the update
    // that adds δ to the MLP output at the bare prompt writes δ / g into the expert.
    r.left = (r.delta.cast<double>() / (denom * r.mixingWeight)).cast<float>();
    r.weightChange = r.left.norm() * r.right.norm() / w.norm();
    r.outputChange = meanSquared > 0 ? r.left.norm() * std::sqrt(std::max(uCu, 0.0) / meanSquared) : 0.0;
    return r;
}

void applyRankOne(Model& model, int layer, const Vector& left, const Vector& right, int expert) {
    if (const std::string problem = editTargetProblem(model.config, layer, expert); !problem.empty())
        throw InvalidInput(problem);
    auto& w = editedDown(model.weights, layer, expert);
    if (left.size() != w.rows() || right.size() != w.cols())
        throw InvalidInput("the rank-one factors do not match " + editedDownPath(layer, expert));
    w.noalias() += left * right.transpose();
}

nlohmann::json toJson(const RomeResult& r) {
    nlohmann::json j = {{"layer", r.layer},
            {"weight_change", r.weightChange},
            {"output_change", r.outputChange},
            {"delta_norm", r.delta.norm()},
            {"value_init_norm", r.valueInit.norm()},
            {"prob_target_init", r.probTargetInit},
            {"prob_target_final", r.probTargetFinal},
            {"loss", r.loss},
            {"context_templates", r.contextTemplates}};
    if (r.expert >= 0) {
        j["expert"] = r.expert;
        j["mixing_weight"] = r.mixingWeight;
        j["routed_experts"] = r.routedExperts;
        j["routed_weights"] = r.routedWeights;
    }
    return j;
}

}  // namespace mwb
