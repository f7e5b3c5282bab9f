#include "editing/value_optimization.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "model/backprop.h"
#include "tokenizer/continuation.h"
#include "tensor/adam.h"
#include "tensor/errors.h"
#include "model/transformer.h"

namespace mwb {

namespace {

constexpr const char* kFactTokenNames[] = {"subject_last", "subject_first", "last"};
constexpr const char* kKeyContextNames[] = {"subject", "prompt"};
constexpr const char* kStopRuleNames[] = {"loss", "target"};

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
    const auto [first, end] = findSubjectTokens(enc, text, subject, subjectAt);
    const int last = end - 1;
    Placed p;
    p.lookup = f == FactToken::Last           ? static_cast<int>(enc.ids.size()) - 1
               : f == FactToken::SubjectFirst ? first
                                              : last;
    p.subjectIds.assign(enc.ids.begin() + first, enc.ids.begin() + end);
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
    throw InvalidInput("unknown fact token " + quote(s) + " (expected subject_last, subject_first or last)");
}

std::string toString(KeyContext c) { return kKeyContextNames[static_cast<int>(c)]; }

KeyContext parseKeyContext(const std::string& s) {
    for (int i = 0; i < 2; ++i)
        if (s == kKeyContextNames[i]) return static_cast<KeyContext>(i);
    throw InvalidInput("unknown key context " + quote(s) + " (expected subject or prompt)");
}

StopRule parseStopRule(const std::string& s) {
    for (int i = 0; i < 2; ++i)
        if (s == kStopRuleNames[i]) return static_cast<StopRule>(i);
    throw InvalidInput("unknown stop rule " + quote(s) + " (expected loss or target)");
}

void validateRequest(const EditRequest& r) {
    if (r.prompt.find("{}") == std::string::npos)
        throw InvalidInput("the prompt " + quote(r.prompt) + " has no {} where the subject goes");
    std::string relation = r.prompt;
    relation.erase(relation.find("{}"), 2);
    if (relation.find_first_not_of(" \t\n") == std::string::npos)
        throw InvalidInput("the prompt " + quote(r.prompt) +
                           " has no text besides {}: write the relation too, such as \"{} is located in the city of\"");
    if (r.subject.empty()) throw InvalidInput("the subject is empty");
    if (r.subject.find("{}") != std::string::npos) throw InvalidInput("the subject must not contain {}");
    if (r.targetNew.find_first_not_of(' ') == std::string::npos) throw InvalidInput("the new target is empty");
}

void validateValueParams(const ValueParams& params) {
    if (params.steps < 1) throw InvalidInput("the number of optimisation steps must be at least 1");
    if (!(params.learningRate > 0)) throw InvalidInput("the learning rate must be positive");
    if (!(params.clampNormFactor > 0)) throw InvalidInput("the clamp factor must be positive");
    if (!(params.klFactor >= 0)) throw InvalidInput("the KL factor must not be negative");
    if (!(params.weightDecay >= 0)) throw InvalidInput("the weight decay must not be negative");
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
                        const std::vector<double>& weights, int expert) {
    if (const std::string problem = editTargetProblem(model.config, layer, expert); !problem.empty())
        throw InvalidInput(problem);
    if (!weights.empty() && weights.size() != placed.ids.size())
        throw InvalidInput("one key weight per context template is needed");
    const Transformer transformer(model);
    const HookSite keySite = expert < 0 ? HookSite::MlpIn : HookSite::ExpertIn;
    Hooks capture;
    capture.captures = {{keySite, layer, expert}, {HookSite::MlpOut, layer}};
    RequestKeys k;
    k.keyStar = Vector::Zero(editedKeyWidth(model.config, expert));
    for (size_t j = 0; j < placed.ids.size(); ++j) {
        const int idx = placed.lookup[j];
        // An expert's key where the router sends the token elsewhere is still the key
        // its down projection would see: the token is routed to the expert (its logit
        // raised above the others) for the capture, which changes nothing below it.
        Hooks hooks = capture;
        if (expert >= 0) {
            hooks.wants = [](HookSite site, int) { return site == HookSite::RouterLogits; };
            hooks.callback = [&](const HookPoint& at, Eigen::Ref<Matrix> rows) {
                const int r = idx - at.firstPos;
                if (at.site != HookSite::RouterLogits || at.layer != layer || r < 0 || r >= rows.rows()) return;
                const float top = rows.row(r).maxCoeff();
                rows(r, expert) = top + std::max(1.0f, std::abs(top));  // above the others even for large logits
            };
        }
        const RunState s = transformer.run(placed.ids[j], hooks, LogitsMode::None, layer + 1);
        const Vector key = expert < 0 ? Vector(s.captured.at({keySite, layer}).row(idx).transpose())
                                      : Vector(s.capturedExperts.at({keySite, layer, expert}).row(idx).transpose());
        k.keyStar += key * static_cast<float>(weights.empty() ? 1.0 / placed.ids.size() : weights[j]);
        if (j > 0) continue;
        k.keyBare = key;
        std::optional<RunState> unforced;
        if (expert >= 0) unforced = transformer.run(placed.ids[0], capture, LogitsMode::None, layer + 1);
        const RunState& bare = unforced ? *unforced : s;
        k.mlpOutBare = bare.captured.at({HookSite::MlpOut, layer}).row(idx).transpose();
        if (expert < 0) continue;
        const LayerRouting& routing = bare.routing[size_t(layer)];
        k.mixingWeightBare = 0.0;
        for (int i = 0; i < model.config.nExpertsPerToken; ++i) {
            k.routedBare.push_back(routing.experts(idx, i));
            k.routedWeightsBare.push_back(routing.weights(idx, i));
            if (routing.experts(idx, i) == expert) k.mixingWeightBare = routing.weights(idx, i);
        }
    }
    return k;
}

std::map<int, std::vector<int>> subjectExperts(const Model& model, const std::vector<EditRequest>& requests,
                                             const std::vector<int>& layers, FactToken factToken) {
    std::map<int, std::vector<int>> out;
    for (const EditRequest& r : requests) {
        const PlacedRequest bare = placeRequest(model, r, {"{}"}, factToken);
        const RunState s = Transformer(model).run(bare.ids[0], {}, LogitsMode::None);
        for (int l : layers)
            if (l >= 0 && l < model.config.nLayers && model.config.moeLayer(l))
                out[l].push_back(s.routing[size_t(l)].experts(bare.lookup[0], 0));
    }
    return out;
}

Vector residualAtLookup(const Model& model, const PlacedRequest& placed, int layer) {
    if (layer < 0 || layer >= model.config.nLayers)
        throw InvalidInput("layer " + std::to_string(layer) + " is out of range (the model has " +
                           std::to_string(model.config.nLayers) + " layers)");
    const RunState s = Transformer(model).run(placed.ids.at(0), {}, LogitsMode::None, layer + 1);
    return s.resid[size_t(layer) + 1].row(placed.lookup.at(0)).transpose();
}

ValueTarget optimizeValue(const Model& model, const EditRequest& request, const PlacedRequest& placed,
                          FactToken factToken, int layer, double initNorm, const ValueParams& params,
                          const ProgressFn& progress, std::optional<double> barePromptShare) {
    return optimizeSharedValue(model, {request}, {placed}, factToken, layer, initNorm, params, progress,
                               barePromptShare);
}

namespace {

// The optimisation batch of Meng et al. 2022 §3.1 (eq. 4): for each request, every
// context template followed by each prefix of its target (predicting the next target
// token); then the "{subject} is a" essence prompt whose next-token distribution at
// the lookup token the KL term keeps; then, for the early stop only, the bare prompt's
// rows again. Sequences are padded at the end (the causal mask keeps padding from
// reaching real tokens).
struct ValueBatch {
    std::vector<int> tokens;  // [batch * seqLen]
    int batch = 0, seqLen = 0;
    int nRewrite = 0;  // rewriting rows first; then the KL row; then nBare bare rows
    int klRow = 0, nBare = 0;
    std::vector<int> rows;       // per sequence: the lookup token's row, where δ is added
    std::vector<int> logitRows;  // per sequence: the row whose logits the loss reads
    std::vector<int> targets;    // per rewriting row, then per bare row
    std::vector<double> rowWeights;  // per rewriting row
};

ValueBatch valueBatch(const Model& model, const std::vector<EditRequest>& requests,
                      const std::vector<PlacedRequest>& placed, FactToken factToken, bool barePrompt) {
    // Each request weighs the same in the NLL, its rows equally (one request: the
    // reference's mean over prompts of the mean over target tokens).
    ValueBatch v;
    std::vector<std::vector<int>> seqs;
    std::vector<int> lookups;
    for (size_t r = 0; r < requests.size(); ++r) {
        const std::vector<int> targetIds = continuationIds(
            model.tokenizer, fillTemplate(requests[r].prompt, requests[r].subject), requests[r].targetNew);
        const double weight = 1.0 / double(requests.size() * placed[r].ids.size() * targetIds.size());
        for (size_t j = 0; j < placed[r].ids.size(); ++j)
            for (size_t i = 0; i < targetIds.size(); ++i) {
                std::vector<int> ids = placed[r].ids[j];
                ids.insert(ids.end(), targetIds.begin(), targetIds.begin() + i);
                lookups.push_back(factToken == FactToken::Last ? static_cast<int>(ids.size()) - 1 : placed[r].lookup[j]);
                v.targets.push_back(targetIds[i]);
                v.rowWeights.push_back(weight);
                seqs.push_back(std::move(ids));
            }
    }
    v.nRewrite = static_cast<int>(seqs.size());
    v.klRow = v.nRewrite;
    {
        Placed essence = placeOne(model, "{}", "{} is a", requests[0].subject, factToken);
        lookups.push_back(essence.lookup);
        seqs.push_back(std::move(essence.ids));
    }
    // The bare prompt's rows: the first rows, one per target token.
    v.nBare = barePrompt ? static_cast<int>(v.nRewrite / placed[0].ids.size()) : 0;
    for (int i = 0; i < v.nBare; ++i) {
        seqs.push_back(seqs[i]);
        lookups.push_back(lookups[i]);
        v.targets.push_back(v.targets[i]);
    }
    v.batch = static_cast<int>(seqs.size());
    for (const auto& s : seqs) v.seqLen = std::max(v.seqLen, static_cast<int>(s.size()));
    if (v.seqLen > model.config.nCtx)
        throw InvalidInput("a context template with the prompt and target has " + std::to_string(v.seqLen) +
                           " tokens, more than the model's context of " + std::to_string(model.config.nCtx));
    v.tokens.assign(static_cast<size_t>(v.batch) * v.seqLen, 0);
    v.rows.resize(v.batch);
    v.logitRows.resize(v.batch);
    for (int b = 0; b < v.batch; ++b) {
        std::copy(seqs[b].begin(), seqs[b].end(), v.tokens.begin() + static_cast<long>(b) * v.seqLen);
        v.rows[b] = b * v.seqLen + lookups[b];
        v.logitRows[b] = b == v.klRow ? v.rows[b] : b * v.seqLen + static_cast<int>(seqs[b].size()) - 1;
    }
    return v;
}

// δ added to mlp_out of `layer` at every sequence's lookup token; the bare rows get
// the share of δ the update will deliver there.
Hooks valueHooks(const ValueBatch& v, int layer, const Vector& delta, std::optional<double> bareShare) {
    Hooks h;
    for (int b = 0; b < v.batch; ++b) {
        Vector d = delta;
        if (b >= v.batch - v.nBare) d *= static_cast<float>(*bareShare);
        h.patches.push_back({HookSite::MlpOut, layer, v.rows[b], std::move(d), PatchMode::Add});
    }
    return h;
}

struct ValueLoss {
    double nll = 0.0, prob = 0.0;  // weighted means over the rewriting rows
    double kl = 0.0;               // KL(current || initial) at the essence prompt
    double bareNll = 0.0;          // mean NLL of the bare rows (0 without them)
    Matrix dLogits;                // d (nll + klFactor kl) / d logits
};

// The loss terms at `logits` (one row per sequence) against the initial essence
// distribution klInit.
ValueLoss valueLoss(const ValueBatch& v, const Matrix& logits, const RowVector& klInit, double klFactor) {
    ValueLoss l;
    l.dLogits = Matrix::Zero(logits.rows(), logits.cols());
    for (int b = 0; b < v.nRewrite; ++b) {
        const RowVector logp = logSoftmax(logits.row(b));
        const float w = static_cast<float>(v.rowWeights[b]);
        l.nll -= v.rowWeights[b] * logp[v.targets[b]];
        l.prob += v.rowWeights[b] * std::exp(logp[v.targets[b]]);
        l.dLogits.row(b) = logp.array().exp().matrix() * w;
        l.dLogits(b, v.targets[b]) -= w;
    }
    // KL(current || initial), as torch's kl_div(initial, current, log_target=True);
    // d KL / d logits = q ⊙ (log q − log q0 − KL).
    const RowVector logq = logSoftmax(logits.row(v.klRow));
    const RowVector q = logq.array().exp().matrix();
    l.kl = (q.array() * (logq - klInit).array()).cast<double>().sum();
    l.dLogits.row(v.klRow) = static_cast<float>(klFactor) *
                             (q.array() * ((logq - klInit).array() - static_cast<float>(l.kl))).matrix();
    // `targets` has no entry for the KL row: bare row b reads targets[b - 1].
    for (int b = v.klRow + 1; b < v.batch; ++b) l.bareNll -= logSoftmax(logits.row(b))[v.targets[b - 1]] / v.nBare;
    return l;
}

}  // namespace

ValueTarget optimizeSharedValue(const Model& model, const std::vector<EditRequest>& requests,
                                const std::vector<PlacedRequest>& placed, FactToken factToken, int layer,
                                double initNorm, const ValueParams& params, const ProgressFn& progress,
                                std::optional<double> barePromptShare) {
    const auto& c = model.config;
    validateValueParams(params);
    if (requests.empty() || requests.size() != placed.size())
        throw InvalidInput("one placement per request is needed");
    for (const EditRequest& r : requests)
        if (r.subject != requests[0].subject) throw InvalidInput("a shared value needs requests with one subject");
    if (barePromptShare && requests.size() > 1) throw InvalidInput("the bare-prompt check is for one request");

    const ValueBatch batch = valueBatch(model, requests, placed, factToken, barePromptShare.has_value());
    // Only the layers above `layer` are run backward.
    const double activationBytes = (c.nLayers - layer - 1) * layerActivationBytes(c, batch.batch, batch.seqLen);
    Backprop bp(c, model.weights,
                activationBytes > params.activationBudgetBytes ? ActivationMemory::Recompute
                                                               : ActivationMemory::KeepAll);
    bp.setLogitRows(batch.logitRows);
    bp.forward(batch.tokens, batch.batch, batch.seqLen);
    const double maxNorm = params.clampNormFactor * initNorm;
    ValueTarget out;
    Vector delta = Vector::Zero(c.dModel);
    VectorD m1 = VectorD::Zero(c.dModel), m2 = VectorD::Zero(c.dModel);  // Adam, torch defaults
    const AdamHyper adam;
    RowVector klInit;
    for (int it = 0; it < params.steps; ++it) {
        report(progress, {it, params.steps, "optimise value"});
        const Matrix& logits = bp.rerun(valueHooks(batch, layer, delta, barePromptShare));
        if (it == 0) klInit = logSoftmax(logits.row(batch.klRow));
        const ValueLoss l = valueLoss(batch, logits, klInit, params.klFactor);
        if (it == 0) out.probTargetInit = l.prob;
        const double deltaNorm = delta.norm();
        const double decay = initNorm > 0 ? params.weightDecay * deltaNorm / (initNorm * initNorm) : 0.0;
        const double loss = l.nll + params.klFactor * l.kl + decay;
        out.loss.push_back(loss);
        out.probTargetFinal = l.prob;
        const bool reached = (params.stopRule == StopRule::Target ? l.nll : loss) < params.stopLoss &&
                             l.bareNll < params.stopLoss;
        if (reached || it == params.steps - 1) break;
        const Matrix g = bp.backwardToPatches(l.dLogits);
        VectorD grad = g.colwise().sum().transpose().cast<double>();
        if (deltaNorm > 0 && initNorm > 0)
            grad += params.weightDecay * delta.cast<double>() / (deltaNorm * initNorm * initNorm);
        adamMoments(m1.array(), m2.array(), grad.array(), adam);
        const VectorD step = adamStep(m1.array(), m2.array(), it + 1, params.learningRate, adam);
        delta -= step.cast<float>();
        if (delta.norm() > maxNorm) delta *= static_cast<float>(maxNorm / delta.norm());
    }
    report(progress, {params.steps, params.steps, "optimise value"});
    out.delta = delta;
    return out;
}

}  // namespace mwb
