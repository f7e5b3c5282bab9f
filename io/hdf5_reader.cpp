// Reading model files (docs/file-format.md) with the HDF5 C API: the file, its root
// attributes, datasets, strings, weights and tokenizer, and loadModel / loadConfig.
// The edit records (/edits/{n}) are read in edit_record_schema.cpp.
#include "io/hdf5_model_file.h"

#include <algorithm>
#include <cstring>

#include <unistd.h>

#include "io/hdf5_reader.h"
#include "io/model_checks.h"
#include "tensor/float16.h"

namespace mwb {

namespace fs = std::filesystem;

namespace hdf5 {

namespace {

// Variable-length strings are checked before HDF5 reads them (global_heap_check.h).
// To get at their on-disk descriptors without HDF5 following them, we register a
// conversion from variable-length strings to an opaque type with this tag that
// leaves the descriptors untouched.
constexpr const char* kRawDescriptorTag = "mwb raw variable-length descriptor";

herr_t keepRawDescriptors(hid_t src, hid_t dst, H5T_cdata_t* cdata, size_t, size_t, size_t,
                          void*, void*, hid_t) {
    switch (cdata->command) {
        case H5T_CONV_INIT: {
            if (H5Tis_variable_str(src) <= 0 || H5Tget_class(dst) != H5T_OPAQUE) return -1;
            char* tag = H5Tget_tag(dst);
            const bool ours = tag && std::strcmp(tag, kRawDescriptorTag) == 0;
            if (tag) H5free_memory(tag);
            if (!ours) return -1;
            cdata->need_bkg = H5T_BKG_NO;
            return 0;
        }
        case H5T_CONV_CONV:  // in place and of equal size: nothing to do
            return H5Tget_size(src) == H5Tget_size(dst) ? 0 : -1;
        case H5T_CONV_FREE:
            return 0;
    }
    return -1;
}

void registerRawDescriptorConversion() {
    static const bool registered = [] {
        Handle src = [] {
            Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
            H5Tset_size(t, H5T_VARIABLE);
            return t;
        }();
        Handle dst(H5Tcreate(H5T_OPAQUE, 16), H5Tclose);
        H5Tset_tag(dst, kRawDescriptorTag);
        return H5Tregister(H5T_PERS_SOFT, "mwb_raw_vlen", src, dst, keepRawDescriptors) >= 0;
    }();
    (void)registered;
}

}  // namespace

Reader::Reader(const fs::path& file) : m_file(file) {
    std::error_code ec;
    const auto status = fs::status(file, ec);
    if (!fs::exists(status)) fail("", "does not exist");
    if (fs::is_directory(status)) fail("", "is a folder, not a model file");
    const htri_t isHdf5 = H5Fis_hdf5(file.c_str());
    if (isHdf5 == 0) fail("", "is not an HDF5 file");
    if (isHdf5 < 0) failHdf5("", "cannot be read as HDF5");
    m_h5 = Handle(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!m_h5.valid()) failHdf5("", "cannot be opened as HDF5; it may be truncated or damaged");
    Handle fcpl(H5Fget_create_plist(m_h5), H5Pclose);
    size_t sizeOfAddress = 0, sizeOfLength = 0;
    hsize_t userBlock = 0;
    if (!fcpl.valid() || H5Pget_sizes(fcpl, &sizeOfAddress, &sizeOfLength) < 0 ||
        H5Pget_userblock(fcpl, &userBlock) < 0)
        failHdf5("", "has an unreadable superblock");
    if (sizeOfAddress < 2 || sizeOfAddress > 8 || sizeOfLength < 2 || sizeOfLength > 8)
        fail("", "uses " + std::to_string(sizeOfAddress) + "-byte addresses, which this program does not read");
    m_heapCheck.emplace(file, userBlock, int(sizeOfAddress), int(sizeOfLength));
}

template <typename ReadFn>
void Reader::checkStrings(const std::string& path, const std::string& what, size_t count,
                          ReadFn&& read) {
    registerRawDescriptorConversion();
    const size_t size = size_t(m_heapCheck->descriptorSize());
    Handle rawType(H5Tcreate(H5T_OPAQUE, size), H5Tclose);
    H5Tset_tag(rawType, kRawDescriptorTag);
    std::vector<unsigned char> raw;
    allocate(path, double(size) * count, [&] { raw.resize(size * count); });
    const std::string subject = what.empty() ? "" : what + " ";
    if (read(hid_t(rawType), static_cast<void*>(raw.data())) < 0)
        failHdf5(path, subject + "cannot be read");
    if (auto problem = m_heapCheck->problem(raw, count))
        fail(path, subject + "is damaged: " + *problem);
}

Handle Reader::openAttribute(hid_t obj, const std::string& objPath, const std::string& name) {
    if (!hasAttribute(obj, name)) fail(objPath, "has no attribute '" + name + "'");
    Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) failHdf5(objPath, "attribute '" + name + "' cannot be read");
    return attr;
}

int64_t Reader::readInt(hid_t obj, const std::string& objPath, const std::string& name,
                        int64_t lo, int64_t hi) {
    Handle attr = openAttribute(obj, objPath, name);
    Handle type(H5Aget_type(attr), H5Tclose);
    Handle space(H5Aget_space(attr), H5Sclose);
    const auto where = "attribute '" + name + "'";
    if (H5Sget_simple_extent_npoints(space) != 1) fail(objPath, where + " is not a single value");
    const H5T_class_t cls = H5Tget_class(type);
    int64_t value = 0;
    if (cls == H5T_INTEGER) {
        long long v = 0;
        if (H5Aread(attr, H5T_NATIVE_LLONG, &v) < 0) failHdf5(objPath, where + " cannot be read");
        value = v;
    } else if (cls == H5T_ENUM) {  // numpy booleans, as h5py writes them
        Handle mem(H5Tget_native_type(type, H5T_DIR_DEFAULT), H5Tclose);
        Handle base(H5Tget_super(mem), H5Tclose);
        const size_t size = H5Tget_size(mem);
        unsigned char raw[8] = {};
        if (size > 8 || H5Tget_class(base) != H5T_INTEGER || H5Aread(attr, mem, raw) < 0)
            fail(objPath, where + " is an enum that is not a small integer");
        uint64_t bits = 0;
        std::memcpy(&bits, raw, size);  // little-endian host assumed for the enum's base
        const bool isSigned = H5Tget_sign(base) == H5T_SGN_2;
        if (isSigned && size < 8 && (bits >> (8 * size - 1)) & 1) bits |= ~uint64_t(0) << (8 * size);
        value = int64_t(bits);
    } else {
        fail(objPath, where + " has type " + typeClassName(cls) + ", expected an integer");
    }
    if (value < lo || value > hi)
        fail(objPath, where + " is " + std::to_string(value) + ", outside " + std::to_string(lo) +
                          " .. " + std::to_string(hi));
    return value;
}

double Reader::readDouble(hid_t obj, const std::string& objPath, const std::string& name) {
    Handle attr = openAttribute(obj, objPath, name);
    Handle type(H5Aget_type(attr), H5Tclose);
    Handle space(H5Aget_space(attr), H5Sclose);
    const auto where = "attribute '" + name + "'";
    if (H5Sget_simple_extent_npoints(space) != 1) fail(objPath, where + " is not a single value");
    const H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        fail(objPath, where + " has type " + typeClassName(cls) + ", expected a number");
    double v = 0;
    if (H5Aread(attr, H5T_NATIVE_DOUBLE, &v) < 0) failHdf5(objPath, where + " cannot be read");
    return v;
}

std::string Reader::readString(hid_t obj, const std::string& objPath, const std::string& name) {
    Handle attr = openAttribute(obj, objPath, name);
    Handle type(H5Aget_type(attr), H5Tclose);
    Handle space(H5Aget_space(attr), H5Sclose);
    const auto where = "attribute '" + name + "'";
    const H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_STRING)
        fail(objPath, where + " has type " + typeClassName(cls) + ", expected a string");
    if (H5Sget_simple_extent_npoints(space) != 1) fail(objPath, where + " is not a single string");
    if (H5Tis_variable_str(type) > 0) {
        checkStrings(objPath, where, 1, [&](hid_t raw, void* buffer) { return H5Aread(attr, raw, buffer); });
        Handle mem = vlenStringType(H5Tget_cset(type));
        char* s = nullptr;
        if (H5Aread(attr, mem, &s) < 0) failHdf5(objPath, where + " cannot be read");
        std::string out = s ? s : "";
        if (s) H5free_memory(s);
        return out;
    }
    const size_t size = H5Tget_size(type);
    if (size > kMaxStringBytes) fail(objPath, where + " is a string of " + std::to_string(size) + " bytes");
    std::vector<char> buffer(size + 1, '\0');
    Handle mem(H5Tcopy(type), H5Tclose);
    if (H5Aread(attr, mem, buffer.data()) < 0) failHdf5(objPath, where + " cannot be read");
    return fixedString(buffer.data(), size, H5Tget_strpad(type));
}

std::vector<int64_t> Reader::readIntArray(hid_t obj, const std::string& objPath,
                                          const std::string& name, size_t maxCount) {
    Handle attr = openAttribute(obj, objPath, name);
    Handle type(H5Aget_type(attr), H5Tclose);
    Handle space(H5Aget_space(attr), H5Sclose);
    const auto where = "attribute '" + name + "'";
    if (H5Tget_class(type) != H5T_INTEGER)
        fail(objPath, where + " has type " + typeClassName(H5Tget_class(type)) +
                          ", expected integers");
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n < 1 || size_t(n) > maxCount)
        fail(objPath, where + " has " + std::to_string(n) + " values, expected 1 to " +
                          std::to_string(maxCount));
    std::vector<long long> values(n);
    if (H5Aread(attr, H5T_NATIVE_LLONG, values.data()) < 0) failHdf5(objPath, where + " cannot be read");
    return {values.begin(), values.end()};
}

H5I_type_t Reader::objectType(const std::string& path) {
    // H5Lexists fails on a path whose parent is missing: check each component in turn.
    for (size_t pos = path.find('/', 1);; pos = path.find('/', pos + 1)) {
        const std::string prefix = path.substr(0, pos);
        if (H5Lexists(m_h5, prefix.c_str(), H5P_DEFAULT) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return H5I_BADID;
        }
        if (pos == std::string::npos) break;
    }
    Handle obj(H5Oopen(m_h5, path.c_str(), H5P_DEFAULT), H5Oclose);
    if (!obj.valid()) {  // e.g. a dangling soft link
        H5Eclear2(H5E_DEFAULT);
        return H5I_BADID;
    }
    return H5Iget_type(obj);
}

Handle Reader::openGroup(const std::string& path) {
    const H5I_type_t t = objectType(path);
    if (t == H5I_BADID) fail(path, "is missing");
    if (t != H5I_GROUP) fail(path, "is a dataset, expected a group");
    Handle g(H5Gopen2(m_h5, path.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.valid()) failHdf5(path, "cannot be opened");
    return g;
}

Handle Reader::openDataset(const std::string& path) {
    const H5I_type_t t = objectType(path);
    if (t == H5I_BADID) fail(path, "is missing");
    if (t != H5I_DATASET) fail(path, "is a group, expected a dataset");
    Handle d(H5Dopen2(m_h5, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid()) failHdf5(path, "cannot be opened");
    return d;
}

Dims Reader::datasetDims(hid_t dset, const std::string& path) {
    Handle space(H5Dget_space(dset), H5Sclose);
    if (!space.valid()) failHdf5(path, "has an unreadable shape");
    const H5S_class_t cls = H5Sget_simple_extent_type(space);
    if (cls == H5S_NULL) fail(path, "holds no data (null dataspace)");
    if (cls == H5S_SCALAR) return {};
    const int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0 || rank > 32) failHdf5(path, "has an unreadable shape");
    Dims dims(rank);
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    return dims;
}

void Reader::requireShape(const Dims& dims, const Dims& expected, const std::string& path,
                          const std::string& note) {
    if (dims != expected)
        fail(path, "has shape " + dimsText(dims) + ", expected " + dimsText(expected) + note);
}

void Reader::requireFloat(hid_t dset, const std::string& path) {
    Handle type(H5Dget_type(dset), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_FLOAT)
        fail(path, "has type " + std::string(typeClassName(cls)) +
                       ", expected float16, float32 or float64");
}

void Reader::readFloatRows(hid_t dset, const std::string& path, const Dims& dims,
                           hsize_t first, hsize_t count, float* out, TensorHash* hash) {
    hsize_t rowElements = 1;
    for (size_t i = 1; i < dims.size(); ++i) rowElements *= dims[i];
    if (count == 0 || rowElements == 0) return;
    Handle fileType(H5Dget_type(dset), H5Tclose);
    Handle fileSpace(H5Dget_space(dset), H5Sclose);
    auto readBlock = [&](hsize_t start, hsize_t n, hid_t memType, void* buffer) {
        Dims offset(dims.size(), 0), block = dims;
        offset[0] = start;
        block[0] = n;
        const hsize_t elements = n * rowElements;
        Handle memSpace(H5Screate_simple(1, &elements, nullptr), H5Sclose);
        if (H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, offset.data(), nullptr, block.data(),
                                nullptr) < 0 ||
            H5Dread(dset, memType, memSpace, fileSpace, H5P_DEFAULT, buffer) < 0)
            failHdf5(path, "cannot be read");
    };
    const size_t fileSize = H5Tget_size(fileType);
    const bool half = isIeeeHalf(fileType);
    if (!half && (fileSize == 4 || !hash)) {  // float32 as is; other float types converted by HDF5
        readBlock(first, count, H5T_NATIVE_FLOAT, out);
        if (hash) hash->add(out, count * rowElements * sizeof(float));
        return;
    }
    // float16 (and float64 when its checksum is wanted): through a small buffer in the
    // stored precision, never a second copy of the whole tensor.
    const hsize_t chunkRows = std::max<hsize_t>(1, kChunkElements / rowElements);
    const hsize_t bufferElements = std::min(chunkRows, count) * rowElements;
    std::vector<uint16_t> halves(half ? bufferElements : 0);
    std::vector<double> doubles(half ? 0 : bufferElements);
    Handle memType = half ? halfType(nativeOrder()) : Handle();
    for (hsize_t done = 0; done < count; done += chunkRows) {
        const hsize_t n = std::min(chunkRows, count - done);
        float* dst = out + done * rowElements;
        if (half) {
            readBlock(first + done, n, memType, halves.data());
            for (hsize_t i = 0; i < n * rowElements; ++i) dst[i] = halfToFloat(halves[i]);
            if (hash) hash->add(halves.data(), n * rowElements * sizeof(uint16_t));
        } else {
            readBlock(first + done, n, H5T_NATIVE_DOUBLE, doubles.data());
            for (hsize_t i = 0; i < n * rowElements; ++i) dst[i] = float(doubles[i]);
            hash->add(doubles.data(), n * rowElements * sizeof(double));
        }
    }
}

std::optional<uint64_t> Reader::storedChecksum(hid_t dset, const std::string& path) {
    if (!hasAttribute(dset, kChecksumAttribute)) {
        ++m_withoutChecksum;
        return std::nullopt;
    }
    Handle attr = openAttribute(dset, path, kChecksumAttribute);
    Handle type(H5Aget_type(attr), H5Tclose);
    Handle space(H5Aget_space(attr), H5Sclose);
    const std::string where = std::string("attribute '") + kChecksumAttribute + "'";
    if (H5Tget_class(type) != H5T_INTEGER || H5Tget_size(type) != 8 ||
        H5Sget_simple_extent_npoints(space) != 1)
        fail(path, where + " is not a single 64-bit integer");
    unsigned long long v = 0;
    if (H5Aread(attr, H5T_NATIVE_ULLONG, &v) < 0) failHdf5(path, where + " cannot be read");
    return uint64_t(v);
}

void Reader::requireChecksum(const std::string& path, const std::optional<uint64_t>& expected,
                             const TensorHash& hash) {
    if (expected && *expected != hash.value())
        fail(path, "is damaged: its data does not match its checksum (the file changed after it was written)");
}

template <typename Tensor>
void Reader::readTensor(const std::string& path, Tensor& t, long rows, long cols) {
    constexpr bool isVector = Tensor::ColsAtCompileTime == 1;
    const Dims expected = isVector ? Dims{hsize_t(rows)} : Dims{hsize_t(rows), hsize_t(cols)};
    Handle dset = openDataset(path);
    const Dims dims = datasetDims(dset, path);
    requireShape(dims, expected, path);  // before allocating anything
    requireFloat(dset, path);
    allocate(path, 4.0 * rows * cols, [&] {
        if constexpr (isVector) t.resize(rows);
        else t.resize(rows, cols);
    });
    const std::optional<uint64_t> checksum = storedChecksum(dset, path);
    TensorHash hash;
    readFloatRows(dset, path, dims, 0, dims[0], t.data(), &hash);
    requireChecksum(path, checksum, hash);  // a damaged tensor is named as damaged, not as NaN
    const std::vector<int64_t> shape(dims.begin(), dims.end());
    if (auto bad = nonFiniteProblem(t.data(), shape)) fail(path, *bad);
}

std::vector<std::string> Reader::readStrings(const std::string& path, hsize_t exactCount,
                                             hsize_t maxCount) {
    Handle dset = openDataset(path);
    const Dims dims = datasetDims(dset, path);
    if (dims.size() != 1) fail(path, "has shape " + dimsText(dims) + ", expected a list of strings");
    if (exactCount != hsize_t(-1)) requireShape(dims, {exactCount}, path, " (vocab_size)");
    if (dims[0] > maxCount)
        fail(path, "holds " + std::to_string(dims[0]) + " strings, more than the limit " +
                       std::to_string(maxCount));
    Handle type(H5Dget_type(dset), H5Tclose);
    if (H5Tget_class(type) != H5T_STRING)
        fail(path, "has type " + std::string(typeClassName(H5Tget_class(type))) +
                       ", expected strings");
    const size_t n = dims[0];
    std::vector<std::string> out;
    allocate(path, 32.0 * n, [&] { out.reserve(n); });
    if (n == 0) return out;
    Handle space(H5Dget_space(dset), H5Sclose);
    if (H5Tis_variable_str(type) > 0) {
        checkStrings(path, "", n, [&](hid_t raw, void* buffer) {
            return H5Dread(dset, raw, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
        });
        Handle mem = vlenStringType(H5Tget_cset(type));
        std::vector<char*> pointers(n, nullptr);
        if (H5Dread(dset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0)
            failHdf5(path, "cannot be read");
        for (char* p : pointers) out.emplace_back(p ? p : "");
        reclaimStrings(mem, space, pointers.data());
        return out;
    }
    const size_t size = H5Tget_size(type);
    if (size > kMaxStringBytes)
        fail(path, "holds fixed-length strings of " + std::to_string(size) + " bytes each");
    std::vector<char> buffer;
    allocate(path, double(size) * n, [&] { buffer.resize(size * n); });
    Handle mem(H5Tcopy(type), H5Tclose);
    if (H5Dread(dset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0)
        failHdf5(path, "cannot be read");
    for (size_t i = 0; i < n; ++i)
        out.push_back(fixedString(buffer.data() + i * size, size, H5Tget_strpad(type)));
    return out;
}

ModelConfig Reader::readConfig() {
    const std::string root = "/";
    ModelConfig c;
    const std::string format = readString(m_h5, root, "format");
    if (format != "mwb.transformer")
        fail(root, "attribute 'format' is '" + format + "', expected 'mwb.transformer'");
    const int64_t version = readInt(m_h5, root, "format_version", 0, INT32_MAX);
    if (version != kFormatVersion)
        fail(root, "attribute 'format_version' is " + std::to_string(version) +
                       ", this program reads version " + std::to_string(kFormatVersion));
    try {
        c.architecture = parseArchitecture(readString(m_h5, root, "architecture"));
        c.activation = parseActivation(readString(m_h5, root, "activation"));
    } catch (const InvalidInput& e) {
        fail(root, std::string("has an ") + e.what());
    }
    const std::pair<const char*, int*> sizes[] = {
        {"n_layer", &c.nLayers}, {"n_head", &c.nHeads},        {"n_kv_head", &c.nKvHeads},
        {"d_model", &c.dModel},  {"d_ff", &c.dFf},             {"vocab_size", &c.vocabSize},
        {"n_ctx", &c.nCtx}};
    for (const auto& [name, field] : sizes) *field = int(readInt(m_h5, root, name, INT32_MIN, INT32_MAX));
    c.normEps = float(readDouble(m_h5, root, "norm_eps"));
    if (c.rotary() && hasAttribute(m_h5, "rope_theta"))
        c.ropeTheta = float(readDouble(m_h5, root, "rope_theta"));
    if (c.rotary() && hasAttribute(m_h5, "rope_scaling")) {
        RopeScaling& r = c.ropeScaling;
        try {
            r.type = parseRopeScalingType(readString(m_h5, root, "rope_scaling"));
        } catch (const InvalidInput& e) {
            fail(root, std::string("has an ") + e.what());
        }
        if (r.type != RopeScalingType::None) r.factor = readDouble(m_h5, root, "rope_scaling_factor");
        if (r.type == RopeScalingType::Llama3) {
            r.lowFreqFactor = readDouble(m_h5, root, "rope_scaling_low_freq_factor");
            r.highFreqFactor = readDouble(m_h5, root, "rope_scaling_high_freq_factor");
            r.originalContext = int(readInt(m_h5, root, "rope_scaling_original_context", 1, INT32_MAX));
        }
    }
    if (c.architecture == Architecture::Llama && hasAttribute(m_h5, "qkv_bias"))
        c.qkvBias = readInt(m_h5, root, "qkv_bias", 0, 1) != 0;
    // Attributes of the newer architectures; absent means the default (docs/file-format.md).
    const std::pair<const char*, int*> optionalSizes[] = {
        {"head_dim", &c.headDim}, {"rotary_dim", &c.rotaryDim}, {"sliding_window", &c.slidingWindow}};
    for (const auto& [name, field] : optionalSizes)
        if (hasAttribute(m_h5, name)) *field = int(readInt(m_h5, root, name, 0, INT32_MAX));
    if (hasAttribute(m_h5, "sliding_window_layers")) {
        try {
            c.slidingLayers = parseSlidingLayers(readString(m_h5, root, "sliding_window_layers"));
        } catch (const InvalidInput& e) {
            fail(root, std::string("has an ") + e.what());
        }
    }
    if (c.architecture == Architecture::GptNeoX && hasAttribute(m_h5, "parallel_residual"))
        c.parallelResidual = readInt(m_h5, root, "parallel_residual", 0, 1) != 0;
    const std::pair<const char*, float*> optionalReals[] = {{"attn_logit_softcapping", &c.attnSoftcap},
                                                            {"final_logit_softcapping", &c.finalSoftcap},
                                                            {"query_pre_attn_scalar", &c.queryPreAttnScalar}};
    for (const auto& [name, field] : optionalReals)
        if (hasAttribute(m_h5, name)) *field = float(readDouble(m_h5, root, name));
    if (hasAttribute(m_h5, "n_experts")) readExperts(c);
    c.tieEmbeddings = readInt(m_h5, root, "tie_embeddings", 0, 1) != 0;
    if (hasAttribute(m_h5, "name")) c.name = readString(m_h5, root, "name");
    if (const std::string problem = configProblem(c); !problem.empty())
        fail(root, "has inconsistent sizes: " + problem);
    return c;
}

void Reader::readExperts(ModelConfig& c) {
    const std::string root = "/";
    c.nExperts = int(readInt(m_h5, root, "n_experts", 0, INT32_MAX));
    c.nExpertsPerToken = int(readInt(m_h5, root, "n_experts_per_token", 0, INT32_MAX));
    c.dExpert = int(readInt(m_h5, root, "d_expert", 0, INT32_MAX));
    c.normTopK = readInt(m_h5, root, "norm_topk_prob", 0, 1) != 0;
    if (hasAttribute(m_h5, "d_shared_expert")) c.dSharedExpert = int(readInt(m_h5, root, "d_shared_expert", 0, INT32_MAX));
    if (hasAttribute(m_h5, "moe_every")) c.moeEvery = int(readInt(m_h5, root, "moe_every", 1, INT32_MAX));
    if (!hasAttribute(m_h5, "dense_layers")) return;
    // Decimal layer numbers separated by commas ("0,3").
    const std::string list = readString(m_h5, root, "dense_layers");
    size_t at = 0;
    while (at <= list.size() && !list.empty()) {
        const size_t comma = std::min(list.find(',', at), list.size());
        const std::string item = list.substr(at, comma - at);
        if (item.empty() || item.size() > 9 || item.find_first_not_of("0123456789") != std::string::npos)
            fail(root, "attribute 'dense_layers' is '" + list + "', expected layer numbers separated by commas");
        c.denseLayers.push_back(std::stoi(item));
        at = comma + 1;
    }
}

Weights Reader::readWeights(const ModelConfig& c, WeightPrecision precision) {
    Weights w;
    w.blocks.resize(c.nLayers);
    auto tensor = [&](const std::string& path, auto& t) {
        const auto [rows, cols] = expectedShape(c, path);
        readTensor(path, t, rows, cols);
    };
    auto linear = [&](const std::string& path, Linear& l) {
        const auto [rows, cols] = expectedShape(c, path);
        if (precision != WeightPrecision::Float32 && mayKeepInFloat16(path))
            readHalfTensor(path, l.weightHalf, rows, cols,
                           precision == WeightPrecision::BFloat16 ? HalfFormat::BFloat16 : HalfFormat::Float16);
        else
            readTensor(path, l.weight, rows, cols);
    };
    detail::visitTensors(c, w, tensor, linear);
    return w;
}

bool Reader::storesFloat16(const ModelConfig& c) {
    const std::string path = c.moeLayer(0) ? "/blocks/0/moe/experts/0/up/weight" : "/blocks/0/mlp/up/weight";
    if (c.nLayers == 0 || objectType(path) != H5I_DATASET) return false;
    Handle dset = openDataset(path);
    Handle type(H5Dget_type(dset), H5Tclose);
    return isIeeeHalf(type);
}

void Reader::readHalfTensor(const std::string& path, HalfMatrix& t, long rows, long cols, HalfFormat format) {
    Handle dset = openDataset(path);
    const Dims dims = datasetDims(dset, path);
    requireShape(dims, Dims{hsize_t(rows), hsize_t(cols)}, path);
    requireFloat(dset, path);
    allocate(path, 2.0 * rows * cols, [&] {
        t.rows = rows;
        t.cols = cols;
        t.bits.assign(size_t(rows) * cols, 0);
        t.format = format;
    });
    Handle fileType(H5Dget_type(dset), H5Tclose);
    const std::optional<uint64_t> checksum = storedChecksum(dset, path);
    TensorHash hash;
    std::optional<std::string> nonFinite;  // reported after the checksum: damage comes first
    if (format == HalfFormat::Float16 && isIeeeHalf(fileType)) {
        Handle memType = halfType(nativeOrder());
        if (H5Dread(dset, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.bits.data()) < 0)
            failHdf5(path, "cannot be read");
        hash.add(t.bits.data(), t.bits.size() * sizeof(uint16_t));
    } else {
        const hsize_t chunkRows = std::max<hsize_t>(1, kChunkElements / hsize_t(cols));
        std::vector<float> buffer(std::min<hsize_t>(chunkRows, rows) * cols);
        for (hsize_t done = 0; done < hsize_t(rows); done += chunkRows) {
            const hsize_t n = std::min<hsize_t>(chunkRows, rows - done);
            readFloatRows(dset, path, dims, done, n, buffer.data(), &hash);
            const std::vector<int64_t> shape{int64_t(n), cols};
            if (auto bad = nonFiniteProblem(buffer.data(), shape); bad && !nonFinite)
                nonFinite = *bad + " (rows from " + std::to_string(done) + ")";
            for (hsize_t i = 0; i < n * cols; ++i)
                t.bits[done * cols + i] =
                    format == HalfFormat::Float16 ? floatToHalf(buffer[i]) : floatToBfloat16(buffer[i]);
        }
    }
    requireChecksum(path, checksum, hash);
    if (nonFinite) fail(path, *nonFinite);
    // Exponent all ones: Inf or NaN (also a float32 too large for float16).
    const uint16_t exponent = format == HalfFormat::Float16 ? 0x7c00u : 0x7f80u;
    for (size_t i = 0; i < t.bits.size(); ++i)
        if ((t.bits[i] & exponent) == exponent)
            fail(path, std::string("holds ") + ((t.bits[i] & uint16_t(~exponent & 0x7fffu)) ? "NaN" : "Inf") + " at [" +
                           std::to_string(long(i) / cols) + ", " + std::to_string(long(i) % cols) + "] in " +
                           (format == HalfFormat::Float16 ? "float16" : "bfloat16"));
}

std::vector<int64_t> Reader::readIntMatrix(const std::string& path, hsize_t cols, hsize_t maxRows) {
    Handle dset = openDataset(path);
    const Dims dims = datasetDims(dset, path);
    if (dims.size() != 2 || dims[1] != cols || dims[0] > maxRows)
        fail(path, "has shape " + shapeText(std::vector<int64_t>(dims.begin(), dims.end())) +
                       ", expected [n, " + std::to_string(cols) + "] with n at most " +
                       std::to_string(maxRows));
    Handle type(H5Dget_type(dset), H5Tclose);
    if (H5Tget_class(type) != H5T_INTEGER)
        fail(path, std::string("has type ") + typeClassName(H5Tget_class(type)) + ", expected integers");
    std::vector<long long> values(dims[0] * dims[1]);
    if (!values.empty() &&
        H5Dread(dset, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
        failHdf5(path, "cannot be read");
    return {values.begin(), values.end()};
}

TokenizerSpec Reader::readTokenizer(const ModelConfig& c) {
    const std::string path = "/tokenizer";
    Handle group = openGroup(path);
    TokenizerSpec spec;
    const std::string kind = readString(group, path, "kind");
    if (kind == "byte_bpe") spec.kind = TokenizerKind::ByteBpe;
    else if (kind == "sentencepiece_bpe") spec.kind = TokenizerKind::SentencePieceBpe;
    else fail(path, "attribute 'kind' is '" + kind + "', expected byte_bpe or sentencepiece_bpe");
    spec.bosId = int(readInt(group, path, "bos_id", -1, c.vocabSize - 1));
    spec.eosId = int(readInt(group, path, "eos_id", -1, c.vocabSize - 1));
    spec.addBos = readInt(group, path, "add_bos", 0, 1) != 0;
    spec.vocab = readStrings(path + "/vocab", hsize_t(c.vocabSize), hsize_t(c.vocabSize));
    // Merges are bounded only loosely: Hugging Face Llama tokenizers list more merges
    // than pieces.
    const hsize_t maxMerges = 16 * hsize_t(c.vocabSize) + 65536;
    if (spec.kind == TokenizerKind::ByteBpe || objectType(path + "/merges") != H5I_BADID)
        spec.merges = readStrings(path + "/merges", hsize_t(-1), maxMerges);
    if (spec.kind == TokenizerKind::SentencePieceBpe || objectType(path + "/scores") != H5I_BADID) {
        const std::string scoresPath = path + "/scores";
        Handle dset = openDataset(scoresPath);
        const Dims dims = datasetDims(dset, scoresPath);
        requireShape(dims, {hsize_t(c.vocabSize)}, scoresPath, " (vocab_size)");
        requireFloat(dset, scoresPath);
        spec.scores.resize(c.vocabSize);
        const std::optional<uint64_t> checksum = storedChecksum(dset, scoresPath);
        TensorHash hash;
        readFloatRows(dset, scoresPath, dims, 0, dims[0], spec.scores.data(), &hash);
        requireChecksum(scoresPath, checksum, hash);
    }
    if (hasAttribute(group, "pre_tokenizer_pattern"))
        spec.preTokenizerPattern = readString(group, path, "pre_tokenizer_pattern");
    if (hasAttribute(group, "normalizer")) {
        const std::string normalizer = readString(group, path, "normalizer");
        if (normalizer != "nfc") fail(path, "attribute 'normalizer' is '" + normalizer + "', expected nfc");
        spec.nfc = true;
    }
    if (hasAttribute(group, "add_dummy_prefix"))
        spec.addDummyPrefix = readInt(group, path, "add_dummy_prefix", 0, 1) != 0;
    if (hasAttribute(group, "ignore_merges"))
        spec.ignoreMerges = readInt(group, path, "ignore_merges", 0, 1) != 0;
    if (objectType(path + "/added_tokens") != H5I_BADID) {
        const std::string addedPath = path + "/added_tokens";
        const std::vector<int64_t> rows = readIntMatrix(addedPath, 3, hsize_t(c.vocabSize));
        spec.addedTokens.emplace();
        for (size_t r = 0; r < rows.size(); r += 3) {
            const std::string row = "row " + std::to_string(r / 3);
            if (rows[r] < 0 || rows[r] >= c.vocabSize)
                fail(addedPath, row + " names token id " + std::to_string(rows[r]) +
                                    ", outside 0 .. " + std::to_string(c.vocabSize - 1));
            if ((rows[r + 1] != 0 && rows[r + 1] != 1) || (rows[r + 2] != 0 && rows[r + 2] != 1))
                fail(addedPath, row + " has flags other than 0 or 1");
            spec.addedTokens->push_back({int(rows[r]), rows[r + 1] != 0, rows[r + 2] != 0});
        }
    }
    if (auto problem = tokenizerProblem(spec, c.vocabSize)) fail(problem->path, problem->text);
    return spec;
}

ChecksumReport Reader::verifyAll() {
    // Every dataset of the file, in HDF5's name order (deterministic messages).
    std::vector<std::string> paths;
#if H5_VERSION_GE(1, 12, 0)
    using ObjectInfo = H5O_info2_t;
#define MWB_H5OVISIT H5Ovisit3
#else
    using ObjectInfo = H5O_info_t;
#define MWB_H5OVISIT H5Ovisit2
#endif
    const auto collect = [](hid_t, const char* name, const ObjectInfo* info, void* data) -> herr_t {
        if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(data)->push_back(std::string("/") + name);
        return 0;
    };
    if (MWB_H5OVISIT(m_h5, H5_INDEX_NAME, H5_ITER_INC, collect, &paths, H5O_INFO_BASIC) < 0)
        failHdf5("/", "cannot be listed");
#undef MWB_H5OVISIT
    ChecksumReport report;
    std::vector<float> block;
    for (const std::string& path : paths) {
        try {
            Handle dset = openDataset(path);
            Handle type(H5Dget_type(dset), H5Tclose);
            if (H5Tget_class(type) != H5T_FLOAT) continue;  // strings and integers carry none
            const Dims dims = datasetDims(dset, path);
            const std::optional<uint64_t> checksum = storedChecksum(dset, path);
            if (!checksum) {
                report.unchecked.push_back(path);
                continue;
            }
            TensorHash hash;
            if (!dims.empty() && dims[0] > 0) {
                hsize_t rowElements = 1;
                for (size_t i = 1; i < dims.size(); ++i) rowElements *= dims[i];
                const hsize_t rows = std::max<hsize_t>(1, kChunkElements / std::max<hsize_t>(rowElements, 1));
                allocate(path, 4.0 * rows * rowElements, [&] { block.resize(std::min(rows, dims[0]) * rowElements); });
                for (hsize_t done = 0; done < dims[0]; done += rows)
                    readFloatRows(dset, path, dims, done, std::min(rows, dims[0] - done), block.data(), &hash);
            }
            requireChecksum(path, checksum, hash);
            ++report.checked;
        } catch (const ModelFormatError& e) {
            report.damaged.push_back(e.what());
        }
    }
    return report;
}

// readTensor serves readWeights above and the edit records (edit_record_schema.cpp),
// which read `before` and `keys` as Matrix.
template void Reader::readTensor<Vector>(const std::string&, Vector&, long, long);
template void Reader::readTensor<Matrix>(const std::string&, Matrix&, long, long);

}  // namespace hdf5

Model loadModel(const fs::path& file, const LoadOptions& options) {
    std::lock_guard lock(hdf5::hdf5Mutex());
    hdf5::silenceHdf5();
    hdf5::Reader reader(file);
    Model model;
    model.config = reader.readConfig();
    WeightPrecision precision = WeightPrecision::Float32;
    if (options.precision) {
        precision = *options.precision;
    } else if (reader.storesFloat16(model.config)) {
        const double float32Bytes = 4.0 * double(model.config.parameterCount());
        const double memory = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
        if (memory > 0 && float32Bytes > 0.5 * memory) precision = WeightPrecision::Float16;
    }
    model.weights = reader.readWeights(model.config, precision);
    TokenizerSpec spec = reader.readTokenizer(model.config);
    try {
        model.tokenizer = Tokenizer(std::move(spec));
    } catch (const Error& e) {
        throw ModelFormatError(file, "/tokenizer", std::string("is not a valid tokenizer: ") + e.what());
    }
    model.edits = reader.readEdits(model.config);
    model.path = file;
    model.tensorsWithoutChecksum = reader.tensorsWithoutChecksum();
    return model;
}

ChecksumReport verifyModelFile(const fs::path& file) {
    std::lock_guard lock(hdf5::hdf5Mutex());
    hdf5::silenceHdf5();
    hdf5::Reader reader(file);
    reader.readConfig();  // a file that is no model file is one error, not a list
    return reader.verifyAll();
}

ModelConfig loadConfig(const fs::path& file) {
    std::lock_guard lock(hdf5::hdf5Mutex());
    hdf5::silenceHdf5();
    return hdf5::Reader(file).readConfig();
}

}  // namespace mwb
