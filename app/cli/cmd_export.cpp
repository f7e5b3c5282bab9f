// `mwb export hf MODEL DIR`: write a model as a Hugging Face folder.
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "tensor/errors.h"
#include "io/export_hf.h"

namespace mwb::cli {

void registerExport(CLI::App& app) {
    struct Opts {
        std::string model, dir, dtype = "float32";
        bool force = false, json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("export", "Write a model in another format");
    cmd->require_subcommand(1);
    auto* hf = cmd->add_subcommand(
        "hf", "Write a Hugging Face folder (config.json, model.safetensors, tokenizer files)");
    hf->add_option("model", o->model, "Model file (.h5)")->required();
    hf->add_option("dir", o->dir, "Output folder")->required();
    hf->add_option("--dtype", o->dtype, "Tensor type: float32 (exact), float16 or bfloat16")
        ->capture_default_str();
    hf->add_flag("--force", o->force, "Write into an existing non-empty folder");
    hf->add_flag("--json", o->json, "Print what was written as JSON");
    hf->callback([o] {
        ExportOptions options;
        options.force = o->force;
        if (o->dtype == "float16")
            options.dtype = TensorDtype::F16;
        else if (o->dtype == "bfloat16")
            options.dtype = TensorDtype::BF16;
        else if (o->dtype != "float32")
            throw InvalidInput("unknown --dtype " + quote(o->dtype) + " (float32, float16 or bfloat16)");
        const Model m = openModel(o->model);
        exportHf(m, o->dir, options, progressBar());
        if (o->json) {
            printJson({{"dir", o->dir}, {"dtype", o->dtype}, {"edits_in_weights", m.edits.size()}});
            return;
        }
        if (!m.edits.empty())
            std::cerr << "note: the " << m.edits.size()
                      << " recorded edit(s) are part of the exported weights; "
                      << "the edit record itself is not exported\n";
        std::cerr << "wrote " << o->dir << " (config.json, model.safetensors, tokenizer files)\n";
    });
}

}  // namespace mwb::cli
