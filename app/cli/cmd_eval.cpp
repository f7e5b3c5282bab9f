#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/cli/edit_support.h"
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

void registerEval(CLI::App& app) {
    struct Opts {
        std::string model, cases;
        int limit = 0, batch = 0;
        bool sequential = false, json = false, noFluency = false, keepEditedNeighbours = false;
        EditOptions edit;
    };
    auto o = std::make_shared<Opts>();
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
    addEditOptions(cmd, o->edit);
    cmd->callback([o] {
        auto cases = loadCounterFact(o->cases);
        if (o->limit < 0) throw InvalidInput("--limit must not be negative");
        if (o->limit > 0 && static_cast<size_t>(o->limit) < cases.size()) cases.resize(o->limit);
        if (cases.empty()) throw InvalidInput(o->cases + " holds no cases");
        if (o->batch < 0) throw InvalidInput("--batch must be positive");
        const size_t group = o->batch > 0 ? static_cast<size_t>(o->batch) : 1;
        if (group > 1) o->edit.method = "memit";
        checkEditOptions(o->edit, loadConfig(o->model));  // before any work
        for (const auto& c : cases) validateRequest({c.prompt, c.subject, c.targetNew, c.targetTrue});
        const std::string corpus = statisticsCorpus(o->edit);
        // Neighbourhoods without the subjects edited together with the case: in its
        // batch, or anywhere in a sequence (which ends with all of them in the model).
        int dropped = 0;
        if (!o->keepEditedNeighbours && (group > 1 || o->sequential)) {
            const size_t run = o->sequential ? cases.size() : group;
            for (size_t start = 0; start < cases.size(); start += run) {
                const auto first = cases.begin() + long(start), last = cases.begin() + long(std::min(cases.size(), start + run));
                std::ranges::move(withoutEditedNeighbours({first, last}, &dropped), first);
            }
        }
        Model m = openModel(o->model);
        EvalOptions eo;
        eo.fluency = !o->noFluency;
        eo.maxGenerationPrompts = 1;
        const auto progress = progressBar();
        const std::vector<CaseMetrics> unedited = evaluateCases(m, cases, eo, progress);
        std::vector<CaseMetrics> edited;
        std::vector<std::vector<int>> editedLayers;  // per case: the layers its edit changed
        for (size_t start = 0; start < cases.size(); start += group) {
            report(progress, {static_cast<long>(start), static_cast<long>(cases.size()), "edit and evaluate"});
            const size_t end = std::min(cases.size(), start + group);
            std::vector<EditRequest> requests;
            for (size_t i = start; i < end; ++i)
                requests.push_back({cases[i].prompt, cases[i].subject, cases[i].targetNew, cases[i].targetTrue});
            EditSpec spec = editSpec(m, requests, o->edit, true);
            runEdit(m, requests, spec, corpus);  // with --null-space, the model's earlier edits are kept (K_p)
            for (size_t i = start; i < end; ++i) {
                edited.push_back(evaluateCase(m, cases[i], eo));
                editedLayers.push_back(spec.layers);
            }
            if (!o->sequential) undoLastEdit(m);
        }
        report(progress, {static_cast<long>(cases.size()), static_cast<long>(cases.size()), "edit and evaluate"});
        // Sequential editing: also re-measure every case on the final model, which shows
        // whether later edits undid earlier ones.
        nlohmann::json j = {{"unedited", toJson(aggregate(unedited))}, {"edited", toJson(aggregate(edited))}};
        std::optional<Metrics> final;
        if (o->sequential) {
            final = aggregate(evaluateCases(m, cases, eo));
            j["final"] = toJson(*final);
        }
        nlohmann::json perCase = nlohmann::json::array();
        for (size_t i = 0; i < cases.size(); ++i)
            perCase.push_back({{"case_id", cases[i].caseId}, {"layers", editedLayers[i]},
                               {"unedited", toJson(unedited[i])}, {"edited", toJson(edited[i])}});
        j["cases"] = perCase;
        j["method"] = o->edit.method;
        j["neighborhood_prompts_left_out"] = dropped;
        if (o->json) { printJson(j); return; }
        if (dropped > 0)
            std::printf("(%d neighbourhood prompts left out: their subjects are edited in the same run; "
                        "--keep-edited-neighbours keeps them)\n", dropped);
        printMetrics("unedited", aggregate(unedited));
        printMetrics("edited", aggregate(edited));
        if (final) printMetrics("final", *final);
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
