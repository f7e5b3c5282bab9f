// Writing model files (docs/file-format.md) with the HDF5 C API: root attributes,
// weights and tokenizer, and saveModel / checkSaveTarget. The edit records
// (/edits/{n}) are written in edit_record_schema.cpp.
#include "io/hdf5_writer.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/model_checks.h"
#include "io/tensor_checksum.h"
#include "tensor/atomic_file.h"
#include "tensor/float16.h"

namespace mwb {

namespace fs = std::filesystem;

namespace hdf5 {

namespace {

// The double closest to the shortest decimal that reads back as `x` (1e-06, not
// 9.99999997e-07), so that h5py users see the number they expect.
double plainDouble(float x) {
    char text[64];
    const auto result = std::to_chars(text, text + sizeof(text), x);
    if (result.ec != std::errc()) return x;
    *result.ptr = '\0';
    const double d = std::strtod(text, nullptr);
    return float(d) == x ? d : double(x);
}

std::string tokenizerKindName(TokenizerKind kind) {
    return kind == TokenizerKind::ByteBpe ? "byte_bpe" : "sentencepiece_bpe";
}

}  // namespace

void Writer::fail(const std::string& path) const {
    if (const int error = hdf5SystemErrno()) {
        H5Eclear2(H5E_DEFAULT);
        throw Error(writeFailureText(m_target, error));
    }
    throw Error(m_target.string() + ": cannot write " + path + " (" + hdf5ErrorText() + ")");
}

Writer::Writer(const fs::path& target, const fs::path& temp) : m_target(target), m_temp(temp) {
    m_h5 = Handle(H5Fcreate(temp.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    ok(m_h5, "a temporary file " + temp.string());
    m_linkProps = Handle(ok(H5Pcreate(H5P_LINK_CREATE), "/"), H5Pclose);
    ok(H5Pset_create_intermediate_group(m_linkProps, 1), "/");
}

void Writer::reserve(double bytes) {
    void* handle = nullptr;
    if (H5Fget_vfd_handle(m_h5, H5P_DEFAULT, &handle) < 0 || !handle) {
        H5Eclear2(H5E_DEFAULT);
        return;
    }
    // Beyond the end of the file, so that its size stays what HDF5 writes.
    if (fallocate(*static_cast<int*>(handle), FALLOC_FL_KEEP_SIZE, 0, off_t(bytes)) != 0) {
        const int error = errno;
        if (error == ENOSPC || error == EDQUOT || error == EFBIG) throw Error(writeFailureText(m_target, error));
        // Other errors: a file system without fallocate; the write goes ahead unreserved.
    }
}

void Writer::close() {
    m_linkProps.close();
    // Flushed first, so that a failure (a full disk) leaves the file open for the
    // destructor to give up cleanly.
    if (H5Fflush(m_h5, H5F_SCOPE_LOCAL) < 0) fail("the file");
    if (m_h5.close() < 0) fail("the file");
}

Writer::~Writer() {
    if (!m_h5.valid()) return;
    m_linkProps.close();
    // HDF5 flushes what it still caches when the file is closed. After a failed write
    // (a full disk) that flush fails again, and a file whose close failed stays
    // registered half-destroyed, which crashes the library's shutdown at exit. The
    // file's descriptor is therefore pointed at an anonymous memory file first: the
    // close writes its last metadata there and succeeds, and the caller removes the
    // temporary file, which holds nothing of use.
    void* handle = nullptr;
    if (H5Fget_vfd_handle(m_h5, H5P_DEFAULT, &handle) >= 0 && handle) {
        const int scratch = memfd_create("mwb-abandoned-model", MFD_CLOEXEC);
        if (scratch >= 0) {
            dup2(scratch, *static_cast<int*>(handle));
            ::close(scratch);
        }
    }
    if (m_h5.close() < 0) H5Eclear2(H5E_DEFAULT);
}

void Writer::writeString(hid_t obj, const std::string& objPath, const char* name,
                         const std::string& v) {
    Handle type = vlenStringType(H5T_CSET_UTF8);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    const std::string where = objPath + " attribute " + name;
    Handle attr(ok(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), where), H5Aclose);
    const char* p = v.c_str();
    ok(H5Awrite(attr, type, &p), where);
}

void Writer::writeInt(hid_t obj, const std::string& objPath, const char* name, int64_t v) {
    writeIntArray(obj, objPath, name, {v});
}

void Writer::writeIntArray(hid_t obj, const std::string& objPath, const char* name,
                           const std::vector<int64_t>& v) {
    const hsize_t n = v.size();
    // A single value is a scalar attribute, as h5py writes a Python int.
    Handle space(v.size() == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
    const std::string where = objPath + " attribute " + name;
    Handle attr(ok(H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT), where),
                H5Aclose);
    const std::vector<long long> values(v.begin(), v.end());
    ok(H5Awrite(attr, H5T_NATIVE_LLONG, values.data()), where);
}

void Writer::writeDouble(hid_t obj, const std::string& objPath, const char* name, double v) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    const std::string where = objPath + " attribute " + name;
    Handle attr(ok(H5Acreate2(obj, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT), where),
                H5Aclose);
    ok(H5Awrite(attr, H5T_NATIVE_DOUBLE, &v), where);
}

Handle Writer::createDataset(const std::string& path, hid_t fileType, const Dims& dims) {
    Handle space(ok(H5Screate_simple(int(dims.size()), dims.data(), nullptr), path), H5Sclose);
    return Handle(ok(H5Dcreate2(m_h5, path.c_str(), fileType, space, m_linkProps, H5P_DEFAULT,
                                H5P_DEFAULT),
                     path),
                  H5Dclose);
}

void Writer::writeChecksum(hid_t dset, const std::string& path, uint64_t value) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    const std::string where = path + " attribute " + kChecksumAttribute;
    Handle attr(ok(H5Acreate2(dset, kChecksumAttribute, H5T_STD_U64LE, space, H5P_DEFAULT, H5P_DEFAULT), where),
                H5Aclose);
    const unsigned long long v = value;
    ok(H5Awrite(attr, H5T_NATIVE_ULLONG, &v), where);
}

void Writer::writeFloats(const std::string& path, const float* data, const Dims& dims,
                         StorageType storage) {
    hsize_t total = 1;
    for (hsize_t d : dims) total *= d;
    TensorHash hash;
    if (storage == StorageType::Float32) {
        Handle dset = createDataset(path, H5T_IEEE_F32LE, dims);
        if (total) ok(H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path);
        hash.add(data, total * sizeof(float));
        writeChecksum(dset, path, hash.value());
        return;
    }
    if (storage == StorageType::Float64) {
        Handle dset = createDataset(path, H5T_IEEE_F64LE, dims);
        if (total) ok(H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path);
        // The checksum is of the doubles the file holds, widened a block at a time.
        std::vector<double> wide(std::min<hsize_t>(total, kChunkElements));
        for (hsize_t done = 0; done < total; done += wide.size()) {
            const hsize_t n = std::min<hsize_t>(wide.size(), total - done);
            std::copy(data + done, data + done + n, wide.begin());
            hash.add(wide.data(), n * sizeof(double));
        }
        writeChecksum(dset, path, hash.value());
        return;
    }
    Handle fileType = halfType(H5T_ORDER_LE);
    Handle memType = halfType(nativeOrder());
    Handle dset = createDataset(path, fileType, dims);
    Handle fileSpace(ok(H5Dget_space(dset), path), H5Sclose);
    // Convert and write in slices of the flattened tensor (a 1-D view of the file space
    // is not available, so slices are whole rows of the first dimension).
    hsize_t rowElements = 1;
    for (size_t i = 1; i < dims.size(); ++i) rowElements *= dims[i];
    if (total == 0) return writeChecksum(dset, path, hash.value());
    const hsize_t chunkRows = std::max<hsize_t>(1, kChunkElements / rowElements);
    std::vector<uint16_t> buffer(std::min(chunkRows, dims[0]) * rowElements);
    for (hsize_t row = 0; row < dims[0]; row += chunkRows) {
        const hsize_t n = std::min(chunkRows, dims[0] - row);
        const float* src = data + row * rowElements;
        for (hsize_t i = 0; i < n * rowElements; ++i) {
            if (std::abs(src[i]) >= 65520.0f)
                throw InvalidInput("cannot save " + path + " as float16: the value " +
                                   std::to_string(src[i]) + " at element " +
                                   std::to_string(row * rowElements + i) +
                                   " is beyond the float16 range (65504)");
            buffer[i] = floatToHalf(src[i]);
        }
        Dims offset(dims.size(), 0), block = dims;
        offset[0] = row;
        block[0] = n;
        const hsize_t elements = n * rowElements;
        Handle memSpace(H5Screate_simple(1, &elements, nullptr), H5Sclose);
        ok(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, offset.data(), nullptr, block.data(),
                               nullptr),
           path);
        ok(H5Dwrite(dset, memType, memSpace, fileSpace, H5P_DEFAULT, buffer.data()), path);
        hash.add(buffer.data(), elements * sizeof(uint16_t));
    }
    writeChecksum(dset, path, hash.value());
}

void Writer::writeStrings(const std::string& path, const std::vector<std::string>& values) {
    Handle type = vlenStringType(H5T_CSET_UTF8);
    Handle dset = createDataset(path, type, {hsize_t(values.size())});
    std::vector<const char*> pointers;
    pointers.reserve(values.size());
    for (const auto& s : values) pointers.push_back(s.c_str());
    if (!values.empty()) ok(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), path);
}

void Writer::writeInts(const std::string& path, const std::vector<int64_t>& values,
                       const Dims& dims) {
    Handle dset = createDataset(path, H5T_STD_I64LE, dims);
    const std::vector<long long> data(values.begin(), values.end());
    if (!data.empty()) ok(H5Dwrite(dset, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), path);
}

void Writer::writeTokenizer(const TokenizerSpec& spec) {
    const std::string path = "/tokenizer";
    Handle group(ok(H5Gcreate2(m_h5, path.c_str(), m_linkProps, H5P_DEFAULT, H5P_DEFAULT), path),
                 H5Gclose);
    writeString(group, path, "kind", tokenizerKindName(spec.kind));
    writeInt(group, path, "bos_id", spec.bosId);
    writeInt(group, path, "eos_id", spec.eosId);
    writeInt(group, path, "add_bos", spec.addBos ? 1 : 0);
    writeStrings(path + "/vocab", spec.vocab);
    if (spec.kind == TokenizerKind::ByteBpe || !spec.merges.empty())
        writeStrings(path + "/merges", spec.merges);
    if (!spec.scores.empty())
        writeFloats(path + "/scores", spec.scores.data(), {spec.scores.size()}, StorageType::Float32);
    // Attributes whose absence means what older files meant: GPT-2's regex, no
    // normalisation, a dummy prefix, merges always applied, no list of added tokens.
    if (!spec.preTokenizerPattern.empty())
        writeString(group, path, "pre_tokenizer_pattern", spec.preTokenizerPattern);
    if (spec.nfc) writeString(group, path, "normalizer", "nfc");
    if (spec.kind == TokenizerKind::SentencePieceBpe && !spec.addDummyPrefix)
        writeInt(group, path, "add_dummy_prefix", 0);
    if (spec.ignoreMerges) writeInt(group, path, "ignore_merges", 1);
    if (spec.addedTokens) {
        std::vector<int64_t> rows;
        for (const AddedToken& t : *spec.addedTokens)
            rows.insert(rows.end(), {t.id, t.special ? 1 : 0, t.normalized ? 1 : 0});
        writeInts(path + "/added_tokens", rows, {spec.addedTokens->size(), 3});
    }
}

void Writer::writeModel(const Model& m, StorageType storage) {
    const ModelConfig& c = m.config;
    const std::string root = "/";
    writeString(m_h5, root, "format", "mwb.transformer");
    writeInt(m_h5, root, "format_version", kFormatVersion);
    writeString(m_h5, root, "architecture", toString(c.architecture));
    writeInt(m_h5, root, "n_layer", c.nLayers);
    writeInt(m_h5, root, "n_head", c.nHeads);
    writeInt(m_h5, root, "n_kv_head", c.nKvHeads);
    writeInt(m_h5, root, "d_model", c.dModel);
    writeInt(m_h5, root, "d_ff", c.dFf);
    writeInt(m_h5, root, "vocab_size", c.vocabSize);
    writeInt(m_h5, root, "n_ctx", c.nCtx);
    writeDouble(m_h5, root, "norm_eps", plainDouble(c.normEps));
    writeString(m_h5, root, "activation", toString(c.activation));
    if (c.rotary()) writeDouble(m_h5, root, "rope_theta", plainDouble(c.ropeTheta));
    if (const RopeScaling& r = c.ropeScaling; c.rotary() && r.type != RopeScalingType::None) {
        writeString(m_h5, root, "rope_scaling", toString(r.type));
        writeDouble(m_h5, root, "rope_scaling_factor", r.factor);
        if (r.type == RopeScalingType::Llama3) {
            writeDouble(m_h5, root, "rope_scaling_low_freq_factor", r.lowFreqFactor);
            writeDouble(m_h5, root, "rope_scaling_high_freq_factor", r.highFreqFactor);
            writeInt(m_h5, root, "rope_scaling_original_context", r.originalContext);
        }
    }
    if (c.architecture == Architecture::Llama && c.qkvBias) writeInt(m_h5, root, "qkv_bias", 1);
    if (c.headDim > 0) writeInt(m_h5, root, "head_dim", c.headDim);
    if (c.rotary() && c.rotaryDim > 0) writeInt(m_h5, root, "rotary_dim", c.rotaryDim);
    if (c.architecture == Architecture::GptNeoX) writeInt(m_h5, root, "parallel_residual", c.parallelResidual ? 1 : 0);
    if (c.slidingWindow > 0) {
        writeInt(m_h5, root, "sliding_window", c.slidingWindow);
        writeString(m_h5, root, "sliding_window_layers", toString(c.slidingLayers));
    }
    if (c.attnSoftcap > 0) writeDouble(m_h5, root, "attn_logit_softcapping", plainDouble(c.attnSoftcap));
    if (c.finalSoftcap > 0) writeDouble(m_h5, root, "final_logit_softcapping", plainDouble(c.finalSoftcap));
    if (c.queryPreAttnScalar > 0) writeDouble(m_h5, root, "query_pre_attn_scalar", plainDouble(c.queryPreAttnScalar));
    if (c.moe()) {
        writeInt(m_h5, root, "n_experts", c.nExperts);
        writeInt(m_h5, root, "n_experts_per_token", c.nExpertsPerToken);
        writeInt(m_h5, root, "d_expert", c.dExpert);
        writeInt(m_h5, root, "norm_topk_prob", c.normTopK ? 1 : 0);
        if (c.dSharedExpert > 0) writeInt(m_h5, root, "d_shared_expert", c.dSharedExpert);
        if (c.moeEvery != 1) writeInt(m_h5, root, "moe_every", c.moeEvery);
        if (!c.denseLayers.empty()) {
            std::string list;
            for (int l : c.denseLayers) {
                if (!list.empty()) list += ',';
                list += std::to_string(l);
            }
            writeString(m_h5, root, "dense_layers", list);
        }
    }
    writeInt(m_h5, root, "tie_embeddings", c.tieEmbeddings ? 1 : 0);
    if (!c.name.empty()) writeString(m_h5, root, "name", c.name);

    auto tensor = [&](const std::string& path, const auto& t) {
        using Tensor = std::decay_t<decltype(t)>;
        const Dims dims = Tensor::ColsAtCompileTime == 1 ? Dims{hsize_t(t.rows())}
                                                         : Dims{hsize_t(t.rows()), hsize_t(t.cols())};
        writeFloats(path, t.data(), dims, storage);
        if (!std::exchange(m_firstTensorWritten, true)) failWriteForTest(m_target);
    };
    // Weights kept in float16 are written as they are, whatever `storage` says: a
    // float32 copy would double a large model's file and add nothing.
    auto linear = [&](const std::string& path, const Linear& l) {
        if (!l.isHalf()) return tensor(path, l.weight);
        Handle fileType = halfType(H5T_ORDER_LE);
        Handle memType = halfType(nativeOrder());
        Handle dset = createDataset(path, fileType, Dims{hsize_t(l.weightHalf.rows), hsize_t(l.weightHalf.cols)});
        ok(H5Dwrite(dset, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, l.weightHalf.bits.data()), path);
        TensorHash hash;
        hash.add(l.weightHalf.bits.data(), l.weightHalf.bits.size() * sizeof(uint16_t));
        writeChecksum(dset, path, hash.value());
    };
    detail::visitTensors(c, m.weights, tensor, linear);
    writeTokenizer(m.tokenizer.spec());
    for (size_t i = 0; i < m.edits.size(); ++i) writeEdit(m.edits[i], c, int(i), storage);
}

}  // namespace hdf5

namespace {

// A generous estimate of the file's size: every tensor in its storage type, the
// tokenizer's strings with HDF5's per-string overhead, and room for the metadata.
double plannedFileBytes(const Model& m, StorageType storage) {
    const double element = storage == StorageType::Float16 ? 2.0 : storage == StorageType::Float64 ? 8.0 : 4.0;
    double bytes = 65536.0;
    int datasets = 0;
    detail::visitTensors(
        m.config, m.weights, [&](const std::string&, const auto& t) { bytes += element * double(t.size()); ++datasets; },
        [&](const std::string&, const Linear& l) {
            bytes += l.isHalf() ? 2.0 * double(l.weightHalf.bits.size()) : element * double(l.weight.size());
            ++datasets;
        });
    const TokenizerSpec& spec = m.tokenizer.spec();
    for (const auto* strings : {&spec.vocab, &spec.merges})
        for (const std::string& piece : *strings) bytes += 32.0 + double(piece.size());
    bytes += 4.0 * double(spec.scores.size());
    for (const EditRecord& e : m.edits) {
        for (const auto* list : {&e.left, &e.right, &e.keys}) {
            for (const Matrix& x : *list) bytes += 4.0 * double(x.size());
        }
        for (const Matrix& x : e.before) bytes += element * double(x.size());
        datasets += 8;
    }
    return 1.01 * bytes + 4096.0 * datasets;
}

// Gives back the space reserved beyond the end of a finished file (a shrinking
// truncate frees what lies past the new end on every file system).
void releaseReservation(const fs::path& file) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) return;
    fs::resize_file(file, size + 1, ec);
    if (!ec) fs::resize_file(file, size, ec);
}

// Throws InvalidInput unless the model can be written and read back.
void checkSavable(const Model& m) {
    if (const std::string problem = configProblem(m.config); !problem.empty())
        throw InvalidInput("cannot save a model with inconsistent sizes: " + problem);
    std::optional<ModelProblem> problem = weightsProblem(m.config, m.weights, true);
    if (!problem) problem = tokenizerProblem(m.tokenizer.spec(), m.config.vocabSize);
    for (size_t i = 0; i < m.edits.size() && !problem; ++i)
        problem = editProblem(m.edits[i], m.config, int(i));
    if (problem) throw InvalidInput("cannot save the model: " + problem->path + " " + problem->text);
}

// The same text as writeFileAtomicallyAt's when `file` appears while saveModel writes.
std::string existsMessage(const fs::path& file) {
    return file.string() + " already exists and is kept (pass --force to replace it)";
}

}  // namespace

void checkSaveTarget(const fs::path& file, bool overwrite) {
    std::error_code ec;
    if (fs::is_directory(file, ec)) throw InvalidInput(file.string() + " is a folder");
    if (!overwrite && fs::exists(file, ec)) throw InvalidInput(existsMessage(file));
    const fs::path folder = file.parent_path().empty() ? fs::path(".") : file.parent_path();
    if (!fs::is_directory(folder, ec))
        throw InvalidInput("cannot save " + file.string() + ": the folder " + folder.string() +
                           " does not exist");
}

void saveModel(const Model& model, const fs::path& file, StorageType storage, bool overwrite) {
    checkSavable(model);
    checkSaveTarget(file, overwrite);
    writeFileAtomicallyAt(
        file,
        [&](const fs::path& temp) {
            std::lock_guard lock(hdf5::hdf5Mutex());
            hdf5::silenceHdf5();
            hdf5::Writer writer(file, temp);
            // HDF5 cannot recover from a failed flush (1.10 leaves its metadata cache
            // unable to close the file), so the space is claimed first: a full disk is
            // then found before HDF5 writes anything.
            writer.reserve(plannedFileBytes(model, storage));
            writer.writeModel(model, storage);
            writer.close();
            releaseReservation(temp);
        },
        overwrite);
}

}  // namespace mwb
