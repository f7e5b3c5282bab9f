#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "tensor/errors.h"

namespace mwb::cli {

void registerTokenize(CLI::App& app) {
    struct Opts { std::string model, text; bool json = false; };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("tokenize", "Split text into the model's tokens");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_option("--text", o->text, "Text to tokenize")->required();
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o] {
        const Model m = openModel(o->model);
        if (o->text.empty()) throw InvalidInput("the text is empty");
        const Encoding e = m.tokenizer.encode(o->text);
        if (o->json) {
            nlohmann::json tokens = nlohmann::json::array(), offsets = nlohmann::json::array();
            for (int id : e.ids) tokens.push_back(m.tokenizer.tokenDisplay(id));
            for (auto [b, end] : e.offsets) offsets.push_back({b, end});
            printJson({{"ids", e.ids}, {"tokens", tokens}, {"offsets", offsets}});
            return;
        }
        for (size_t i = 0; i < e.ids.size(); ++i)
            std::cout << e.ids[i] << "\t[" << e.offsets[i].first << ", " << e.offsets[i].second << ")\t"
                      << nlohmann::json(m.tokenizer.tokenDisplay(e.ids[i])).dump() << "\n";
    });
}

}  // namespace mwb::cli
