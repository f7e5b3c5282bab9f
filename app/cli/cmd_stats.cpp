#include <cstdio>
#include <sstream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "io/hdf5_model_file.h"
#include "app/cli/edit_support.h"
#include "cluster/shard_job.h"
#include "editing/second_moments.h"
#include "data/datasets.h"
#include "tensor/errors.h"

namespace mwb::cli {

void registerStats(CLI::App& app) {
    struct Opts {
        std::string model, layers, corpus, checkpoint;
        long tokens = 100000, shardTokens = SecondMomentOptions{}.shardTokens;
        int expert = -1;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("stats", "Second moments E[k kᵀ] of MLP keys, or of each expert's (cached beside the model)");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--layers", o->layers, "Layers, e.g. 3,4 (default: all)");
    cmd->add_option("--expert", o->expert,
                    "In a mixture-of-experts layer, only this expert's keys (default: every expert's, each over "
                    "the tokens routed to it)");
    cmd->add_option("--corpus", o->corpus, "Text file (default: the bundled corpus)");
    cmd->add_option("--tokens", o->tokens, "Tokens to average over")->capture_default_str();
    cmd->add_option("--shard-tokens", o->shardTokens,
                    "Tokens per shard, the unit of work of an MPI job (part of the cache key)")
        ->capture_default_str();
    addCheckpointOption(cmd, o->checkpoint);
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o] {
        const cluster::Communicator& comm = cluster::Communicator::world();
        cluster::runAgreed(comm, [&] {
            if (o->tokens < 1) throw InvalidInput("--tokens must be positive");
            if (o->shardTokens < 1) throw InvalidInput("--shard-tokens must be positive");
            std::vector<int> layers = parseLayers(o->layers, "--layers", loadConfig(o->model));
            const Model m = openModel(o->model);
            if (layers.empty())
                for (int l = 0; l < m.config.nLayers; ++l) layers.push_back(l);
            const std::string path = o->corpus.empty() ? bundledResource("data/corpus.txt") : o->corpus;
            if (path.empty()) throw InvalidInput("give a text file with --corpus");
            SecondMomentOptions so;
            so.maxTokens = o->tokens;
            so.shardTokens = o->shardTokens;
            // A sparse layer's keys are its experts' (docs/mixture-of-experts.md, "Editing experts").
            checkExpertOption(o->expert, m.config);
            std::vector<KeySite> sites;
            for (int l : layers) {
                if (!m.config.moeLayer(l)) {
                    sites.push_back({l, -1});
                    continue;
                }
                for (int e = 0; e < m.config.nExperts; ++e)
                    if (o->expert < 0 || e == o->expert) sites.push_back({l, e});
            }
            const auto moments = keySecondMoments(m, sites, readOnRoot(comm, path), so, progressBar(),
                                                  {.comm = &comm, .checkpoint = o->checkpoint});
            if (!comm.isRoot()) return;
            nlohmann::json out = nlohmann::json::array();
            for (const auto& [site, s] : moments) {
                out.push_back({{"layer", site.layer}, {"tokens", s.tokens}, {"from_cache", s.fromCache},
                               {"trace", s.moment.trace()}});
                if (site.expert >= 0) out.back()["expert"] = site.expert;
                if (!o->json)
                    std::printf("layer %d%s: %ld tokens%s, trace %.4g\n", site.layer,
                                site.expert >= 0 ? (", expert " + std::to_string(site.expert)).c_str() : "", s.tokens,
                                s.fromCache ? " (cached)" : "", s.moment.trace());
            }
            if (o->json) printJson(out);
        });
    });
}

}  // namespace mwb::cli
