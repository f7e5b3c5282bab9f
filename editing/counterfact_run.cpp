// Groups of CounterFact cases edited and measured, shard by shard (counterfact_run.h).
#include "editing/counterfact_run.h"

#include <algorithm>

#include "cluster/bytes.h"
#include "editing/edit_history.h"

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

}  // namespace

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
        for (size_t i = begin; i < end; ++i) {
            requests.push_back({cases[i].prompt, cases[i].subject, cases[i].targetNew, cases[i].targetTrue});
            done[i - begin].unedited = evaluateCase(model, cases[i], options);
        }
        const std::vector<int> layers = edit(model, requests);
        try {
            for (size_t i = begin; i < end; ++i) {
                done[i - begin].edited = evaluateCase(model, cases[i], options);
                done[i - begin].layers = layers;
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
