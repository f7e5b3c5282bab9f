// `mwb import hf DIR`, `mwb import gguf FILE` and `mwb import llama2c FILE`: convert a
// Hugging Face folder, a llama.cpp GGUF file or a llama2.c checkpoint into a model file.
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "tensor/errors.h"
#include "io/import_gguf.h"
#include "io/import_hf.h"
#include "io/import_llama2c.h"
#include "io/hdf5_model_file.h"

namespace mwb::cli {

namespace {

struct ImportOpts {
    std::string source, tokenizer, out, dtype = "float32";
    bool force = false, json = false;
};

void addOutputOptions(CLI::App* cmd, ImportOpts& o) {
    cmd->add_option("--out", o.out, "Output model file (.h5)")->required();
    cmd->add_option("--dtype", o.dtype, "Storage type of the weights: float32 or float16")
        ->capture_default_str();
    cmd->add_flag("--force", o.force, "Overwrite an existing output file");
    cmd->add_flag("--json", o.json, "Print what was written as JSON");
}

// Checked, with the output path, before the (possibly long) conversion starts.
StorageType storageType(const std::string& dtype) {
    if (dtype == "float32") return StorageType::Float32;
    if (dtype == "float16") return StorageType::Float16;
    throw InvalidInput("unknown --dtype " + quote(dtype) + " (float32 or float16)");
}

// float16 output: keep the weights that may be kept so in float16 while importing, so that
// a large model needs less memory than its float32 weights.
WeightPrecision weightPrecision(StorageType storage) {
    return storage == StorageType::Float16 ? WeightPrecision::Float16 : WeightPrecision::Float32;
}

void save(const ImportedModel& imported, const ImportOpts& o, StorageType storage) {
    for (const std::string& w : imported.warnings) std::cerr << "warning: " << w << "\n";
    for (const std::string& n : imported.notes) std::cerr << "note: " << n << "\n";
    saveModel(imported.model, o.out, storage, o.force);
    const ModelConfig& c = imported.model.config;
    if (o.json) {
        printJson({{"out", o.out}, {"architecture", toString(c.architecture)}, {"layers", c.nLayers},
                   {"d_model", c.dModel}, {"vocab_size", c.vocabSize}, {"parameters", c.parameterCount()},
                   {"warnings", imported.warnings}});
        return;
    }
    std::cerr << "wrote " << o.out << ": " << toString(c.architecture) << ", " << c.nLayers
              << " layers, d_model " << c.dModel << ", vocabulary " << c.vocabSize << ", "
              << c.parameterCount() << " parameters\n";
}

}  // namespace

void registerImport(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "import",
        "Convert a Hugging Face folder, a GGUF file or a llama2.c checkpoint into a model file");
    cmd->require_subcommand(1);

    auto hfOpts = std::make_shared<ImportOpts>();
    auto* hf = cmd->add_subcommand(
        "hf", "Import a Hugging Face GPT-2 or Llama folder (config.json, safetensors, tokenizer)");
    hf->add_option("dir", hfOpts->source, "Model folder")->required();
    addOutputOptions(hf, *hfOpts);
    hf->callback([hfOpts] {
        const StorageType storage = storageType(hfOpts->dtype);
        checkSaveTarget(hfOpts->out, hfOpts->force);
        save(importHf(hfOpts->source, progressBar(), weightPrecision(storage)), *hfOpts, storage);
    });

    auto ggufOpts = std::make_shared<ImportOpts>();
    auto* gguf = cmd->add_subcommand(
        "gguf", "Import a llama.cpp GGUF file (llama, qwen2, qwen3, gemma2, phi3, olmo2, gptneox or gpt2; F32, F16, BF16, Q4_0 .. Q8_0, "
                "Q2_K .. Q6_K tensors)");
    gguf->add_option("file", ggufOpts->source, "GGUF file")->required();
    addOutputOptions(gguf, *ggufOpts);
    gguf->callback([ggufOpts] {
        const StorageType storage = storageType(ggufOpts->dtype);
        checkSaveTarget(ggufOpts->out, ggufOpts->force);
        save(importGguf(ggufOpts->source, progressBar(), weightPrecision(storage)), *ggufOpts, storage);
    });

    auto l2cOpts = std::make_shared<ImportOpts>();
    auto* l2c = cmd->add_subcommand(
        "llama2c", "Import a llama2.c checkpoint (legacy format) and its tokenizer.bin");
    l2c->add_option("checkpoint", l2cOpts->source, "llama2.c model.bin")->required();
    l2c->add_option("--tokenizer", l2cOpts->tokenizer,
                    "llama2.c tokenizer.bin (else byte pieces and placeholders)");
    addOutputOptions(l2c, *l2cOpts);
    l2c->callback([l2cOpts] {
        const StorageType storage = storageType(l2cOpts->dtype);
        checkSaveTarget(l2cOpts->out, l2cOpts->force);
        save(importLlama2c(l2cOpts->source, l2cOpts->tokenizer, progressBar()), *l2cOpts, storage);
    });
}

}  // namespace mwb::cli
