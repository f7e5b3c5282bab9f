// Groups of CounterFact cases edited and measured, shard by shard (counterfact_run.h).
#include "editing/counterfact_run.h"

#include <algorithm>

#include "cluster/bytes.h"
#include "editing/edit_history.h"
#include "editing/routing_change.h"
#include "editing/value_optimization.h"

namespace mwb {

namespace {

void putPrompts(cluster::ByteWriter& w, const std::vector<PromptNll>& prompts) {
    w.put<uint64_t>(prompts.size());
    for (const PromptNll& p : prompts) {
        w.put(p.prompt);
        w.put(p.nllNew);
        w.put(p.nllTrue);
    }
}

std::vector<PromptNll> getPrompts(cluster::ByteReader& in) {
    std::vector<PromptNll> prompts(in.get<uint64_t>());
    for (PromptNll& p : prompts) {
        p.prompt = in.getString();
        p.nllNew = in.get<double>();
        p.nllTrue = in.get<double>();
    }
    return prompts;
}

void putCase(cluster::ByteWriter& w, const CaseMetrics& m) {
    w.put<int32_t>(m.caseId);
    putPrompts(w, m.rewrite);
    putPrompts(w, m.paraphrase);
    putPrompts(w, m.neighborhood);
    for (double v : {m.efficacy, m.paraphraseSuccess, m.neighborhoodSuccess, m.efficacyMagnitude,
                     m.paraphraseMagnitude, m.neighborhoodMagnitude, m.fluency})
        w.put(v);
    w.put(m.generations);
}

CaseMetrics getCase(cluster::ByteReader& in) {
    CaseMetrics m;
    m.caseId = in.get<int32_t>();
    m.rewrite = getPrompts(in);
    m.paraphrase = getPrompts(in);
    m.neighborhood = getPrompts(in);
    for (double* v : {&m.efficacy, &m.paraphraseSuccess, &m.neighborhoodSuccess, &m.efficacyMagnitude,
                      &m.paraphraseMagnitude, &m.neighborhoodMagnitude, &m.fluency})
        *v = in.get<double>();
    m.generations = in.getStrings();
    return m;
}

// The rewrite prompt, then the neighbourhood prompts.
std::vector<std::string> routedPrompts(const CounterFactCase& c) {
    std::vector<std::string> prompts = {c.rewritePrompt()};
    prompts.insert(prompts.end(), c.neighborhoodPrompts.begin(), c.neighborhoodPrompts.end());
    return prompts;
}

CaseRouting caseRouting(const Model& model, const CounterFactCase& c, const RoutingSnapshot& before,
                        const RoutingSnapshot& after) {
    const RoutingChange change = routingChange(before, after, model.config);
    CaseRouting r;
    const int subject =
        placeRequest(model, {c.prompt, c.subject, c.targetNew, c.targetTrue}, {"{}"}, FactToken::SubjectLast).lookup[0];
    const PromptRoutingChange& rewrite = change.prompts.front();
    r.rewritePlaces = rewrite.places;
    r.rewriteChanged = long(rewrite.changes.size());
    for (const RoutingChangeAt& at : rewrite.changes) r.subjectLayersChanged += at.position == subject;
    for (size_t i = 1; i < change.prompts.size(); ++i) {
        ++r.neighbourPrompts;
        r.neighbourPromptsChanged += !change.prompts[i].changes.empty();
        r.neighbourPlaces += change.prompts[i].places;
        r.neighbourChanged += long(change.prompts[i].changes.size());
    }
    return r;
}

void putRouting(cluster::ByteWriter& w, const std::optional<CaseRouting>& r) {
    w.put<int32_t>(r.has_value());
    if (!r) return;
    for (int64_t v : {int64_t(r->subjectLayersChanged), int64_t(r->rewritePlaces), int64_t(r->rewriteChanged),
                      int64_t(r->neighbourPrompts), int64_t(r->neighbourPromptsChanged), int64_t(r->neighbourPlaces),
                      int64_t(r->neighbourChanged)})
        w.put(v);
}

std::optional<CaseRouting> getRouting(cluster::ByteReader& in) {
    if (!in.get<int32_t>()) return std::nullopt;
    CaseRouting r;
    r.subjectLayersChanged = int(in.get<int64_t>());
    r.rewritePlaces = in.get<int64_t>();
    r.rewriteChanged = in.get<int64_t>();
    r.neighbourPrompts = int(in.get<int64_t>());
    r.neighbourPromptsChanged = int(in.get<int64_t>());
    r.neighbourPlaces = in.get<int64_t>();
    r.neighbourChanged = in.get<int64_t>();
    return r;
}

}  // namespace

std::optional<CaseRouting> totalRouting(const std::vector<CaseOutcome>& outcomes) {
    std::optional<CaseRouting> total;
    for (const CaseOutcome& o : outcomes) {
        if (!o.routing) continue;
        if (!total) total.emplace();
        total->subjectLayersChanged += o.routing->subjectLayersChanged;
        total->rewritePlaces += o.routing->rewritePlaces;
        total->rewriteChanged += o.routing->rewriteChanged;
        total->neighbourPrompts += o.routing->neighbourPrompts;
        total->neighbourPromptsChanged += o.routing->neighbourPromptsChanged;
        total->neighbourPlaces += o.routing->neighbourPlaces;
        total->neighbourChanged += o.routing->neighbourChanged;
    }
    return total;
}

nlohmann::json toJson(const CaseRouting& r) {
    auto share = [](long part, long whole) { return whole > 0 ? double(part) / double(whole) : 0.0; };
    return {{"subject_layers_changed", r.subjectLayersChanged},
            {"rewrite_places", r.rewritePlaces},
            {"rewrite_changed", r.rewriteChanged},
            {"rewrite_changed_share", share(r.rewriteChanged, r.rewritePlaces)},
            {"neighbourhood_prompts", r.neighbourPrompts},
            {"neighbourhood_prompts_changed", r.neighbourPromptsChanged},
            {"neighbourhood_places", r.neighbourPlaces},
            {"neighbourhood_changed", r.neighbourChanged},
            {"neighbourhood_changed_share", share(r.neighbourChanged, r.neighbourPlaces)}};
}

std::vector<CaseOutcome> evaluateEditGroups(Model& model, const std::vector<CounterFactCase>& cases,
                                            size_t group, const EvalOptions& options, const GroupEdit& edit,
                                            const ProgressFn& progress, const cluster::ShardRun& run) {
    if (group < 1) throw InvalidInput("a group of cases to edit together must hold at least one case");
    const long nCases = long(cases.size());
    const long perShard = long(group);
    std::vector<CaseOutcome> outcomes(cases.size());
    cluster::ShardJob job;
    job.stage = "edit and evaluate";
    job.shards = cluster::shardCount(nCases, perShard);
    job.units = [&](int shard) { return std::min(perShard, nCases - shard * perShard); };
    job.compute = [&](int shard) {
        const size_t begin = size_t(shard * perShard), end = begin + size_t(job.units(shard));
        std::vector<EditRequest> requests;
        std::vector<CaseOutcome> done(end - begin);
        std::vector<RoutingSnapshot> routingBefore;
        for (size_t i = begin; i < end; ++i) {
            requests.push_back({cases[i].prompt, cases[i].subject, cases[i].targetNew, cases[i].targetTrue});
            done[i - begin].unedited = evaluateCase(model, cases[i], options);
            if (model.config.moe()) routingBefore.push_back(routingSnapshot(model, routedPrompts(cases[i])));
        }
        const std::vector<int> layers = edit(model, requests);
        try {
            for (size_t i = begin; i < end; ++i) {
                done[i - begin].edited = evaluateCase(model, cases[i], options);
                done[i - begin].layers = layers;
                if (model.config.moe())
                    done[i - begin].routing = caseRouting(model, cases[i], routingBefore[i - begin],
                                                          routingSnapshot(model, routedPrompts(cases[i])));
            }
        } catch (...) {
            undoLastEdit(model);  // the next shard on this rank starts from the unedited model
            throw;
        }
        undoLastEdit(model);
        cluster::ByteWriter w;
        for (const CaseOutcome& o : done) {
            putCase(w, o.unedited);
            putCase(w, o.edited);
            w.put(o.layers);
            putRouting(w, o.routing);
        }
        return w.take();
    };
    job.consume = [&](int shard, std::string_view bytes) {
        cluster::ByteReader in(bytes, "shard " + std::to_string(shard) + " of the evaluated cases");
        for (long i = shard * perShard; i < shard * perShard + job.units(shard); ++i) {
            CaseOutcome& o = outcomes[size_t(i)];
            o.unedited = getCase(in);
            o.edited = getCase(in);
            o.layers = in.getVector<int>();
            o.routing = getRouting(in);
        }
    };
    cluster::ByteWriter caseText;
    for (const CounterFactCase& c : cases) {
        caseText.put<int32_t>(c.caseId);
        caseText.put(c.prompt);
        caseText.put(c.subject);
        caseText.put(c.targetNew);
        caseText.put(c.targetTrue);
        caseText.put(c.paraphrasePrompts);
        caseText.put(c.neighborhoodPrompts);
        caseText.put(c.generationPrompts);
    }
    nlohmann::json identity = {{"job", "evaluate edits"},
                               {"model", cluster::fileIdentity(model.path)},
                               {"cases", nCases},
                               {"cases_hash", cluster::hashBytes(caseText.bytes())},
                               {"cases_per_shard", perShard},
                               {"fluency", options.fluency},
                               {"generation_length", options.generationLength},
                               {"top_k", options.topK},
                               {"seed", options.seed},
                               {"generation_prompts", options.maxGenerationPrompts},
                               {"options", run.identity}};
    cluster::runShards(run.communicator(), job, progress, {run.checkpoint, identity});
    if (!run.communicator().isRoot()) return {};
    return outcomes;
}

}  // namespace mwb
