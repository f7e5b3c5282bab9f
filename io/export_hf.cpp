// Model -> Hugging Face folder (see export_hf.h).
#include "io/export_hf.h"

#include <map>
#include <span>
#include <vector>

#include "tensor/atomic_file.h"
#include "tensor/errors.h"
#include "io/hf_config.h"
#include "io/hf_layout.h"
#include "io/hf_tokenizer.h"

namespace mwb {

namespace fs = std::filesystem;

void exportHf(const Model& model, const fs::path& dir, const ExportOptions& options,
              const ProgressFn& progress) {
    const ModelConfig& c = model.config;
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
        throw InvalidInput(dir.string() + " exists and is not a folder");
    if (fs::is_directory(dir, ec) && !fs::is_empty(dir, ec) && !options.force)
        throw InvalidInput(dir.string() +
                           " is a folder that is not empty; writing into it needs --force");
    // Everything that can fail without touching the disk comes first.
    if (hasHalfWeights(model.weights))  // the writer points into float32 tensors
        throw InvalidInput("cannot export a model whose weights are kept in float16 in memory (load it with --weights float32)");
    const std::vector<HfTensor> tensors = hfTensors(c);
    const std::vector<TextFile> tokenizerFiles = hfTokenizerFiles(model.tokenizer.spec());
    const TokenizerSpec& spec = model.tokenizer.spec();
    const std::string config =
        hfConfigJson(c, spec.bosId, spec.eosId, options.dtype).dump(2) + "\n";

    std::map<std::string, std::span<const float>> views;
    forEachTensor(c, model.weights, [&](const std::string& path, const auto& t) {
        views[path] = std::span<const float>(t.data(), size_t(t.size()));
    });
    // Tensors stored as they are point into the model; transposed or fused ones
    // (GPT-2's Conv1D and c_attn) are assembled in `owned`.
    std::vector<std::vector<float>> owned;
    std::vector<SafetensorToWrite> toWrite;
    for (size_t k = 0; k < tensors.size(); ++k) {
        report(progress, {long(k), long(tensors.size()), "preparing tensors"});
        const HfTensor& t = tensors[k];
        if (!t.transposed && t.parts.size() == 1) {
            toWrite.push_back({t.name, t.shape, views.at(t.parts[0]).data()});
            continue;
        }
        const auto [outDim, inDim] = hfRowsAndColumns(t);
        std::vector<float>& buffer = owned.emplace_back(size_t(outDim * inDim));
        int64_t rowOffset = 0;
        for (size_t part = 0; part < t.parts.size(); ++part) {
            const std::span<const float> src = views.at(t.parts[part]);
            const int64_t rows = int64_t(src.size()) / inDim;
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t o = checkpointRow(t, part, rowOffset, r);
                for (int64_t i = 0; i < inDim; ++i)
                    buffer[size_t(t.transposed ? i * outDim + o : o * inDim + i)] = src[size_t(r * inDim + i)];
            }
            rowOffset += rows;
        }
        MWB_CHECK(rowOffset == outDim);
        toWrite.push_back({t.name, t.shape, buffer.data()});
    }

    const bool createdFolder = !fs::exists(dir, ec);
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir)) throw Error("cannot create the folder " + dir.string());
    // A failure (a full disk) leaves no half of a folder: the files this export wrote are
    // removed (a file it failed to replace is kept as it was), and the folder when this
    // export made it.
    std::vector<fs::path> written;
    try {
        report(progress, {0, 1, "writing model.safetensors"});
        writeSafetensors(dir / "model.safetensors", toWrite, options.dtype);
        written.push_back(dir / "model.safetensors");
        writeFileAtomically(dir / "config.json", config);
        written.push_back(dir / "config.json");
        for (const TextFile& f : tokenizerFiles) {
            writeFileAtomically(dir / f.name, f.content);
            written.push_back(dir / f.name);
        }
    } catch (...) {
        for (const fs::path& file : written) fs::remove(file, ec);
        if (createdFolder) fs::remove(dir, ec);  // only when empty
        throw;
    }
    report(progress, {1, 1, "writing model.safetensors"});
}

}  // namespace mwb
