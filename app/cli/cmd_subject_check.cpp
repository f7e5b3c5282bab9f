// mwb subject-check MODEL --facts F: noise on the residual stream at the subject's
// last token, entering early layers; how often it removes most of the answer.
#include <cstdio>

#include "analysis/subject_corruption.h"
#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "data/datasets.h"
#include "tensor/errors.h"

namespace mwb::cli {

void registerSubjectCheck(CLI::App& app) {
    struct Opts {
        std::string model, facts;
        int limit = 0;
        double noise = 0.0;
        bool json = false;
        SubjectCorruptionParams p;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "subject-check", "Corrupt the residual at the subject's last token in early layers: is the fact looked up there?");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--facts", o->facts, "Known facts (known_1000.json schema)")->required();
    cmd->add_option("--layers", o->p.layers, "Residual entering these layers (0: the embedding)")->delimiter(',')->capture_default_str();
    cmd->add_option("--samples", o->p.samples, "Noise samples per fact")->capture_default_str();
    cmd->add_option("--noise", o->noise, "Noise standard deviation for every layer (default: 3 x std of the residual entering each layer)");
    cmd->add_option("--seed", o->p.seed, "Noise seed")->capture_default_str();
    cmd->add_option("--limit", o->limit, "Use only the first N facts (0: all)")->capture_default_str();
    cmd->add_flag("--keep-wrong", [o](int64_t) { o->p.skipWrong = false; }, "Also check facts the model gets wrong");
    cmd->add_flag("--whole-subject", o->p.wholeSubject,
                  "Noise on every subject token, not only the last (where does what survives come from?)");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o] {
        if (o->limit < 0) throw InvalidInput("--limit must not be negative");
        if (o->noise < 0) throw InvalidInput("--noise must not be negative");
        if (o->noise > 0) o->p.noise = o->noise;
        std::vector<KnownFact> facts = loadKnownFacts(o->facts);
        if (o->limit > 0 && int(facts.size()) > o->limit) facts.resize(o->limit);
        const Model m = openModel(o->model);
        const SubjectCorruptionResult r = corruptSubjects(m, facts, o->p, progressBar());
        if (o->json) {
            printJson(toJson(r));
            return;
        }
        std::printf("%zu facts (%d skipped: wrong top-1), noise on %s: %s, %d samples\n", r.facts.size(),
                    r.skipped, r.params.wholeSubject ? "every subject token" : "the subject's last token",
                    r.noiseSource.c_str(), r.params.samples);
        for (size_t l = 0; l < r.params.layers.size(); ++l)
            std::printf("layer %d (sigma %.3g): the answer loses more than half its probability in %.1f%% of facts; "
                        "mean kept %.3f\n",
                        r.params.layers[l], r.sigma[l], 100.0 * r.fractionRemoved[l], r.meanKept[l]);
        std::printf("%d of the %zu facts depend on the subject (noise on all its embeddings removes more than "
                    "half of p); among them:\n",
                    r.dependentFacts, r.facts.size());
        for (size_t l = 0; l < r.params.layers.size(); ++l)
            std::printf("layer %d: %.1f%%\n", r.params.layers[l], 100.0 * r.fractionRemovedDependent[l]);
    });
}

}  // namespace mwb::cli
