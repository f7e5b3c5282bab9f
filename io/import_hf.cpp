// Hugging Face folder -> Model (see import_hf.h).
#include "io/import_hf.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>

#include "tensor/errors.h"
#include "tensor/half_matrix.h"
#include "io/hf_config.h"
#include "io/hf_layout.h"
#include "io/hf_tokenizer.h"
#include "io/model_checks.h"
#include "io/safetensors.h"

namespace mwb {

namespace fs = std::filesystem;

namespace {

// The tensors of a checkpoint: model.safetensors, or the shards that
// model.safetensors.index.json names (as transformers, model.safetensors wins when both exist).
class CheckpointTensors {
public:
    explicit CheckpointTensors(const fs::path& dir) {
        const fs::path single = dir / "model.safetensors",
                       index = dir / "model.safetensors.index.json";
        if (fs::exists(single)) {
            m_source = single;
            m_files.push_back(std::make_unique<SafetensorsFile>(single));
            for (const std::string& name : m_files[0]->names()) m_fileOf[name] = 0;
        } else if (fs::exists(index)) {
            m_source = index;
            readIndex(dir, index);
        } else {
            throw ModelFormatError(
                dir, "", "holds no model.safetensors and no model.safetensors.index.json");
        }
    }

    // The file holding the first of `names` that exists, and that name.
    std::optional<std::pair<const SafetensorsFile*, std::string>> find(
        const std::vector<std::string>& names) const {
        for (const std::string& name : names)
            if (const auto it = m_fileOf.find(name); it != m_fileOf.end())
                return std::pair{m_files[it->second].get(), name};
        return std::nullopt;
    }
    const fs::path& source() const { return m_source; }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& [name, file] : m_fileOf) out.push_back(name);
        return out;
    }

private:
    void readIndex(const fs::path& dir, const fs::path& index) {
        const nlohmann::json j = readJsonFile(index);
        if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
            throw ModelFormatError(index, "weight_map", "is missing or not an object");
        std::map<std::string, size_t> shardIndex;
        for (const auto& [name, file] : j["weight_map"].items()) {
            if (!file.is_string())
                throw ModelFormatError(index, name, "is not mapped to a file name");
            const std::string shard = file.get<std::string>();
            // A shard is a file in this folder; never follow a path elsewhere.
            if (shard.empty() || shard.find('/') != std::string::npos ||
                shard.find('\\') != std::string::npos || shard == "." || shard == "..")
                throw ModelFormatError(
                    index, name,
                    "is mapped to \"" + shard + "\", which is not a file name in the folder");
            auto [it, inserted] = shardIndex.emplace(shard, m_files.size());
            if (inserted) {
                if (!fs::exists(dir / shard))
                    throw ModelFormatError(
                        index, name, "is mapped to shard " + shard + ", which does not exist");
                m_files.push_back(std::make_unique<SafetensorsFile>(dir / shard));
            }
            if (!m_files[it->second]->find(name))
                throw ModelFormatError(dir / shard, name,
                                       "is not in this shard, although the index places it there");
            m_fileOf[name] = it->second;
        }
    }

    fs::path m_source;
    std::vector<std::unique_ptr<SafetensorsFile>> m_files;
    std::map<std::string, size_t> m_fileOf;
};

std::string shapeString(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Reads one checkpoint tensor and scatters it into the project tensors it holds.
void loadTensor(const CheckpointTensors& store, const HfTensor& t, const ModelConfig& c,
                std::map<std::string, std::span<float>>& views) {
    const auto found = store.find(hfNameCandidates(t.name));
    if (!found) throw ModelFormatError(store.source(), t.name, "is missing from the checkpoint");
    const auto& [file, name] = *found;
    const SafetensorInfo& info = *file->find(name);
    if (info.shape != t.shape)
        throw ModelFormatError(file->path(), name,
                               "has shape " + shapeString(info.shape) + ", expected " +
                                   shapeString(t.shape) + " from config.json");
    // A tensor that is one project tensor in the same layout is read in place, so that the
    // largest tensors (embedding, unembedding) are not held twice.
    if (t.parts.size() == 1 && !t.transposed && t.chunk <= 0) {
        std::span<float> dst = views.at(t.parts[0]);
        MWB_CHECK(int64_t(dst.size()) == info.elementCount());
        file->read(name, dst);
        if (const auto problem = nonFiniteProblem(dst.data(), info.shape))
            throw ModelFormatError(file->path(), name, *problem);
        return;
    }
    std::vector<float> buffer(size_t(info.elementCount()));
    file->read(name, buffer);
    if (const auto problem = nonFiniteProblem(buffer.data(), info.shape))
        throw ModelFormatError(file->path(), name, *problem);
    // Element (out, in) of the tensor in the project's [out, in] layout.
    const auto [outDim, inDim] = hfRowsAndColumns(t);
    int64_t rowOffset = 0;
    for (size_t part = 0; part < t.parts.size(); ++part) {
        const std::string& path = t.parts[part];
        const int64_t rows = expectedShape(c, path).first;
        std::span<float> dst = views.at(path);
        MWB_CHECK(int64_t(dst.size()) == rows * inDim && rowOffset + rows <= outDim);
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t o = checkpointRow(t, part, rowOffset, r);
            for (int64_t i = 0; i < inDim; ++i)
                dst[size_t(r * inDim + i)] =
                    t.transposed ? buffer[size_t(i * outDim + o)] : buffer[size_t(o * inDim + i)];
        }
        rowOffset += rows;
    }
}

// The layer number in a checkpoint tensor's name ("h.7.", "layers.7."), or -1.
int layerOfName(const std::string& name) {
    for (const char* marker : {"h.", "layers."}) {
        for (size_t at = name.find(marker); at != std::string::npos; at = name.find(marker, at + 1)) {
            if (at > 0 && name[at - 1] != '.') continue;
            size_t i = at + std::strlen(marker), digits = 0;
            while (i + digits < name.size() && std::isdigit(static_cast<unsigned char>(name[i + digits]))) ++digits;
            if (digits > 0 && digits < 7 && i + digits < name.size() && name[i + digits] == '.')
                return std::stoi(name.substr(i, digits));
        }
    }
    return -1;
}

// Refuses checkpoint tensors the layout does not use, unless they are buffers without
// weights (noted as skipped): weights that config.json does not account for (layers
// beyond its layer count, say) would otherwise be dropped without a word.
void checkUnusedTensors(const CheckpointTensors& store, const std::vector<HfTensor>& tensors,
                        const ModelConfig& c, std::vector<std::string>& notes) {
    std::set<std::string> used;
    for (const HfTensor& t : tensors)
        for (const std::string& name : hfNameCandidates(t.name)) used.insert(name);
    std::vector<std::string> skipped, unknown;
    int highestLayer = -1;
    for (const std::string& name : store.names()) {
        if (used.count(name)) continue;
        if (isHfBuffer(name)) {
            skipped.push_back(name);
            continue;
        }
        unknown.push_back(name);
        highestLayer = std::max(highestLayer, layerOfName(name));
    }
    if (!unknown.empty()) {
        const std::string others =
            unknown.size() > 1 ? " (and " + std::to_string(unknown.size() - 1) + " more tensors)" : "";
        if (highestLayer >= c.nLayers)
            throw ModelFormatError(store.source(), unknown.front(),
                                   "is not accounted for by config.json" + others + ": the checkpoint holds layers up to " +
                                       std::to_string(highestLayer) + ", but config.json gives the model " +
                                       std::to_string(c.nLayers) + " layers");
        throw ModelFormatError(store.source(), unknown.front(),
                               "is a tensor this program does not know for this architecture" + others);
    }
    if (!skipped.empty())
        notes.push_back("skipped " + std::to_string(skipped.size()) +
                           " checkpoint buffers that hold no weights (causal masks, rotary frequencies), e.g. " +
                           skipped.front());
}

// Whether the folder has any tokenizer file; an incomplete set is an error of its own.
bool hasTokenizerFiles(const fs::path& dir) {
    for (const char* name : {"tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model"})
        if (fs::exists(dir / name)) return true;
    return false;
}

// For a folder with weights but no tokenizer (random-weight test models): one opaque
// piece per id, so that the model runs on token ids (--ids) and text gives <unk>.
TokenizerSpec placeholderTokenizer(int vocabSize, int bosId, int eosId) {
    TokenizerSpec spec;
    spec.kind = TokenizerKind::SentencePieceBpe;
    spec.vocab.push_back("<unk>");
    for (int i = 1; i < vocabSize; ++i) spec.vocab.push_back("<token_" + std::to_string(i) + ">");
    spec.scores.assign(spec.vocab.size(), 0.0f);
    spec.bosId = bosId < vocabSize ? bosId : -1;
    spec.eosId = eosId < vocabSize ? eosId : -1;
    return spec;
}

std::string folderName(const fs::path& dir) {
    const fs::path p = fs::absolute(dir).lexically_normal();
    return p.filename().empty() ? p.parent_path().filename().string() : p.filename().string();
}

}  // namespace

ImportedModel importHf(const fs::path& dir, const ProgressFn& progress, WeightPrecision precision) {
    if (!fs::is_directory(dir)) throw InvalidInput(dir.string() + " is not a folder");
    HfConfig hf = readHfConfig(dir / "config.json");
    ImportedModel out;
    out.warnings = std::move(hf.warnings);
    Model& m = out.model;
    m.config = hf.config;
    m.config.name = hf.name.empty() ? folderName(dir) : hf.name;

    TokenizerSpec spec;
    if (hasTokenizerFiles(dir)) {
        spec = readHfTokenizer(dir, hf.bosId, hf.eosId);
    } else {
        spec = placeholderTokenizer(m.config.vocabSize, hf.bosId, hf.eosId);
        out.warnings.push_back(dir.string() + " has no tokenizer (tokenizer.json, or vocab.json with merges.txt): "
                               "the model file gets one placeholder piece per id; give prompts as token ids (--ids)");
    }
    if (int(spec.vocab.size()) > m.config.vocabSize)
        throw ModelFormatError(dir / "config.json", "vocab_size",
                               "is " + std::to_string(m.config.vocabSize) +
                                   ", but the tokenizer has " + std::to_string(spec.vocab.size()) +
                                   " pieces");
    padVocabulary(spec, m.config.vocabSize, out.warnings);
    if (const auto problem = tokenizerProblem(spec, m.config.vocabSize))
        throw ModelFormatError(dir, problem->path, problem->text);

    const CheckpointTensors store(dir);
    // Every tensor is allocated at its shape, except, for Float16, the linear weights kept
    // in float16: each is staged in float32 only while the checkpoint tensor holding it is
    // read, then converted, so that the float32 model never exists in memory.
    std::map<std::string, std::span<float>> views;
    std::map<std::string, Linear*> halves;
    m.weights.blocks.resize(m.config.nLayers);
    detail::visitTensors(
        m.config, m.weights,
        [&](const std::string& path, auto& t) {
            const auto [rows, cols] = expectedShape(m.config, path);
            if constexpr (std::decay_t<decltype(t)>::ColsAtCompileTime == 1) t.setZero(rows);
            else t.setZero(rows, cols);
            views[path] = std::span<float>(t.data(), size_t(t.size()));
        },
        [&](const std::string& path, Linear& l) {
            if (precision == WeightPrecision::Float16) {  // mlp/down too: see import_hf.h
                halves[path] = &l;
                return;
            }
            const auto [rows, cols] = expectedShape(m.config, path);
            l.weight.setZero(rows, cols);
            views[path] = std::span<float>(l.weight.data(), size_t(l.weight.size()));
        });
    HfExpertLayout experts = HfExpertLayout::PerExpert;
    for (const std::string& name : store.names())
        if (isPackedExpertName(name)) experts = HfExpertLayout::Packed;
    const std::vector<HfTensor> tensors = hfTensors(m.config, experts);
    checkUnusedTensors(store, tensors, m.config, out.notes);
    for (size_t i = 0; i < tensors.size(); ++i) {
        report(progress, {long(i), long(tensors.size()), "reading tensors"});
        std::vector<std::pair<std::string, Matrix>> staged;
        for (const std::string& part : tensors[i].parts) {
            if (!halves.count(part)) continue;
            const auto [rows, cols] = expectedShape(m.config, part);
            Matrix& scratch = staged.emplace_back(part, Matrix(rows, cols)).second;
            views[part] = std::span<float>(scratch.data(), size_t(scratch.size()));
        }
        loadTensor(store, tensors[i], m.config, views);
        for (auto& [part, scratch] : staged) {
            halves.at(part)->weightHalf = HalfMatrix::fromFloat(scratch);
            views.erase(part);
        }
    }
    report(progress, {long(tensors.size()), long(tensors.size()), "reading tensors"});
    m.tokenizer = Tokenizer(std::move(spec));
    return out;
}

}  // namespace mwb
