// `mwb verify MODEL`: every tensor of a model file against its checksum, without
// loading the model. Exit code 0: intact, 3: damaged, 1: not a readable model file.
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "io/hdf5_model_file.h"

namespace mwb::cli {

namespace {
constexpr int kExitDamaged = 3;
}  // namespace

void registerVerify(CLI::App& app) {
    struct Opts { std::string model; bool json = false; };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("verify", "Check every tensor of a model file against its checksum");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->footer("Exit code: 0 when every checksum matches, 3 when a tensor is damaged, 1 on an error\n"
                "(not a model file). Tensors without a checksum (files written before checksums) are\n"
                "listed as unchecked.");
    cmd->callback([o] {
        const ChecksumReport r = verifyModelFile(o->model);
        if (o->json) {
            printJson({{"file", o->model}, {"checked", r.checked}, {"unchecked", r.unchecked},
                       {"damaged", r.damaged}, {"ok", r.damaged.empty()}});
        } else {
            for (const std::string& sentence : r.damaged) std::cerr << "mwb: " << sentence << "\n";
            if (!r.unchecked.empty())
                std::cerr << "note: " << o->model << ": " << r.unchecked.size() << " tensor(s) carry no checksum "
                          << "(a file written before checksums, or by another program), so damage to them "
                          << "cannot be detected; saving the model again adds them\n";
            if (r.damaged.empty())
                std::cout << o->model << ": " << r.checked << " tensor(s) match their checksums\n";
        }
        std::cout.flush();
        if (!r.damaged.empty()) throw CLI::RuntimeError(kExitDamaged);
    });
}

}  // namespace mwb::cli
