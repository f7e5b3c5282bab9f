#include <cstdio>
#include <algorithm>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "tensor/errors.h"
#include "model/transformer.h"

namespace mwb::cli {

void registerPredict(CLI::App& app) {
    struct Opts { std::string model, prompt, ids; int top = 10; bool json = false; };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("predict", "The most likely next tokens after a prompt");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    auto* prompt = cmd->add_option("--prompt", o->prompt, "Prompt text");
    auto* ids = cmd->add_option("--ids", o->ids, "Prompt as token ids, e.g. 464,3290");
    prompt->excludes(ids);
    cmd->add_option("--top", o->top, "How many tokens to show")->capture_default_str();
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o, prompt, ids] {
        if (!*prompt && !*ids) throw InvalidInput("give the prompt with --prompt TEXT or --ids 1,2,3");
        if (o->top < 1) throw InvalidInput("--top must be at least 1");
        const Model m = openModel(o->model);
        const std::vector<int> input = *ids ? parseIds(o->ids) : promptIds(m, o->prompt);
        const Transformer t(m);
        const RunState s = t.run(input);
        const RowVector logits = s.lastLogits();
        const Vector p = softmax(logits);
        std::vector<int> order(p.size());
        for (int i = 0; i < p.size(); ++i) order[i] = i;
        const int k = std::min<int>(o->top, p.size());
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          [&](int a, int b) { return p[a] != p[b] ? p[a] > p[b] : a < b; });
        if (o->json) {
            nlohmann::json top = nlohmann::json::array();
            for (int i = 0; i < k; ++i)
                top.push_back({{"id", order[i]}, {"token", m.tokenizer.tokenDisplay(order[i])},
                               {"prob", p[order[i]]}, {"logit", logits[order[i]]}});
            printJson({{"ids", input}, {"top", top}});
            return;
        }
        std::cout << "next token after " << input.size() << " tokens:\n";
        for (int i = 0; i < k; ++i) {
            const std::string shown = nlohmann::json(m.tokenizer.tokenDisplay(order[i])).dump();
            std::printf("%3d. %-20s %7.2f%%  (id %d, logit %.3f)\n", i + 1, shown.c_str(),
                        100.0 * p[order[i]], order[i], logits[order[i]]);
        }
    });
}

}  // namespace mwb::cli
