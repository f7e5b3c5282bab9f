#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/cli/edit_support.h"
#include "cluster/shard_job.h"
#include "editing/counterfact_run.h"
#include "editing/edit_history.h"
#include "editing/evaluation.h"
#include "editing/second_moments.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"

namespace mwb::cli {

namespace {

void printMetrics(const char* label, const Metrics& m) {
    std::printf("%-10s efficacy %6.1f%%  paraphrase %6.1f%%  neighbourhood %6.1f%%  score %6.1f  fluency %.3f  (%d cases)\n",
                label, m.efficacy.mean, m.paraphrase.mean, m.neighborhood.mean, m.score, m.fluency.mean, m.cases);
}

}  // namespace

namespace {

struct EvalOpts {
    std::string model, cases, out, checkpoint;
    int limit = 0, batch = 0;
    bool sequential = false, json = false, noFluency = false, keepEditedNeighbours = false;
    EditOptions edit;
};

// The outcome of every case with the edits applied one after another to one model;
// one process (each edit needs the model the earlier ones left).
std::vector<CaseOutcome> evaluateSequence(Model& m, const std::vector<CounterFactCase>& cases, size_t group,
                                          const EvalOptions& eo, const GroupEdit& edit, const ProgressFn& progress) {
    std::vector<CaseOutcome> outcomes(cases.size());
    const std::vector<CaseMetrics> unedited = evaluateCases(m, cases, eo, progress);
    for (size_t start = 0; start < cases.size(); start += group) {
        report(progress, {static_cast<long>(start), static_cast<long>(cases.size()), "edit and evaluate"});
        const size_t end = std::min(cases.size(), start + group);
        std::vector<EditRequest> requests;
        for (size_t i = start; i < end; ++i)
            requests.push_back({cases[i].prompt, cases[i].subject, cases[i].targetNew, cases[i].targetTrue});
        const std::vector<int> layers = edit(m, requests);
        for (size_t i = start; i < end; ++i) outcomes[i] = {unedited[i], evaluateCase(m, cases[i], eo), layers, std::nullopt};
    }
    report(progress, {static_cast<long>(cases.size()), static_cast<long>(cases.size()), "edit and evaluate"});
    return outcomes;
}

// The work of `mwb eval`, on every rank of the job (inside cluster::runAgreed).
void runEval(EvalOpts& o, const std::string& options, const cluster::Communicator& comm) {
    auto cases = parseCounterFact(readOnRoot(comm, o.cases), o.cases);
    if (o.limit < 0) throw InvalidInput("--limit must not be negative");
    if (o.limit > 0 && static_cast<size_t>(o.limit) < cases.size()) cases.resize(o.limit);
    if (cases.empty()) throw InvalidInput(o.cases + " holds no cases");
    if (o.batch < 0) throw InvalidInput("--batch must be positive");
    if (o.sequential && comm.size() > 1)
        throw InvalidInput("--sequential edits one model case after case, which one process does; "
                           "run it without mpirun");
    const size_t group = o.batch > 0 ? static_cast<size_t>(o.batch) : 1;
    if (group > 1) o.edit.method = "memit";
    checkEditOptions(o.edit, loadConfig(o.model));  // before any work
    for (const auto& c : cases) validateRequest({c.prompt, c.subject, c.targetNew, c.targetTrue});
    const std::string corpus = cluster::agreedBroadcast(comm, [&] { return statisticsCorpus(o.edit); });
    // Neighbourhoods without the subjects edited together with the case: in its
    // batch, or anywhere in a sequence (which ends with all of them in the model).
    int dropped = 0;
    if (!o.keepEditedNeighbours && (group > 1 || o.sequential)) {
        const size_t run = o.sequential ? cases.size() : group;
        for (size_t start = 0; start < cases.size(); start += run) {
            const auto first = cases.begin() + long(start), last = cases.begin() + long(std::min(cases.size(), start + run));
            std::ranges::move(withoutEditedNeighbours({first, last}, &dropped), first);
        }
    }
    Model m = openModel(o.model);
    EvalOptions eo;
    eo.fluency = !o.noFluency;
    eo.maxGenerationPrompts = 1;
    const GroupEdit edit = [&](Model& model, const std::vector<EditRequest>& requests) {
        EditSpec spec = editSpec(model, requests, o.edit, true);
        runEdit(model, requests, spec, corpus);  // with --null-space, the model's earlier edits are kept (K_p)
        return spec.layers;
    };
    const auto progress = progressBar();
    const std::vector<CaseOutcome> outcomes =
        o.sequential ? evaluateSequence(m, cases, group, eo, edit, progress)
                     : evaluateEditGroups(m, cases, group, eo, edit, progress,
                                          {.comm = &comm, .checkpoint = o.checkpoint, .identity = options});
    if (!comm.isRoot()) return;
    std::vector<CaseMetrics> unedited, edited;
    for (const CaseOutcome& c : outcomes) {
        unedited.push_back(c.unedited);
        edited.push_back(c.edited);
    }
    // Sequential editing: also re-measure every case on the final model, which shows
    // whether later edits undid earlier ones.
    nlohmann::json j = {{"unedited", toJson(aggregate(unedited))}, {"edited", toJson(aggregate(edited))}};
    std::optional<Metrics> final;
    if (o.sequential) {
        final = aggregate(evaluateCases(m, cases, eo));
        j["final"] = toJson(*final);
    }
    nlohmann::json perCase = nlohmann::json::array();
    for (size_t i = 0; i < cases.size(); ++i) {
        perCase.push_back({{"case_id", cases[i].caseId}, {"layers", outcomes[i].layers},
                           {"unedited", toJson(unedited[i])}, {"edited", toJson(edited[i])}});
        if (outcomes[i].routing) perCase.back()["routing"] = toJson(*outcomes[i].routing);
    }
    j["cases"] = perCase;
    const std::optional<CaseRouting> routing = totalRouting(outcomes);
    if (routing) j["routing"] = toJson(*routing);
    j["method"] = o.edit.method;
    j["neighborhood_prompts_left_out"] = dropped;
    if (!o.out.empty()) writeOutput(o.out, j.dump(1) + "\n");
    if (o.json) { printJson(j); return; }
    if (dropped > 0)
        std::printf("(%d neighbourhood prompts left out: their subjects are edited in the same run; "
                    "--keep-edited-neighbours keeps them)\n", dropped);
    printMetrics("unedited", aggregate(unedited));
    printMetrics("edited", aggregate(edited));
    if (final) printMetrics("final", *final);
    if (routing)
        std::printf("routing: the edits changed the experts at %.1f%% of the rewrite prompts' (layer, token) places "
                    "(%d sparse layers at the subject's token in %zu cases) and at %.1f%% of the neighbourhood "
                    "prompts' (%d of %d prompts route differently somewhere)\n",
                    100.0 * double(routing->rewriteChanged) / double(std::max(1L, routing->rewritePlaces)),
                    routing->subjectLayersChanged, cases.size(),
                    100.0 * double(routing->neighbourChanged) / double(std::max(1L, routing->neighbourPlaces)),
                    routing->neighbourPromptsChanged, routing->neighbourPrompts);
}

}  // namespace

void registerEval(CLI::App& app) {
    auto o = std::make_shared<EvalOpts>();
    auto* cmd = app.add_subcommand(
        "eval", "CounterFact evaluation: edit each case and measure efficacy, paraphrase, neighbourhood, fluency");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--cases", o->cases, "CounterFact JSON file")->required();
    cmd->add_option("--limit", o->limit, "Only the first N cases");
    cmd->add_flag("--sequential", o->sequential, "Apply the edits one after another (default: each on the unedited model)");
    cmd->add_option("--batch", o->batch, "MEMIT: edit N cases at once");
    cmd->add_flag("--no-fluency", o->noFluency, "Skip the generations for fluency (faster)");
    cmd->add_flag("--keep-edited-neighbours", o->keepEditedNeighbours,
                  "With --batch or --sequential, also score neighbourhood prompts about subjects the run itself "
                  "edits in the same relation (left out by default: the run is meant to change them)");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_option("--out", o->out, "Also write the JSON result to this file");
    addCheckpointOption(cmd, o->checkpoint);
    addEditOptions(cmd, o->edit);
    cmd->callback([o, cmd] {
        // The options as given, for the checkpoint's manifest (the editing options are
        // part of the job; where its checkpoint and output go are not).
        std::string options;
        std::istringstream lines(cmd->config_to_str(false, false));
        for (std::string line; std::getline(lines, line);)
            if (line.rfind("checkpoint", 0) != 0 && line.rfind("out", 0) != 0 && line.rfind("json", 0) != 0)
                options += line + "\n";
        const cluster::Communicator& comm = cluster::Communicator::world();
        cluster::runAgreed(comm, [&] { runEval(*o, options, comm); });
    });
}

void registerUndo(CLI::App& app) {
    struct Opts { std::string model, out; bool inPlace = false, force = false; };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("undo", "Remove the last recorded edit, restoring the weights exactly");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--out", o->out, "Where to write the model");
    cmd->add_flag("--in-place", o->inPlace, "Overwrite the source model");
    cmd->add_flag("--force", o->force, "Overwrite --out if it exists");
    cmd->callback([o] {
        if (o->out.empty() == !o->inPlace) throw InvalidInput("give either --out FILE or --in-place");
        const std::string dest = o->inPlace ? o->model : o->out;
        const bool overwrite = o->inPlace || o->force;
        checkSaveTarget(dest, overwrite);
        Model m = openModel(o->model);
        const EditRecord r = undoLastEdit(m);
        saveModel(m, dest, StorageType::Float32, overwrite);
        linkCachedStatistics(o->model, dest);
        std::cerr << "undid " << r.method << " edit of \"" << r.subject << "\"; " << m.edits.size() << " edit(s) remain\n";
    });
}

}  // namespace mwb::cli
