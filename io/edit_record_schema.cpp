// The edit records of a model file, /edits/{n}: Reader::readEdits and Writer::writeEdit
// with the HDF5 C API (hdf5_reader.h, hdf5_writer.h).
//
// Layout of /edits/{n} (docs/file-format.md, "Edit records"):
//   attributes  method, subject, prompt, target_new, target_true, created: strings;
//               layer: int when the edit changes one layer, else layers: int array [L].
//               expert (with layer) or experts (with layers, -1 for an MLP): the expert
//               of a sparse layer whose down projection the entry changes; absent: the
//               layers' mlp/down. An expert's right factor has d_expert rows, and a
//               record's entries are all MLPs' or all experts'.
//   datasets    one layer, rank one:  left [d_model],        right [d_ff]
//               one layer, rank r:    left [d_model, r],     right [d_ff, r]
//               L layers (MEMIT):     left [L, d_model, r],  right [L, d_ff, r]
//   so that layer layers[j] changed by  ΔW_j = left[j] · right[j]ᵀ  ([d_model, d_ff], the
//   shape of mlp/down). Layers with fewer factor columns than others are written padded
//   with zero columns (ΔW unchanged), so they read back with the common rank r.
//   Factors are always stored as float32.
//   optional    group before/ with datasets before/{j} [d_model, d_ff]: the exact mlp/down
//               weights of layers[j] before the edit (for bit-exact undo), stored in the
//               same precision as the model's weights.
//   optional    group keys/ with datasets keys/{j} [d_ff, n]: the keys k* the edit wrote
//               values for at layers[j] (float32), which later null-space edits preserve.
#include <algorithm>

#include "io/hdf5_reader.h"
#include "io/hdf5_writer.h"
#include "io/model_checks.h"

namespace mwb::hdf5 {

// ---------------------------------------------------------------------------------------
// Reading

void Reader::readFactors(const std::string& path, int64_t nLayers, int64_t rows,
                         int64_t maxRank, std::vector<Matrix>& out) {
    Handle dset = openDataset(path);
    const Dims dims = datasetDims(dset, path);
    // std::string("["), not "[" + ...: GCC 12 warns falsely (-Wrestrict) on the latter here.
    const std::string expected =
        nLayers == 1
            ? std::string("[") + std::to_string(rows) + "] or [" + std::to_string(rows) + ", r]"
            : std::string("[") + std::to_string(nLayers) + ", " + std::to_string(rows) + ", r]";
    // The rank r is the last dimension of the 2-D and 3-D forms, 1 for the 1-D form.
    const int64_t rank = dims.size() == 1 ? 1 : dims.empty() ? 0 : int64_t(dims.back());
    bool ok = false;
    if (nLayers == 1 && (dims.size() == 1 || dims.size() == 2)) ok = int64_t(dims[0]) == rows;
    if (dims.size() == 3) ok = int64_t(dims[0]) == nLayers && int64_t(dims[1]) == rows;
    if (!ok || rank < 1 || rank > maxRank)
        fail(path, "has shape " + dimsText(dims) + ", expected " + expected + " with 1 <= r <= " +
                       std::to_string(maxRank));
    requireFloat(dset, path);
    out.resize(nLayers);
    const std::optional<uint64_t> checksum = storedChecksum(dset, path);
    TensorHash hash;  // the layers are read in order, so it sees the whole dataset
    for (int64_t j = 0; j < nLayers; ++j) {
        allocate(path, 4.0 * rows * rank, [&] { out[j].resize(rows, rank); });
        if (dims.size() == 3) readFloatRows(dset, path, dims, j, 1, out[j].data(), &hash);
        else readFloatRows(dset, path, dims, 0, dims[0], out[j].data(), &hash);
    }
    requireChecksum(path, checksum, hash);
}

bool Reader::hasPerLayerGroup(const std::string& path, int64_t nLayers) {
    if (objectType(path) == H5I_BADID) return false;
    Handle group = openGroup(path);
    H5G_info_t info{};
    if (H5Gget_info(group, &info) < 0) failHdf5(path, "cannot be read");
    if (info.nlinks != hsize_t(nLayers))
        fail(path, "holds " + std::to_string(info.nlinks) + " matrices for " + std::to_string(nLayers) + " layers");
    return true;
}

EditRecord Reader::readEdit(const ModelConfig& c, int index) {
    const std::string path = "/edits/" + std::to_string(index);
    if (objectType(path) == H5I_BADID)
        fail(path, "is missing: edits are numbered from 0 without gaps");
    Handle group = openGroup(path);
    EditRecord e;
    e.method = readString(group, path, "method");
    if (hasAttribute(group, "layer")) {
        e.layers = {int(readInt(group, path, "layer", 0, c.nLayers - 1))};
    } else if (hasAttribute(group, "layers")) {
        for (int64_t layer : readIntArray(group, path, "layers", maxEditLayers(c))) {
            if (layer < 0 || layer >= c.nLayers)
                fail(path, "attribute 'layers' holds " + std::to_string(layer) + ", outside 0 .. " +
                               std::to_string(c.nLayers - 1));
            e.layers.push_back(int(layer));
        }
    } else {
        fail(path, "has neither attribute 'layer' nor 'layers'");
    }
    if (hasAttribute(group, "expert")) {
        if (e.layers.size() != 1) fail(path, "has attribute 'expert' but not one layer (use 'experts')");
        e.experts = {int(readInt(group, path, "expert", 0, std::max(0, c.nExperts - 1)))};
    } else if (hasAttribute(group, "experts")) {
        for (int64_t expert : readIntArray(group, path, "experts", maxEditLayers(c))) e.experts.push_back(int(expert));
    }
    if (auto problem = editPlacesProblem(e, c, index)) fail(problem->path, problem->text);
    e.subject = readString(group, path, "subject");
    e.prompt = readString(group, path, "prompt");
    e.targetNew = readString(group, path, "target_new");
    e.targetTrue = readString(group, path, "target_true");
    e.created = readString(group, path, "created");
    const int64_t nLayers = int64_t(e.layers.size());
    readFactors(path + "/left", nLayers, c.dModel, maxEditRank(c), e.left);
    const int64_t width = editedKeyWidth(c, e.expertAt(0));
    readFactors(path + "/right", nLayers, width, maxEditRank(c), e.right);
    if (hasPerLayerGroup(path + "/before", nLayers)) {
        e.before.resize(nLayers);
        for (int64_t j = 0; j < nLayers; ++j)
            readTensor(path + "/before/" + std::to_string(j), e.before[j], c.dModel, width);
    }
    if (hasPerLayerGroup(path + "/keys", nLayers)) {
        e.keys.resize(nLayers);
        for (int64_t j = 0; j < nLayers; ++j) {
            const std::string keyPath = path + "/keys/" + std::to_string(j);
            const Dims dims = datasetDims(openDataset(keyPath), keyPath);
            if (dims.size() != 2 || dims[0] != hsize_t(width) || dims[1] < 1 || dims[1] > hsize_t(maxEditRank(c)))
                fail(keyPath, "has shape " + dimsText(dims) + ", expected [" + std::to_string(width) +
                                  ", n] with 1 <= n <= " + std::to_string(maxEditRank(c)));
            readTensor(keyPath, e.keys[j], width, long(dims[1]));
        }
    }
    if (auto problem = editProblem(e, c, index)) fail(problem->path, problem->text);
    return e;
}

std::vector<EditRecord> Reader::readEdits(const ModelConfig& c) {
    const H5I_type_t t = objectType("/edits");
    if (t == H5I_BADID) return {};
    Handle group = openGroup("/edits");
    H5G_info_t info{};
    if (H5Gget_info(group, &info) < 0) failHdf5("/edits", "cannot be read");
    std::vector<EditRecord> edits;
    for (hsize_t n = 0; n < info.nlinks; ++n) edits.push_back(readEdit(c, int(n)));
    return edits;
}

// ---------------------------------------------------------------------------------------
// Writing

void Writer::writeEdit(const EditRecord& e, const ModelConfig& c, int index,
                       StorageType storage) {
    const std::string path = "/edits/" + std::to_string(index);
    Handle group(ok(H5Gcreate2(m_h5, path.c_str(), m_linkProps, H5P_DEFAULT, H5P_DEFAULT), path),
                 H5Gclose);
    writeString(group, path, "method", e.method);
    if (e.layers.size() == 1) {
        writeInt(group, path, "layer", e.layers[0]);
    } else {
        writeIntArray(group, path, "layers", std::vector<int64_t>(e.layers.begin(), e.layers.end()));
    }
    if (!e.experts.empty()) {
        if (e.layers.size() == 1) writeInt(group, path, "expert", e.experts[0]);
        else writeIntArray(group, path, "experts", std::vector<int64_t>(e.experts.begin(), e.experts.end()));
    }
    writeString(group, path, "subject", e.subject);
    writeString(group, path, "prompt", e.prompt);
    writeString(group, path, "target_new", e.targetNew);
    writeString(group, path, "target_true", e.targetTrue);
    writeString(group, path, "created", e.created);

    const size_t nLayers = e.layers.size();
    hsize_t rank = 0;
    for (const Matrix& l : e.left) rank = std::max<hsize_t>(rank, l.cols());
    auto write = [&](const char* name, const std::vector<Matrix>& factors, hsize_t rows) {
        Dims dims = {rows};
        if (nLayers > 1) dims = {nLayers, rows, rank};
        else if (rank > 1) dims = {rows, rank};
        Matrix padded = Matrix::Zero(Eigen::Index(nLayers * rows), Eigen::Index(rank));
        for (size_t j = 0; j < nLayers; ++j)
            padded.block(Eigen::Index(j * rows), 0, Eigen::Index(rows), factors[j].cols()) = factors[j];
        writeFloats(path + "/" + name, padded.data(), dims, StorageType::Float32);
    };
    write("left", e.left, hsize_t(c.dModel));
    const hsize_t width = hsize_t(editedKeyWidth(c, e.expertAt(0)));
    write("right", e.right, width);
    for (size_t j = 0; j < e.before.size(); ++j)
        writeFloats(path + "/before/" + std::to_string(j), e.before[j].data(), {hsize_t(c.dModel), width}, storage);
    for (size_t j = 0; j < e.keys.size(); ++j)
        writeFloats(path + "/keys/" + std::to_string(j), e.keys[j].data(), {width, hsize_t(e.keys[j].cols())},
                    StorageType::Float32);
}

}  // namespace mwb::hdf5
