#include "editing/value_optimization.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "model/backprop.h"
#include "tokenizer/continuation.h"
#include "tensor/errors.h"
#include "model/transformer.h"

namespace mwb {

namespace {

constexpr const char* kFactTokenNames[] = {"subject_last", "subject_first", "last"};
constexpr const char* kKeyContextNames[] = {"subject", "prompt"};
constexpr const char* kStopRuleNames[] = {"loss", "target"};

// First and last token of `enc` (the encoding of `text`) that overlap the subject,
// which starts at byte `subjectAt`.
std::pair<int, int> subjectTokens(const Encoding& enc, const std::string& text, size_t subjectAt,
                                  size_t subjectLen) {
    const int begin = static_cast<int>(subjectAt), end = static_cast<int>(subjectAt + subjectLen);
    int first = -1, last = -1;
    for (size_t i = 0; i < enc.ids.size(); ++i) {
        const auto [b, e] = enc.offsets[i];
        if (e > b && e > begin && b < end) {
            if (first < 0) first = static_cast<int>(i);
            last = static_cast<int>(i);
        }
    }
    if (first < 0) throw InvalidInput("the subject covers no token of \"" + text + "\"");
    return {first, last};
}

// The prompt in one template: token ids, the lookup index (the reference's
// find_fact_lookup_idx) and the subject's tokens.
struct Placed {
    std::vector<int> ids;
    int lookup = 0;
    std::vector<int> subjectIds;
};

Placed placeOne(const Model& model, const std::string& templ, const std::string& prompt,
                const std::string& subject, FactToken f) {
    const std::string text = fillTemplate(templ, fillTemplate(prompt, subject));
    const size_t subjectAt = templ.find("{}") + prompt.find("{}");
    Encoding enc = model.tokenizer.encode(text);
    const auto [first, last] = subjectTokens(enc, text, subjectAt, subject.size());
    Placed p;
    p.lookup = f == FactToken::Last           ? static_cast<int>(enc.ids.size()) - 1
               : f == FactToken::SubjectFirst ? first
                                              : last;
    p.subjectIds.assign(enc.ids.begin() + first, enc.ids.begin() + last + 1);
    p.ids = std::move(enc.ids);
    return p;
}

// "<prefix>. {}" puts a space before a subject that opens the prompt, and a byte-level
// BPE splits " Norway" and "Norway" differently: the template with a line break in
// place of that space, where it has one.
std::optional<std::string> lineBreakJoined(const std::string& templ) {
    const size_t at = templ.find("{}");
    if (at == 0 || at == std::string::npos || templ[at - 1] != ' ') return std::nullopt;
    std::string joined = templ;
    joined[at - 1] = '\n';
    return joined;
}

RowVector logSoftmax(const Eigen::Ref<const RowVector>& z) {
    const float m = z.maxCoeff();
    const double lse = m + std::log((z.array() - m).exp().cast<double>().sum());
    return (z.array() - static_cast<float>(lse)).matrix();
}

}  // namespace

std::string toString(FactToken f) { return kFactTokenNames[static_cast<int>(f)]; }

FactToken parseFactToken(const std::string& s) {
    for (int i = 0; i < 3; ++i)
        if (s == kFactTokenNames[i]) return static_cast<FactToken>(i);
    throw InvalidInput("unknown fact token '" + s + "' (expected subject_last, subject_first or last)");
}

std::string toString(KeyContext c) { return kKeyContextNames[static_cast<int>(c)]; }

KeyContext parseKeyContext(const std::string& s) {
    for (int i = 0; i < 2; ++i)
        if (s == kKeyContextNames[i]) return static_cast<KeyContext>(i);
    throw InvalidInput("unknown key context '" + s + "' (expected subject or prompt)");
}

StopRule parseStopRule(const std::string& s) {
    for (int i = 0; i < 2; ++i)
        if (s == kStopRuleNames[i]) return static_cast<StopRule>(i);
    throw InvalidInput("unknown stop rule '" + s + "' (expected loss or target)");
}

void validateRequest(const EditRequest& r) {
    if (r.prompt.find("{}") == std::string::npos)
        throw InvalidInput("the prompt \"" + r.prompt + "\" has no {} where the subject goes");
    if (r.subject.empty()) throw InvalidInput("the subject is empty");
    if (r.subject.find("{}") != std::string::npos) throw InvalidInput("the subject must not contain {}");
    if (r.targetNew.find_first_not_of(' ') == std::string::npos) throw InvalidInput("the new target is empty");
}

PlacedRequest placeRequest(const Model& model, const EditRequest& request,
                           const std::vector<std::string>& templates, FactToken factToken,
                           bool subjectTokensAsInPrompt) {
    const Transformer transformer(model);
    PlacedRequest p;
    std::vector<int> promptSubject;
    for (const auto& templ : templates) {
        Placed one = placeOne(model, templ, request.prompt, request.subject, factToken);
        if (promptSubject.empty()) promptSubject = one.subjectIds;
        const auto joined = lineBreakJoined(templ);
        if (subjectTokensAsInPrompt && one.subjectIds != promptSubject && joined) {
            Placed other = placeOne(model, *joined, request.prompt, request.subject, factToken);
            if (other.subjectIds == promptSubject) one = std::move(other);
        }
        transformer.validateTokens(one.ids);
        p.ids.push_back(std::move(one.ids));
        p.lookup.push_back(one.lookup);
    }
    return p;
}

PlacedRequest placeSubject(const Model& model, const EditRequest& request,
                           const std::vector<std::string>& templates, FactToken factToken) {
    if (factToken == FactToken::Last)
        throw InvalidInput("the subject's own context has no prompt token to read the key at (fact token 'last')");
    const Transformer transformer(model);
    const std::vector<int> subject = placeOne(model, "{}", request.prompt, request.subject, factToken).subjectIds;
    const int lookupInSubject = factToken == FactToken::SubjectFirst ? 0 : static_cast<int>(subject.size()) - 1;
    PlacedRequest p;
    auto add = [&](std::vector<int> ids) {
        transformer.validateTokens(ids);
        p.lookup.push_back(static_cast<int>(ids.size() - subject.size()) + lookupInSubject);
        p.ids.push_back(std::move(ids));
    };
    auto endsWithSubject = [&](const std::vector<int>& ids) {
        return ids.size() >= subject.size() && std::equal(subject.begin(), subject.end(), ids.end() - subject.size());
    };
    auto prefixOf = [](const std::string& templ) { return templ.substr(0, templ.find("{}")); };
    for (const auto& templ : templates) {
        std::vector<int> ids = model.tokenizer.encodeIds(prefixOf(templ) + request.subject);
        if (const auto joined = lineBreakJoined(templ); !endsWithSubject(ids) && joined)
            ids = model.tokenizer.encodeIds(prefixOf(*joined) + request.subject);
        if (!endsWithSubject(ids)) {  // the prefix's tokens, then the subject's
            const std::string prefix = prefixOf(templ);
            ids = model.tokenizer.encodeIds(prefix.substr(0, prefix.find_last_not_of(' ') + 1));
            ids.insert(ids.end(), subject.begin(), subject.end());
        }
        add(std::move(ids));
    }
    return p;
}

PlacedRequest keyPlacement(const Model& model, const EditRequest& request,
                           const std::vector<std::string>& templates, FactToken factToken, KeyContext context,
                           const PlacedRequest& inPrompt) {
    if (context == KeyContext::Prompt || factToken == FactToken::Last) return inPrompt;
    return placeSubject(model, request, templates, factToken);
}

RequestKeys requestKeys(const Model& model, const PlacedRequest& placed, int layer,
                        const std::vector<double>& weights) {
    if (!weights.empty() && weights.size() != placed.ids.size())
        throw InvalidInput("one key weight per context template is needed");
    const Transformer transformer(model);
    Hooks capture;
    capture.captures = {{HookSite::MlpIn, layer}, {HookSite::MlpOut, layer}};
    RequestKeys k;
    k.keyStar = Vector::Zero(model.config.dFf);
    for (size_t j = 0; j < placed.ids.size(); ++j) {
        const RunState s = transformer.run(placed.ids[j], capture, LogitsMode::None, layer + 1);
        const int idx = placed.lookup[j];
        const Vector key = s.captured.at({HookSite::MlpIn, layer}).row(idx).transpose();
        k.keyStar += key * static_cast<float>(weights.empty() ? 1.0 / placed.ids.size() : weights[j]);
        if (j == 0) {
            k.keyBare = key;
            k.mlpOutBare = s.captured.at({HookSite::MlpOut, layer}).row(idx).transpose();
            k.residBare = s.resid[layer + 1].row(idx).transpose();
        }
    }
    return k;
}

ValueTarget optimizeValue(const Model& model, const EditRequest& request, const PlacedRequest& placed,
                          FactToken factToken, int layer, double initNorm, const ValueParams& params,
                          const ProgressFn& progress, std::optional<double> barePromptShare) {
    return optimizeSharedValue(model, {request}, {placed}, factToken, layer, initNorm, params, progress,
                               barePromptShare);
}

ValueTarget optimizeSharedValue(const Model& model, const std::vector<EditRequest>& requests,
                                const std::vector<PlacedRequest>& placed, FactToken factToken, int layer,
                                double initNorm, const ValueParams& params, const ProgressFn& progress,
                                std::optional<double> barePromptShare) {
    const auto& c = model.config;
    if (params.steps < 1) throw InvalidInput("the number of optimisation steps must be at least 1");
    if (!(params.learningRate > 0)) throw InvalidInput("the learning rate must be positive");
    if (!(params.clampNormFactor > 0)) throw InvalidInput("the clamp factor must be positive");
    if (!(params.klFactor >= 0)) throw InvalidInput("the KL factor must not be negative");
    if (!(params.weightDecay >= 0)) throw InvalidInput("the weight decay must not be negative");
    if (requests.empty() || requests.size() != placed.size())
        throw InvalidInput("one placement per request is needed");
    for (const EditRequest& r : requests)
        if (r.subject != requests[0].subject) throw InvalidInput("a shared value needs requests with one subject");
    if (barePromptShare && requests.size() > 1) throw InvalidInput("the bare-prompt check is for one request");

    // The batch: for each request, every template followed by each prefix of its
    // target (predicting the next target token); then the "{subject} is a" essence
    // prompt whose next-token distribution at the lookup token the KL term keeps.
    // Each request weighs the same in the NLL, its rows equally (one request: the
    // reference's mean over prompts of the mean over target tokens).
    std::vector<std::vector<int>> seqs;
    std::vector<int> lookups, targets;
    std::vector<double> rowWeights;
    for (size_t r = 0; r < requests.size(); ++r) {
        const std::vector<int> targetIds = continuationIds(
            model.tokenizer, fillTemplate(requests[r].prompt, requests[r].subject), requests[r].targetNew);
        const double weight = 1.0 / double(requests.size() * placed[r].ids.size() * targetIds.size());
        for (size_t j = 0; j < placed[r].ids.size(); ++j)
            for (size_t i = 0; i < targetIds.size(); ++i) {
                std::vector<int> ids = placed[r].ids[j];
                ids.insert(ids.end(), targetIds.begin(), targetIds.begin() + i);
                lookups.push_back(factToken == FactToken::Last ? static_cast<int>(ids.size()) - 1 : placed[r].lookup[j]);
                targets.push_back(targetIds[i]);
                rowWeights.push_back(weight);
                seqs.push_back(std::move(ids));
            }
    }
    const int nRewrite = static_cast<int>(seqs.size());
    {
        Placed essence = placeOne(model, "{}", "{} is a", requests[0].subject, factToken);
        lookups.push_back(essence.lookup);
        seqs.push_back(std::move(essence.ids));
    }
    // The bare prompt again (its rows for each target token: the first rows) with the
    // share of δ the update will deliver there: read for the early stop only, never in
    // the loss.
    const int nBare = barePromptShare ? static_cast<int>(nRewrite / placed[0].ids.size()) : 0;
    for (int i = 0; i < nBare; ++i) {
        seqs.push_back(seqs[i]);
        lookups.push_back(lookups[i]);
        targets.push_back(targets[i]);
    }
    const int batch = static_cast<int>(seqs.size());
    int seqLen = 0;
    for (const auto& s : seqs) seqLen = std::max(seqLen, static_cast<int>(s.size()));
    if (seqLen > c.nCtx)
        throw InvalidInput("a context template with the prompt and target has " + std::to_string(seqLen) +
                           " tokens, more than the model's context of " + std::to_string(c.nCtx));
    // Padding goes at the end; the causal mask keeps it from reaching real tokens.
    std::vector<int> tokens(static_cast<size_t>(batch) * seqLen, 0);
    // Logits are needed at each rewriting prompt's last token (row b of the logits) and
    // at the essence prompt's lookup token (row nRewrite).
    std::vector<int> rows(batch), logitRows(batch);
    for (int b = 0; b < batch; ++b) {
        std::copy(seqs[b].begin(), seqs[b].end(), tokens.begin() + static_cast<long>(b) * seqLen);
        rows[b] = b * seqLen + lookups[b];
        logitRows[b] = b == nRewrite ? rows[b] : b * seqLen + static_cast<int>(seqs[b].size()) - 1;
    }
    const int klRow = nRewrite;

    // Only the layers above `layer` are run backward.
    const double activationBytes = (c.nLayers - layer - 1) * layerActivationBytes(c, batch, seqLen);
    Backprop bp(c, model.weights,
                activationBytes > params.activationBudgetBytes ? ActivationMemory::Recompute
                                                               : ActivationMemory::KeepAll);
    bp.setLogitRows(std::move(logitRows));
    bp.forward(tokens, batch, seqLen);
    const double maxNorm = params.clampNormFactor * initNorm;
    ValueTarget out;
    Vector delta = Vector::Zero(c.dModel);
    VectorD m1 = VectorD::Zero(c.dModel), m2 = VectorD::Zero(c.dModel);  // Adam, torch defaults
    RowVector klInit;
    for (int it = 0; it < params.steps; ++it) {
        report(progress, {it, params.steps, "optimise value"});
        Matrix deltas = delta.transpose().replicate(batch, 1);
        if (nBare) deltas.bottomRows(nBare) *= static_cast<float>(*barePromptShare);
        const Matrix& logits = bp.forwardWithMlpDelta(layer, rows, deltas);
        Matrix dLogits = Matrix::Zero(logits.rows(), logits.cols());
        double nll = 0.0, prob = 0.0;  // weighted means over the rewriting rows
        for (int b = 0; b < nRewrite; ++b) {
            const RowVector logp = logSoftmax(logits.row(b));
            const float w = static_cast<float>(rowWeights[b]);
            nll -= rowWeights[b] * logp[targets[b]];
            prob += rowWeights[b] * std::exp(logp[targets[b]]);
            dLogits.row(b) = logp.array().exp().matrix() * w;
            dLogits(b, targets[b]) -= w;
        }
        const RowVector logq = logSoftmax(logits.row(klRow));
        if (it == 0) {
            klInit = logq;
            out.probTargetInit = prob;
        }
        // KL(current || initial), as torch's kl_div(initial, current, log_target=True).
        const RowVector q = logq.array().exp().matrix();
        const double kl = (q.array() * (logq - klInit).array()).cast<double>().sum();
        const double deltaNorm = delta.norm();
        const double decay = initNorm > 0 ? params.weightDecay * deltaNorm / (initNorm * initNorm) : 0.0;
        const double loss = nll + params.klFactor * kl + decay;
        out.loss.push_back(loss);
        out.probTargetFinal = prob;
        double bareNll = 0.0;
        // `targets` has no entry for the KL row: bare row b reads targets[b - 1].
        for (int b = klRow + 1; b < batch; ++b) bareNll -= logSoftmax(logits.row(b))[targets[b - 1]] / nBare;
        const bool reached = (params.stopRule == StopRule::Target ? nll : loss) < params.stopLoss &&
                             bareNll < params.stopLoss;
        if (reached || it == params.steps - 1) break;
        // d KL / d logits = q ⊙ (log q − log q0 − KL)
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
    report(progress, {params.steps, params.steps, "optimise value"});
    out.delta = delta;
    return out;
}

}  // namespace mwb
