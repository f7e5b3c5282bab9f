#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "tensor/errors.h"
#include "model/generate.h"

namespace mwb::cli {

void registerGenerate(CLI::App& app) {
    struct Opts {
        std::string model, prompt;
        int maxNew = 32;
        GenerateOptions gen;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("generate", "Continue a prompt (greedy by default)");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--prompt", o->prompt, "Prompt text")->required();
    cmd->add_option("--max-new", o->maxNew, "Number of new tokens")->capture_default_str();
    cmd->add_option("--temperature", o->gen.sampling.temperature, "0 = greedy")->capture_default_str();
    cmd->add_option("--top-k", o->gen.sampling.topK, "Sample from the k most likely tokens (0 = all)");
    cmd->add_option("--top-p", o->gen.sampling.topP, "Nucleus sampling threshold (1 = off)");
    cmd->add_option("--seed", o->gen.sampling.seed, "Random seed for sampling");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o] {
        if (o->maxNew < 0) throw InvalidInput("--max-new must not be negative");
        if (o->gen.sampling.temperature < 0) throw InvalidInput("--temperature must not be negative");
        const Model m = openModel(o->model);
        const std::vector<int> input = promptIds(m, o->prompt);
        const Transformer t(m, nullptr, WeightPacking::Once);
        o->gen.maxNewTokens = o->maxNew;
        const Generation g = generate(t, input, o->gen, progressBar());
        const std::string text = generatedText(m.tokenizer, g);
        if (o->json) {
            printJson({{"prompt", o->prompt}, {"ids", g.newIds}, {"text", text},
                       {"stopped_at_eos", g.stoppedAtEos}, {"stopped_at_context", g.stoppedAtContext}});
            return;
        }
        std::cout << o->prompt << text << "\n";
        if (g.stoppedAtContext) std::cerr << "(stopped: the model's context is full)\n";
    });
}

}  // namespace mwb::cli
