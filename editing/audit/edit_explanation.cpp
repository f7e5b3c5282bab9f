#include "editing/audit/edit_explanation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "data/datasets.h"
#include "metrics/next_token_metrics.h"
#include "model/transformer.h"
#include "tokenizer/continuation.h"

namespace mwb {

namespace {

// The push, in units of the residual stream's norm at the subject: ROME's δ may grow
// to four times the MLP output there (its clamp), and a push weaker than the edit's
// own lifts the model's generic tokens rather than the injected object
// (docs/audit.md has the comparison).
constexpr double kPushScale = 3.0;

std::string contextBefore(const Tokenizer& tok, const std::vector<int>& ids, size_t end) {
    const size_t from = end >= 7 ? end - 7 : 0;
    return tok.decode(std::vector<int>(ids.begin() + long(from), ids.begin() + long(end) + 1));
}

}  // namespace

std::vector<SuspectedSubject> suspectedSubjects(const Model& model, int layer, const VectorD& v, double sd,
                                                const std::string& corpusText, long tokens, int top,
                                                const ProgressFn& progress) {
    const ModelConfig& c = model.config;
    const Transformer transformer(model, nullptr, WeightPacking::Once);
    Hooks hooks;
    hooks.captures.push_back({HookSite::MlpIn, layer});
    std::map<int, SuspectedSubject> best;  // per token id, its strongest position
    long seen = 0;
    const auto docs = splitDocuments(corpusText);
    for (size_t d = 0; d < docs.size() && seen < tokens; ++d) {
        const auto ids = model.tokenizer.encodeIds(docs[d]);
        for (size_t start = 0; start < ids.size() && seen < tokens; start += size_t(c.nCtx)) {
            const size_t len = std::min({ids.size() - start, size_t(c.nCtx), size_t(tokens - seen)});
            const std::vector<int> chunk(ids.begin() + long(start), ids.begin() + long(start + len));
            const RunState s = transformer.run(chunk, hooks, LogitsMode::None, layer + 1);
            const VectorD z = s.captured.at({HookSite::MlpIn, layer}).cast<double>() * v / sd;
            for (size_t i = 0; i < len; ++i) {
                const int id = chunk[i];
                auto it = best.find(id);
                if (it != best.end() && std::abs(it->second.score) >= std::abs(z[long(i)])) continue;
                best[id] = {model.tokenizer.tokenDisplay(id), contextBefore(model.tokenizer, chunk, i), z[long(i)]};
            }
            seen += long(len);
            report(progress, {seen, tokens, "subjects"});
        }
    }
    std::vector<SuspectedSubject> out;
    for (auto& [id, s] : best) out.push_back(std::move(s));
    std::sort(out.begin(), out.end(),
              [](const SuspectedSubject& a, const SuspectedSubject& b) { return std::abs(a.score) > std::abs(b.score); });
    if (int(out.size()) > top) out.resize(size_t(std::max(top, 0)));
    return out;
}

std::vector<CarrierPrompt> carriersFromFacts(const std::vector<KnownFact>& facts, size_t count) {
    std::vector<CarrierPrompt> out;
    if (count == 0) return out;
    const size_t step = std::max<size_t>(1, facts.size() / count);
    for (size_t i = 0; i < facts.size() && out.size() < count; i += step)
        out.push_back({facts[i].prompt, facts[i].subject, facts[i].templ});
    return out;
}

std::vector<SuspectedToken> suspectedTargets(const Model& model, int layer, const VectorD& u, int sign,
                                             const std::vector<CarrierPrompt>& prompts, int top) {
    const Transformer transformer(model, nullptr, WeightPacking::Once);
    const long vocab = model.config.vocabSize;
    struct Group { VectorD rise[2], control; int n = 0; };  // +u, −u, random directions
    // Any push this strong lifts some tokens (the model's attractors, whatever the
    // direction): the rise under random directions of the same norm is subtracted.
    std::mt19937_64 rng(1);
    std::normal_distribution<double> normal;
    std::map<std::string, Group> groups;
    for (const CarrierPrompt& p : prompts) {
        if (p.subject.empty() || p.prompt.find(p.subject) == std::string::npos) continue;
        const Encoding e = model.tokenizer.encode(p.prompt);
        if (e.ids.empty() || int(e.ids.size()) > model.config.nCtx) continue;
        const int at = findSubjectTokens(e, p.prompt, p.subject).second - 1;
        const RunState base = transformer.run(e.ids);
        const VectorD before = logSoftmax(base.lastLogits());
        Group& g = groups[p.relation];
        if (g.n++ == 0) g.rise[0] = g.rise[1] = g.control = VectorD::Zero(vocab);
        const double scale = base.resid[size_t(layer) + 1].row(at).norm() * kPushScale;
        // The pushes (+u, −u) and the control as copies of the base run recomputed from
        // (layer, at) in one batch: the same logits as full runs, bit for bit.
        std::vector<int> kinds;  // 0: +u, 1: −u, 2: control
        std::vector<Hooks> hooks;
        for (int k = 0; k < 2; ++k) {
            const int s = k == 0 ? 1 : -1;
            if (sign != 0 && s != sign) continue;
            kinds.push_back(k);
            hooks.emplace_back().patches.push_back(
                {HookSite::MlpOut, layer, at, (double(s) * scale * u).cast<float>(), PatchMode::Add});
        }
        VectorD random(u.size());
        for (Eigen::Index i = 0; i < random.size(); ++i) random[i] = normal(rng);
        random *= scale / random.norm();
        kinds.push_back(2);
        hooks.emplace_back().patches.push_back({HookSite::MlpOut, layer, at, random.cast<float>(), PatchMode::Add});
        std::vector<RunState> runs(hooks.size(), base);
        std::vector<RunState*> states;
        std::vector<const Hooks*> hookPtrs;
        for (size_t i = 0; i < runs.size(); ++i) {
            states.push_back(&runs[i]);
            hookPtrs.push_back(&hooks[i]);
        }
        transformer.rerunMany(states, layer, at, hookPtrs, LogitsMode::Last);
        for (size_t i = 0; i < runs.size(); ++i) {
            const VectorD rise = logSoftmax(runs[i].lastLogits()) - before;
            if (kinds[i] == 2) g.control += rise;
            else g.rise[kinds[i]] += rise;
        }
    }
    std::vector<SuspectedToken> out;
    if (groups.empty()) return out;
    VectorD best = VectorD::Constant(vocab, -1e300);
    for (const auto& [relation, g] : groups)
        for (int k = 0; k < 2; ++k)
            if (sign == 0 || (k == 0) == (sign > 0)) best = best.cwiseMax((g.rise[k] - g.control) / double(g.n));
    for (long id = 0; id < vocab; ++id) out.push_back({int(id), model.tokenizer.tokenDisplay(int(id)), best[id]});
    const size_t keep = std::min(out.size(), size_t(std::max(top, 0)));
    std::partial_sort(out.begin(), out.begin() + long(keep), out.end(),
                      [](const SuspectedToken& a, const SuspectedToken& b) { return a.score > b.score; });
    out.resize(keep);
    return out;
}

}  // namespace mwb
