#include "editing/rome.h"

#include <Eigen/Cholesky>
#include <cmath>

#include "model/backprop.h"
#include "model/continuation.h"
#include "model/errors.h"
#include "model/transformer.h"

namespace mwb {

namespace {

constexpr const char* kFactTokenNames[] = {"subject_last", "subject_first", "last"};

// A prompt placed in a context template, remembering where the subject starts.
struct PlacedPrompt {
    std::string text;
    size_t subjectAt = 0;
};

PlacedPrompt place(const std::string& templ, const std::string& prompt, const std::string& subject) {
    const auto templAt = templ.find("{}");
    const auto promptAt = prompt.find("{}");
    PlacedPrompt p;
    p.text = fillTemplate(templ, fillTemplate(prompt, subject));
    p.subjectAt = templAt + promptAt;
    return p;
}

// Token index of the fact lookup (the reference's find_fact_lookup_idx), in the
// encoding of p.text.
int lookupIndex(const Encoding& enc, const PlacedPrompt& p, size_t subjectLen, FactToken f) {
    if (f == FactToken::Last) return static_cast<int>(enc.ids.size()) - 1;
    const int begin = static_cast<int>(p.subjectAt), end = static_cast<int>(p.subjectAt + subjectLen);
    int first = -1, last = -1;
    for (size_t i = 0; i < enc.ids.size(); ++i) {
        const auto [b, e] = enc.offsets[i];
        if (e > b && e > begin && b < end) {
            if (first < 0) first = static_cast<int>(i);
            last = static_cast<int>(i);
        }
    }
    if (first < 0) throw InvalidInput("the subject covers no token of \"" + p.text + "\"");
    return f == FactToken::SubjectFirst ? first : last;
}

RowVector logSoftmax(const Eigen::Ref<const RowVector>& z) {
    const float m = z.maxCoeff();
    const double lse = m + std::log((z.array() - m).exp().cast<double>().sum());
    return (z.array() - static_cast<float>(lse)).matrix();
}

void validate(const Model& model, const EditRequest& r, const RomeParams& p) {
    if (r.prompt.find("{}") == std::string::npos)
        throw InvalidInput("the prompt \"" + r.prompt + "\" has no {} where the subject goes");
    if (r.subject.empty()) throw InvalidInput("the subject is empty");
    if (r.targetNew.find_first_not_of(' ') == std::string::npos) throw InvalidInput("the new target is empty");
    if (p.layer < 0 || p.layer >= model.config.nLayers)
        throw InvalidInput("layer " + std::to_string(p.layer) + " is out of range (the model has " +
                           std::to_string(model.config.nLayers) + " layers)");
    if (p.steps < 1) throw InvalidInput("the number of optimisation steps must be at least 1");
    if (!(p.learningRate > 0)) throw InvalidInput("the learning rate must be positive");
}

}  // namespace

std::string toString(FactToken f) { return kFactTokenNames[static_cast<int>(f)]; }

FactToken parseFactToken(const std::string& s) {
    for (int i = 0; i < 3; ++i)
        if (s == kFactTokenNames[i]) return static_cast<FactToken>(i);
    throw InvalidInput("unknown fact token '" + s + "' (expected subject_last, subject_first or last)");
}

RomeResult computeRome(const Model& model, const EditRequest& request, const RomeParams& params,
                       const MatrixD& secondMoment, const ProgressFn& progress) {
    validate(model, request, params);
    const auto& c = model.config;
    const int layer = params.layer;
    if (secondMoment.rows() != c.dFf || secondMoment.cols() != c.dFf)
        throw InvalidInput("the second-moment matrix has the wrong size for this model");
    const Transformer transformer(model);
    RomeResult r;
    r.layer = layer;
    r.contextTemplates = contextTemplates(model, params.templates);

    const std::string barePrompt = fillTemplate(request.prompt, request.subject);
    const std::vector<int> targetIds = continuationIds(model.tokenizer, barePrompt, request.targetNew);

    // Keys (mlp_in) and MLP outputs at the lookup token of every context template.
    Hooks capture;
    capture.captures = {{HookSite::MlpIn, layer}, {HookSite::MlpOut, layer}};
    r.keyStar = Vector::Zero(c.dFf);
    std::vector<std::vector<int>> contextIds;
    std::vector<int> contextLookup;
    for (size_t j = 0; j < r.contextTemplates.size(); ++j) {
        const PlacedPrompt p = place(r.contextTemplates[j], request.prompt, request.subject);
        const Encoding enc = model.tokenizer.encode(p.text);
        transformer.validateTokens(enc.ids);
        const int idx = lookupIndex(enc, p, request.subject.size(), params.factToken);
        const RunState s = transformer.run(enc.ids, capture, LogitsMode::None);
        const Vector key = s.captured.at({HookSite::MlpIn, layer}).row(idx).transpose();
        r.keyStar += key;
        if (j == 0) {
            r.keyBare = key;
            r.valueInit = s.captured.at({HookSite::MlpOut, layer}).row(idx).transpose();
        }
        contextIds.push_back(enc.ids);
        contextLookup.push_back(idx);
    }
    r.keyStar /= static_cast<float>(r.contextTemplates.size());

    // The optimisation batch: every template followed by each prefix of the target
    // (predicting the next target token), then the "{subject} is a" essence prompt
    // whose next-token distribution the KL term keeps.
    std::vector<std::vector<int>> seqs;
    std::vector<int> lookups, targets;
    for (size_t j = 0; j < contextIds.size(); ++j)
        for (size_t i = 0; i < targetIds.size(); ++i) {
            std::vector<int> ids = contextIds[j];
            ids.insert(ids.end(), targetIds.begin(), targetIds.begin() + i);
            lookups.push_back(params.factToken == FactToken::Last ? static_cast<int>(ids.size()) - 1
                                                                  : contextLookup[j]);
            targets.push_back(targetIds[i]);
            seqs.push_back(std::move(ids));
        }
    const int nRewrite = static_cast<int>(seqs.size());
    {
        const PlacedPrompt p = place("{}", "{} is a", request.subject);
        const Encoding enc = model.tokenizer.encode(p.text);
        lookups.push_back(lookupIndex(enc, p, request.subject.size(), params.factToken));
        seqs.push_back(enc.ids);
    }
    const int batch = static_cast<int>(seqs.size());
    int seqLen = 0;
    for (const auto& s : seqs) seqLen = std::max(seqLen, static_cast<int>(s.size()));
    if (seqLen > c.nCtx)
        throw InvalidInput("a context template with the prompt and target has " + std::to_string(seqLen) +
                           " tokens, more than the model's context of " + std::to_string(c.nCtx));
    // Padding goes at the end; the causal mask keeps it from reaching real tokens.
    std::vector<int> tokens(static_cast<size_t>(batch) * seqLen, 0);
    std::vector<int> rows(batch), lastRows(nRewrite);
    for (int b = 0; b < batch; ++b) {
        std::copy(seqs[b].begin(), seqs[b].end(), tokens.begin() + static_cast<long>(b) * seqLen);
        rows[b] = b * seqLen + lookups[b];
        if (b < nRewrite) lastRows[b] = b * seqLen + static_cast<int>(seqs[b].size()) - 1;
    }
    const int klRow = (batch - 1) * seqLen + lookups[batch - 1];

    Backprop bp(c, model.weights);
    bp.forward(tokens, batch, seqLen);
    const double initNorm = r.valueInit.norm();
    const double maxNorm = params.clampNormFactor * initNorm;
    Vector delta = Vector::Zero(c.dModel);
    // Adam (torch defaults) on delta.
    VectorD m1 = VectorD::Zero(c.dModel), m2 = VectorD::Zero(c.dModel);
    RowVector klInit;
    for (int it = 0; it < params.steps; ++it) {
        report(progress, {it, params.steps, "optimise v*"});
        const Matrix deltas = delta.transpose().replicate(batch, 1);
        const Matrix& logits = bp.forwardWithMlpDelta(layer, rows, deltas);
        Matrix dLogits = Matrix::Zero(logits.rows(), logits.cols());
        double nll = 0.0, probSum = 0.0;
        for (int b = 0; b < nRewrite; ++b) {
            const RowVector logp = logSoftmax(logits.row(lastRows[b]));
            nll -= logp[targets[b]];
            probSum += std::exp(logp[targets[b]]);
            dLogits.row(lastRows[b]) = logp.array().exp().matrix() / nRewrite;
            dLogits(lastRows[b], targets[b]) -= 1.0f / nRewrite;
        }
        nll /= nRewrite;
        const RowVector logq = logSoftmax(logits.row(klRow));
        if (it == 0) {
            klInit = logq;
            r.probTargetInit = probSum / nRewrite;
        }
        // KL(current || initial), as torch's kl_div(init, current, log_target=True).
        const RowVector q = logq.array().exp().matrix();
        const double kl = (q.array() * (logq - klInit).array()).cast<double>().sum();
        const double deltaNorm = delta.norm();
        const double decay = initNorm > 0 ? params.weightDecay * deltaNorm / (initNorm * initNorm) : 0.0;
        const double loss = nll + params.klFactor * kl + decay;
        r.loss.push_back(loss);
        r.probTargetFinal = probSum / nRewrite;
        if (loss < params.stopLoss || it == params.steps - 1) break;
        dLogits.row(klRow) = static_cast<float>(params.klFactor) *
                             (q.array() * ((logq - klInit).array() - static_cast<float>(kl))).matrix();
        const Matrix g = bp.backwardToMlpOut(dLogits, layer, rows);
        VectorD grad = g.colwise().sum().transpose().cast<double>();
        if (deltaNorm > 0 && initNorm > 0)
            grad += params.weightDecay * delta.cast<double>() / (deltaNorm * initNorm * initNorm);
        const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
        m1 = b1 * m1 + (1 - b1) * grad;
        m2 = b2 * m2 + (1 - b2) * grad.cwiseAbs2();
        const double c1 = 1 - std::pow(b1, it + 1), c2 = 1 - std::pow(b2, it + 1);
        const VectorD step = params.learningRate * (m1 / c1).array() / ((m2 / c2).array().sqrt() + eps);
        delta -= step.cast<float>();
        if (delta.norm() > maxNorm) delta *= static_cast<float>(maxNorm / delta.norm());
    }
    report(progress, {params.steps, params.steps, "optimise v*"});
    r.delta = delta;

    // Direction of the update: C⁻¹ k*, normalised (eq. 2), solved, never inverted.
    MatrixD cov = secondMoment;
    if (params.ridge > 0) cov.diagonal().array() += params.ridge * cov.diagonal().mean();
    const Eigen::LDLT<MatrixD> solver(cov);
    if (solver.info() != Eigen::Success) throw Error("the second-moment matrix could not be factorised");
    VectorD u = solver.solve(r.keyStar.cast<double>());
    if (!u.allFinite() || u.norm() == 0) throw Error("the second-moment matrix is singular for this key");
    u.normalize();
    r.right = u.cast<float>();
    const Vector& key = params.keyMode == KeyMode::Consistent ? r.keyStar : r.keyBare;
    const double denom = u.dot(key.cast<double>());
    if (std::abs(denom) < 1e-12) throw Error("the edit is degenerate: the key is orthogonal to its update direction");
    r.left = (delta.cast<double>() / denom).cast<float>();
    r.weightChange = r.left.norm() * r.right.norm() / model.weights.blocks[layer].down.weight.norm();
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
            {"delta_norm", r.delta.norm()},
            {"value_init_norm", r.valueInit.norm()},
            {"prob_target_init", r.probTargetInit},
            {"prob_target_final", r.probTargetFinal},
            {"loss", r.loss},
            {"context_templates", r.contextTemplates}};
}

}  // namespace mwb
