#include <cstdio>
#include <iostream>
#include <optional>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "editing/edit_guard.h"
#include "editing/routing_change.h"
#include "app/cli/edit_support.h"
#include "editing/second_moments.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "model/transformer.h"

namespace mwb::cli {

namespace {

nlohmann::json topTokens(const Model& m, const std::string& prompt, int k) {
    const Transformer t(m);
    const Vector p = softmax(t.run(promptIds(m, prompt)).lastLogits());
    std::vector<int> order(p.size());
    for (int i = 0; i < p.size(); ++i) order[i] = i;
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) { return p[a] > p[b]; });
    nlohmann::json out = nlohmann::json::array();
    for (int i = 0; i < k; ++i) out.push_back({{"token", m.tokenizer.tokenDisplay(order[i])}, {"prob", p[order[i]]}});
    return out;
}

void printSideBySide(const nlohmann::json& before, const nlohmann::json& after) {
    std::printf("%-32s %s\n", "before", "after");
    for (size_t i = 0; i < before.size(); ++i) {
        char l[64], r[64];
        std::snprintf(l, sizeof l, "%-20s %6.2f%%", before[i]["token"].dump().c_str(), 100 * before[i]["prob"].get<double>());
        std::snprintf(r, sizeof r, "%-20s %6.2f%%", after[i]["token"].dump().c_str(), 100 * after[i]["prob"].get<double>());
        std::printf("%-32s %s\n", l, r);
    }
}

// Where the edit changed which experts a token of the prompt is routed to.
void printRoutingChange(const Model& m, const RoutingChange& change) {
    const PromptRoutingChange& p = change.prompts.at(0);
    std::printf("routing: the edit changed the experts of %zu of the prompt's %ld (layer, token) places\n",
                p.changes.size(), p.places);
    const std::vector<int> ids = m.tokenizer.encodeIds(p.prompt);
    auto list = [](const std::vector<int>& experts) {
        std::string s;
        for (int e : experts) s += (s.empty() ? std::string() : std::string(",")) + std::to_string(e);  // not "" + (GCC 12 -Wrestrict)
        return s;
    };
    for (const RoutingChangeAt& at : p.changes)
        std::printf("  layer %d, token %d %s: experts %s -> %s\n", at.layer, at.position,
                    nlohmann::json(m.tokenizer.tokenDisplay(ids.at(size_t(at.position)))).dump().c_str(),
                    list(at.before).c_str(), list(at.after).c_str());
}

}  // namespace

void registerEdit(CLI::App& app) {
    struct Opts {
        std::string model, prompt, subject, target, targetTrue, cases, out;
        int limit = 0;
        bool inPlace = false, force = false, json = false;
        EditOptions edit;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("edit", "Rewrite a fact with ROME, or many with MEMIT, and save the edited model");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--prompt", o->prompt, "Relation prompt with {} for the subject, e.g. \"{} is located in the city of\"");
    cmd->add_option("--subject", o->subject, "Subject, e.g. \"Eiffel Tower\"");
    cmd->add_option("--target", o->target, "New target, e.g. Rome");
    cmd->add_option("--target-true", o->targetTrue, "The current answer (recorded with the edit)");
    cmd->add_option("--cases", o->cases, "A CounterFact file: edit all its cases at once (MEMIT)");
    cmd->add_option("--limit", o->limit, "With --cases: only the first N");
    cmd->add_option("--out", o->out, "Where to write the edited model");
    cmd->add_flag("--in-place", o->inPlace, "Overwrite the source model");
    cmd->add_flag("--force", o->force, "Overwrite --out if it exists");
    cmd->add_flag("--json", o->json, "Print JSON");
    addEditOptions(cmd, o->edit);
    cmd->callback([o] {
        if (o->out.empty() && !o->inPlace) throw InvalidInput("give --out FILE for the edited model (or --in-place)");
        if (!o->out.empty() && o->inPlace) throw InvalidInput("--out and --in-place exclude each other");
        const std::string dest = o->inPlace ? o->model : o->out;
        checkSaveTarget(dest, o->inPlace || o->force);  // not after the edit's work
        std::vector<EditRequest> requests;
        if (!o->cases.empty()) {
            auto cases = loadCounterFact(o->cases);
            if (o->limit > 0 && static_cast<size_t>(o->limit) < cases.size()) cases.resize(o->limit);
            for (const auto& c : cases) requests.push_back({c.prompt, c.subject, c.targetNew, c.targetTrue});
            if (o->edit.method == "rome" && requests.size() > 1) o->edit.method = "memit";
        } else {
            if (o->prompt.empty() || o->subject.empty() || o->target.empty())
                throw InvalidInput("give --prompt, --subject and --target (or --cases FILE)");
            requests.push_back({o->prompt, o->subject, o->target, o->targetTrue});
        }
        // Every argument is checked before any work: the layers against the model's
        // shape as soon as it is known, the requests before the model is even loaded.
        for (const EditRequest& r : requests) validateRequest(r);
        checkEditOptions(o->edit, loadConfig(o->model));
        const std::string corpus = statisticsCorpus(o->edit);  // a missing --corpus before the tracing
        Model m = openModel(o->model);
        const EditSpec spec = editSpec(m, requests, o->edit, o->json);
        const std::string shown = fillTemplate(requests[0].prompt, requests[0].subject);
        const auto before = topTokens(m, shown, 5);
        std::optional<RoutingSnapshot> routingBefore;
        if (m.config.moe()) routingBefore = routingSnapshot(m, {shown});
        const std::string sample = o->edit.guardTokens > 0 ? guardSample() : std::string();
        const auto [run, guard] = runGuardedEdit(m, requests, spec, corpus, sample,
                                                 o->edit.guardTokens, o->json ? ProgressFn{} : progressBar());
        const auto after = topTokens(m, shown, 5);
        std::optional<RoutingChange> routing;
        if (routingBefore) routing = routingChange(*routingBefore, routingSnapshot(m, {shown}), m.config);
        saveModel(m, dest, StorageType::Float32, o->inPlace || o->force);
        linkCachedStatistics(o->model, dest);
        if (o->json) {
            printJson({{"prompt", shown}, {"before", before}, {"after", after}, {"layers", run.record.layers},
                       {"method", o->edit.method}, {"edit", run.details}, {"guard", toJson(guard)},
                       {"out", dest}, {"edits_recorded", m.edits.size()},
                       {"experts", run.record.experts},
                       {"routing_change", routing ? toJson(*routing) : nlohmann::json(nullptr)}});
        } else {
            std::printf("%s\n", shown.c_str());
            printSideBySide(before, after);
            std::printf("\n%s at layer(s)", o->edit.method.c_str());
            for (int l : run.record.layers) std::printf(" %d", l);
            if (run.details.contains("expert"))
                std::printf(", expert %d (mixing weight %.3f at the subject's token)", run.details["expert"].get<int>(),
                            run.details["mixing_weight"].get<double>());
            std::printf("; ||ΔW||/||W|| = %.4f; output change on ordinary text %.4f", guard.weightChange,
                        guard.outputChange);
            if (guard.perplexityBefore > 0)  // 0: no held-out sample (--guard-tokens 0)
                std::printf("; held-out perplexity %.3f -> %.3f", guard.perplexityBefore, guard.perplexityAfter);
            std::printf("\n");
            if (routing) printRoutingChange(m, *routing);
            std::printf("wrote %s (%zu edit(s) recorded)\n", dest.c_str(), m.edits.size());
        }
        if (guard.destructive) std::cerr << "warning: " << guard.warning << "\n";
    });
}

}  // namespace mwb::cli
