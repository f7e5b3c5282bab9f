// mwb eval-knowledge MODEL --facts F: how many known facts the model gets right
// (first token of the attribute, and the whole attribute by greedy decoding).
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "cluster/shard_job.h"
#include "editing/knowledge_eval.h"
#include "data/datasets.h"
#include "tensor/errors.h"

namespace mwb::cli {

void registerEvalKnowledge(CLI::App& app) {
    struct Opts {
        std::string model, facts, out, checkpoint;
        int limit = 0;
        bool json = false, verbose = false, byTemplate = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("eval-knowledge", "Top-1 accuracy of a model on a known-facts file");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--facts", o->facts, "Known facts (known_1000.json schema)")->required();
    cmd->add_option("--limit", o->limit, "Use only the first N facts (0: all)")->capture_default_str();
    cmd->add_flag("--verbose,-v", o->verbose, "List every fact");
    cmd->add_flag("--by-template", o->byTemplate,
                  "Accuracy per template, worst first, and the mean over templates");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_option("--out", o->out, "Also write the JSON result to this file");
    addCheckpointOption(cmd, o->checkpoint);
    cmd->callback([o] {
        const cluster::Communicator& comm = cluster::Communicator::world();
        cluster::runAgreed(comm, [&] {
            if (o->limit < 0) throw InvalidInput("--limit must not be negative");
            std::vector<KnownFact> facts = parseKnownFacts(readOnRoot(comm, o->facts), o->facts);
            if (o->limit > 0 && int(facts.size()) > o->limit) facts.resize(o->limit);
            const Model m = openModel(o->model);
            const KnowledgeAccuracy k =
                evaluateKnowledge(m, facts, progressBar(), {.comm = &comm, .checkpoint = o->checkpoint});
            if (!comm.isRoot()) return;
            nlohmann::json j = toJson(k);
            if (o->byTemplate) j["by_template"] = toJson(accuracyByTemplate(facts, k));
            if (!o->out.empty()) writeOutput(o->out, j.dump(1) + "\n");
            if (o->json) {
                printJson(j);
                return;
            }
            if (o->verbose)
                for (const FactPrediction& p : k.predictions)
                    std::printf("%s %s  %-40s -> %-16s (expected %s, p=%.3f)\n", p.firstTokenCorrect ? "ok " : "   ",
                                p.attributeCorrect ? "all" : "   ", p.prompt.c_str(),
                                nlohmann::json(p.predicted).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str(),
                                nlohmann::json(p.attribute).dump().c_str(), p.probAttribute);
            if (o->byTemplate) {
                const TemplateBreakdown b = accuracyByTemplate(facts, k);
                std::printf("%8s %8s %6s  %-8s %s\n", "top-1 %", "whole %", "facts", "relation", "template");
                for (const TemplateAccuracy& t : b.templates)
                    std::printf("%8.1f %8.1f %6d  %-8s %s\n", t.firstTokenAccuracy, t.attributeAccuracy, t.facts,
                                t.relationId.c_str(), t.templ.c_str());
                std::printf("mean over %zu templates: first-token accuracy %.2f%%, whole-attribute accuracy %.2f%%\n",
                            b.templates.size(), b.meanFirstTokenAccuracy, b.meanAttributeAccuracy);
            }
            std::printf("%d facts: first-token accuracy %.2f%%, whole-attribute accuracy (greedy) %.2f%%\n", k.facts,
                        k.firstTokenAccuracy, k.attributeAccuracy);
        });
    });
}

}  // namespace mwb::cli
