#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "tensor/errors.h"
#include "io/hdf5_model_file.h"
#include "model/random_init.h"

namespace mwb::cli {

void registerInit(CLI::App& app) {
    struct Opts {
        std::string shape = "gpt2-small", out, arch, dtype = "float32", name;
        uint64_t seed = 0;
        int layers = 0, heads = 0, kvHeads = 0, dModel = 0, dFf = 0, vocab = 0, ctx = 0;
        bool force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("init", "Write a randomly initialised model of a named or custom shape");
    std::string shapes;
    for (const auto& s : shapeNames()) shapes += (shapes.empty() ? "" : ", ") + s;
    cmd->add_option("--shape", o->shape, "Named shape: " + shapes)->capture_default_str();
    cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
    cmd->add_option("--out", o->out, "Output file (.h5)")->required();
    cmd->add_option("--arch", o->arch, "Override the architecture (gpt2, llama, gptj, gpt_neox, qwen3, gemma2, phi3, olmo2 or olmoe)");
    cmd->add_option("--layers", o->layers, "Override the number of layers");
    cmd->add_option("--heads", o->heads, "Override the number of attention heads");
    cmd->add_option("--kv-heads", o->kvHeads, "Override the number of key/value heads");
    cmd->add_option("--d-model", o->dModel, "Override the model width");
    cmd->add_option("--d-ff", o->dFf, "Override the MLP width");
    cmd->add_option("--vocab", o->vocab, "Override the vocabulary size");
    cmd->add_option("--ctx", o->ctx, "Override the context length");
    cmd->add_option("--name", o->name, "Name stored in the file");
    cmd->add_option("--dtype", o->dtype, "Storage type: float32, float16 or float64")->capture_default_str();
    cmd->add_flag("--force", o->force, "Overwrite an existing output file");
    cmd->callback([o] {
        ModelConfig c = namedShape(o->shape);
        if (!o->arch.empty()) {
            c.architecture = parseArchitecture(o->arch);
            c.activation = defaultActivation(c.architecture);
            c.tieEmbeddings = !c.gatedMlp();
        }
        auto set = [](int& field, int value) { if (value) field = value; };
        set(c.nLayers, o->layers);
        set(c.nHeads, o->heads);
        c.nKvHeads = o->kvHeads ? o->kvHeads : (o->heads && !c.gatedMlp() ? o->heads : c.nKvHeads);
        if (o->heads && c.nKvHeads > c.nHeads) c.nKvHeads = c.nHeads;
        set(c.dModel, o->dModel);
        set(c.dFf, o->dFf);
        set(c.vocabSize, o->vocab);
        set(c.nCtx, o->ctx);
        if (!o->name.empty()) c.name = o->name;
        if (auto problem = configProblem(c); !problem.empty()) throw InvalidInput(problem);
        StorageType storage = StorageType::Float32;
        if (o->dtype == "float16") storage = StorageType::Float16;
        else if (o->dtype == "float64") storage = StorageType::Float64;
        else if (o->dtype != "float32") throw InvalidInput("unknown --dtype " + quote(o->dtype) + " (float32, float16 or float64)");
        checkSaveTarget(o->out, o->force);  // before drawing what may be gigabytes of weights
        // Drawn in float32 and rounded either way; keeping the rounded weights in float16
        // from the start lets a 7B model be written without a float32 copy in memory.
        const Model m = randomModel(c, o->seed,
                                    storage == StorageType::Float16 ? WeightPrecision::Float16 : WeightPrecision::Float32);
        saveModel(m, o->out, storage, o->force);
        std::cerr << "wrote " << o->out << ": " << c.nLayers << " layers, d_model " << c.dModel
                  << ", " << c.parameterCount() << " parameters\n";
    });
}

}  // namespace mwb::cli
