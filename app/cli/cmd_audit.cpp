// mwb audit MODEL: was a fact written into this file's weights? Judged from the
// weights alone (editing/audit/edit_audit.h); the file's edit records are reported
// beside the judgement, not used for it. --reverse --out removes what it found.
#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/cli/edit_support.h"
#include "data/datasets.h"
#include "editing/audit/edit_audit.h"
#include "io/hdf5_model_file.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {

void printText(const AuditResult& r, const std::string& file) {
    std::printf("%s: %s\nscore %.2f (flagged from %.1f)\n\n", file.c_str(), r.verdict.c_str(), r.score,
                AuditOptions{}.flagThreshold);
    std::printf("  layer  tensor     score  flagged  rank  log(mu1/median)  log(mu1/mu2)\n");
    for (const AuditFinding& f : r.findings) {
        std::printf("  %5d  %-9s %6.2f  %-7s  %4d  %15.3f  %12.3f", f.layer, f.tensor.c_str(), f.score,
                    f.flagged ? "yes" : "no", f.estimatedRank, f.topRatio, f.gapRatio);
        if (f.sharedWith >= 0) std::printf("  (shares layer %d's edit directions)", f.sharedWith);
        std::printf("\n");
    }
    if (!r.suspectedTargets.empty()) {
        std::printf("\n%s targets (what the top finding pushes the model to say):",
                    r.edited ? "suspected" : "if it were an edit, its");
        for (size_t i = 0; i < r.suspectedTargets.size() && i < 10; ++i)
            std::printf("%s %s", i ? "," : "", r.suspectedTargets[i].token.c_str());
        std::printf("\n");
    }
    if (!r.suspectedSubjects.empty()) {
        std::printf("keys it answers best in the corpus (candidate subjects):\n");
        for (size_t i = 0; i < r.suspectedSubjects.size() && i < 5; ++i)
            std::printf("  %6.1f  %s  (\"...%s\")\n", r.suspectedSubjects[i].score,
                        r.suspectedSubjects[i].token.c_str(), r.suspectedSubjects[i].context.c_str());
    }
    if (r.recordedEdits > 0) {
        std::printf("\nThe file records %d edit(s) (not used for the judgement), at layer(s)", r.recordedEdits);
        for (int l : r.recordedLayers) std::printf(" %d", l);
        std::printf(".\n");
    }
}

}  // namespace

void registerAudit(CLI::App& app) {
    struct Opts {
        std::string model, corpus, facts, out;
        long tokens = AuditOptions{}.statsTokens;
        bool json = false, reverse = false, force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("audit", "Judge from the weights alone whether a fact was edited into the model");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--corpus", o->corpus, "Ordinary text for the statistics (default: the bundled corpus)");
    cmd->add_option("--tokens", o->tokens, "Tokens of it to use")->capture_default_str();
    cmd->add_option("--facts", o->facts, "Fact prompts to decode suspected targets with (default: the bundled facts)");
    cmd->add_flag("--reverse", o->reverse, "Remove what the audit flags and write the result to --out");
    cmd->add_option("--out", o->out, "With --reverse: where to write the reversed model");
    cmd->add_flag("--force", o->force, "Overwrite --out if it exists");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->footer("Exit code 0 whatever the verdict (it is in the output), 1 on an error.\n"
                "The method and its measured accuracy: docs/audit.md.");
    cmd->callback([o] {
        if (o->tokens < 1) throw InvalidInput("--tokens must be positive");
        if (o->reverse && o->out.empty()) throw InvalidInput("--reverse needs --out FILE for the reversed model");
        if (!o->reverse && !o->out.empty()) throw InvalidInput("--out is for --reverse");
        if (o->reverse) checkSaveTarget(o->out, o->force);
        AuditOptions options;
        options.statsTokens = o->tokens;
        const std::string path = o->corpus.empty() ? bundledResource("data/corpus.txt") : o->corpus;
        if (path.empty()) throw InvalidInput("give a text file with --corpus");
        options.corpusText = readTextFile(path);
        const std::string factsPath = o->facts.empty() ? bundledResource("data/facts.json") : o->facts;
        if (!factsPath.empty()) options.carriers = carriersFromFacts(loadKnownFacts(factsPath));
        Model m = openModel(o->model);
        const AuditResult r = auditModel(m, options, o->json ? ProgressFn{} : progressBar());
        nlohmann::json j = toJson(r);
        int reversed = 0;
        if (o->reverse) {
            reversed = reverseEdits(m, r);
            saveModel(m, o->out, StorageType::Float32, o->force);
            j["reversed"] = {{"out", o->out}, {"layers_changed", reversed}};
        }
        if (o->json) {
            printJson(j);
            return;
        }
        printText(r, o->model);
        if (o->reverse)
            std::printf("\nwrote %s: %d layer(s) reversed%s\n", o->out.c_str(), reversed,
                        reversed ? " (recorded as an edit: mwb undo restores them)" : "; nothing was flagged");
    });
}

}  // namespace mwb::cli
