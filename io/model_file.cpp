// Reading and writing model files (spec/model-format.md) with the HDF5 C API. The only
// file of the project that includes an HDF5 header. Every problem with a file being
// read becomes a ModelFormatError naming the file and the HDF5 path; HDF5 never prints.
//
// Layout of /edits/{n} (the spec fixes the rank-one case; the rest is our extension):
//   attributes  method, subject, prompt, target_new, target_true, created: strings;
//               layer: int when the edit changes one layer, else layers: int array [L].
//   datasets    one layer, rank one:  left [d_model],        right [d_ff]   (the spec)
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
#include "io/model_file.h"

#include <hdf5.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <utility>

#include <unistd.h>

#include "tensor/errors.h"
#include "tensor/float16.h"
#include "io/global_heap_check.h"
#include "io/model_checks.h"

namespace mwb {

namespace {

namespace fs = std::filesystem;
using Dims = std::vector<hsize_t>;

constexpr hsize_t kChunkElements = hsize_t(1) << 18;  // float16 conversion buffer (512 KB)
constexpr size_t kMaxStringBytes = size_t(1) << 16;   // a fixed-length string, per element
constexpr int kFormatVersion = 1;

// HDF5 calls are serialised: the library is only thread-safe as a whole.
std::mutex& hdf5Mutex() {
    static std::mutex mutex;
    return mutex;
}

// Owns one HDF5 identifier and releases it with the matching H5?close.
class Handle {
public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer closer) : m_id(id), m_closer(closer) {}
    Handle(Handle&& other) noexcept : m_id(std::exchange(other.m_id, -1)), m_closer(other.m_closer) {}
    Handle& operator=(Handle&& other) noexcept {
        if (this != &other) {
            close();
            m_id = std::exchange(other.m_id, -1);
            m_closer = other.m_closer;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { close(); }

    operator hid_t() const { return m_id; }
    bool valid() const { return m_id >= 0; }
    herr_t close() {
        herr_t status = 0;
        if (m_id >= 0 && m_closer) status = m_closer(m_id);
        m_id = -1;
        return status;
    }

private:
    hid_t m_id = -1;
    Closer m_closer = nullptr;
};

// Silences HDF5's automatic error printing (per thread in thread-safe builds).
void silenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// The innermost (most specific) message of the HDF5 error stack; clears the stack.
std::string hdf5ErrorText() {
    std::string text;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_UPWARD,
        [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
            if (n == 0 && err && err->desc) *static_cast<std::string*>(data) = err->desc;
            return 0;
        },
        &text);
    H5Eclear2(H5E_DEFAULT);
    return text.empty() ? "unknown HDF5 error" : text;
}

std::string dimsText(const Dims& dims) {
    return shapeText(std::vector<int64_t>(dims.begin(), dims.end()));
}

const char* typeClassName(H5T_class_t c) {
    switch (c) {
        case H5T_INTEGER: return "integer";
        case H5T_FLOAT: return "float";
        case H5T_STRING: return "string";
        case H5T_COMPOUND: return "compound";
        case H5T_ENUM: return "enum";
        case H5T_ARRAY: return "array";
        case H5T_VLEN: return "variable-length";
        case H5T_REFERENCE: return "reference";
        case H5T_BITFIELD: return "bitfield";
        case H5T_OPAQUE: return "opaque";
        default: return "unknown";
    }
}

// IEEE half as h5py defines numpy's float16, in the given byte order.
Handle halfType(H5T_order_t order) {
    Handle t(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    H5Tset_order(t, order);
    return t;
}

bool isIeeeHalf(hid_t type) {
    if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 2) return false;
    size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
    if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
    return spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 &&
           H5Tget_ebias(type) == 15 && H5Tget_norm(type) == H5T_NORM_IMPLIED &&
           H5Tget_offset(type) == 0 && H5Tget_precision(type) == 16;
}

H5T_order_t nativeOrder() { return H5Tget_order(H5T_NATIVE_FLOAT); }

Handle vlenStringType(H5T_cset_t cset) {
    Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, cset);
    return t;
}

// Frees the strings HDF5 allocated for a variable-length read.
void reclaimStrings(hid_t memType, hid_t space, void* buffer) {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(memType, space, H5P_DEFAULT, buffer);
#else
    H5Dvlen_reclaim(memType, space, H5P_DEFAULT, buffer);
#endif
}

// A fixed-length HDF5 string: cut at the first NUL, drop space padding.
std::string fixedString(const char* data, size_t size, H5T_str_t pad) {
    std::string s(data, std::find(data, data + size, '\0'));
    if (pad == H5T_STR_SPACEPAD) s.erase(s.find_last_not_of(' ') + 1);
    return s;
}

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

std::string tokenizerKindName(TokenizerKind kind) {
    return kind == TokenizerKind::ByteBpe ? "byte_bpe" : "sentencepiece_bpe";
}

// ---------------------------------------------------------------------------------------
// Reading

class Reader {
public:
    explicit Reader(const fs::path& file);

    ModelConfig readConfig();
    Weights readWeights(const ModelConfig& c, WeightPrecision precision);
    // True when some linear weight is stored in float16.
    bool storesFloat16(const ModelConfig& c);
    TokenizerSpec readTokenizer(const ModelConfig& c);
    std::vector<EditRecord> readEdits(const ModelConfig& c);

private:
    [[noreturn]] void fail(const std::string& path, const std::string& problem) const {
        throw ModelFormatError(m_file, path, problem);
    }
    [[noreturn]] void failHdf5(const std::string& path, const std::string& what) const {
        fail(path, what + " (" + hdf5ErrorText() + ")");
    }

    // Attributes of the object at objPath.
    Handle openAttribute(hid_t obj, const std::string& objPath, const std::string& name);
    bool hasAttribute(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }
    int64_t readInt(hid_t obj, const std::string& objPath, const std::string& name, int64_t lo,
                    int64_t hi);
    double readDouble(hid_t obj, const std::string& objPath, const std::string& name);
    std::string readString(hid_t obj, const std::string& objPath, const std::string& name);
    std::vector<int64_t> readIntArray(hid_t obj, const std::string& objPath,
                                      const std::string& name, size_t maxCount);

    // Objects. objectType is H5I_BADID when nothing is at `path`.
    H5I_type_t objectType(const std::string& path);
    Handle openGroup(const std::string& path);
    Handle openDataset(const std::string& path);
    Dims datasetDims(hid_t dset, const std::string& path);
    void requireShape(const Dims& dims, const Dims& expected, const std::string& path,
                      const std::string& note = "");
    void requireFloat(hid_t dset, const std::string& path);
    // Reads entries [first, first + count) along dimension 0 of a float dataset into `out`.
    void readFloatRows(hid_t dset, const std::string& path, const Dims& dims, hsize_t first,
                       hsize_t count, float* out);
    template <typename Tensor>
    void readTensor(const std::string& path, Tensor& t, long rows, long cols);
    // A [rows x cols] weight into float16: float16 data as is, other float types
    // rounded a chunk at a time.
    void readHalfTensor(const std::string& path, HalfMatrix& t, long rows, long cols);
    std::vector<std::string> readStrings(const std::string& path, hsize_t exactCount,
                                         hsize_t maxCount);
    EditRecord readEdit(const ModelConfig& c, int index);
    void readFactors(const std::string& path, int64_t nLayers, int64_t rows, int64_t maxRank,
                     std::vector<Matrix>& out);
    // An edit's optional group of one dataset per layer (before/, keys/): false when
    // absent; fails when it holds another number of entries.
    bool hasPerLayerGroup(const std::string& path, int64_t nLayers);

    // Reads the on-disk descriptors of `count` variable-length strings with
    // `read(rawType, buffer)` and checks what they point to before HDF5 follows them.
    template <typename ReadFn>
    void checkStrings(const std::string& path, const std::string& what, size_t count, ReadFn&& read);

    template <typename Fn>
    void allocate(const std::string& path, double bytes, Fn&& fn) {
        try {
            fn();
        } catch (const std::bad_alloc&) {
            fail(path, "needs " + std::to_string(int64_t(bytes / (1 << 20))) +
                           " MB, more memory than is available");
        }
    }

    fs::path m_file;
    Handle m_h5;
    std::optional<GlobalHeapCheck> m_heapCheck;
};

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
                           hsize_t first, hsize_t count, float* out) {
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
    if (!isIeeeHalf(fileType)) {  // float32 as is; other float types converted by HDF5
        readBlock(first, count, H5T_NATIVE_FLOAT, out);
        return;
    }
    // float16: convert through a small buffer, never a second copy of the whole tensor.
    Handle memType = halfType(nativeOrder());
    const hsize_t chunkRows = std::max<hsize_t>(1, kChunkElements / rowElements);
    std::vector<uint16_t> buffer(std::min(chunkRows, count) * rowElements);
    for (hsize_t done = 0; done < count; done += chunkRows) {
        const hsize_t n = std::min(chunkRows, count - done);
        readBlock(first + done, n, memType, buffer.data());
        float* dst = out + done * rowElements;
        for (hsize_t i = 0; i < n * rowElements; ++i) dst[i] = halfToFloat(buffer[i]);
    }
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
    readFloatRows(dset, path, dims, 0, dims[0], t.data());
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
    if (c.isLlama() && hasAttribute(m_h5, "rope_theta"))
        c.ropeTheta = float(readDouble(m_h5, root, "rope_theta"));
    c.tieEmbeddings = readInt(m_h5, root, "tie_embeddings", 0, 1) != 0;
    if (hasAttribute(m_h5, "name")) c.name = readString(m_h5, root, "name");
    if (const std::string problem = configProblem(c); !problem.empty())
        fail(root, "has inconsistent sizes: " + problem);
    return c;
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
        if (precision == WeightPrecision::Float16 && mayKeepInFloat16(path))
            readHalfTensor(path, l.weightHalf, rows, cols);
        else
            readTensor(path, l.weight, rows, cols);
    };
    detail::visitTensors(c, w, tensor, linear);
    return w;
}

bool Reader::storesFloat16(const ModelConfig& c) {
    const std::string path = "/blocks/0/mlp/up/weight";
    if (c.nLayers == 0 || objectType(path) != H5I_DATASET) return false;
    Handle dset = openDataset(path);
    Handle type(H5Dget_type(dset), H5Tclose);
    return isIeeeHalf(type);
}

void Reader::readHalfTensor(const std::string& path, HalfMatrix& t, long rows, long cols) {
    Handle dset = openDataset(path);
    const Dims dims = datasetDims(dset, path);
    requireShape(dims, Dims{hsize_t(rows), hsize_t(cols)}, path);
    requireFloat(dset, path);
    allocate(path, 2.0 * rows * cols, [&] {
        t.rows = rows;
        t.cols = cols;
        t.bits.assign(size_t(rows) * cols, 0);
    });
    Handle fileType(H5Dget_type(dset), H5Tclose);
    if (isIeeeHalf(fileType)) {
        Handle memType = halfType(nativeOrder());
        if (H5Dread(dset, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.bits.data()) < 0)
            failHdf5(path, "cannot be read");
    } else {
        const hsize_t chunkRows = std::max<hsize_t>(1, kChunkElements / hsize_t(cols));
        std::vector<float> buffer(std::min<hsize_t>(chunkRows, rows) * cols);
        for (hsize_t done = 0; done < hsize_t(rows); done += chunkRows) {
            const hsize_t n = std::min<hsize_t>(chunkRows, rows - done);
            readFloatRows(dset, path, dims, done, n, buffer.data());
            const std::vector<int64_t> shape{int64_t(n), cols};
            if (auto bad = nonFiniteProblem(buffer.data(), shape)) fail(path, *bad + " (rows from " + std::to_string(done) + ")");
            for (hsize_t i = 0; i < n * cols; ++i) t.bits[done * cols + i] = floatToHalf(buffer[i]);
        }
    }
    // Exponent all ones: Inf or NaN (also a float32 too large for float16).
    for (size_t i = 0; i < t.bits.size(); ++i)
        if ((t.bits[i] & 0x7c00u) == 0x7c00u)
            fail(path, std::string("holds ") + ((t.bits[i] & 0x3ffu) ? "NaN" : "Inf") + " at [" +
                           std::to_string(long(i) / cols) + ", " + std::to_string(long(i) % cols) +
                           "] in float16");
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
        readFloatRows(dset, scoresPath, dims, 0, dims[0], spec.scores.data());
    }
    if (auto problem = tokenizerProblem(spec, c.vocabSize)) fail(problem->path, problem->text);
    return spec;
}

void Reader::readFactors(const std::string& path, int64_t nLayers, int64_t rows,
                         int64_t maxRank, std::vector<Matrix>& out) {
    Handle dset = openDataset(path);
    const Dims dims = datasetDims(dset, path);
    const std::string expected =
        nLayers == 1 ? "[" + std::to_string(rows) + "] or [" + std::to_string(rows) + ", r]"
                     : "[" + std::to_string(nLayers) + ", " + std::to_string(rows) + ", r]";
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
    for (int64_t j = 0; j < nLayers; ++j) {
        allocate(path, 4.0 * rows * rank, [&] { out[j].resize(rows, rank); });
        if (dims.size() == 3) readFloatRows(dset, path, dims, j, 1, out[j].data());
        else readFloatRows(dset, path, dims, 0, dims[0], out[j].data());
    }
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
    e.subject = readString(group, path, "subject");
    e.prompt = readString(group, path, "prompt");
    e.targetNew = readString(group, path, "target_new");
    e.targetTrue = readString(group, path, "target_true");
    e.created = readString(group, path, "created");
    const int64_t nLayers = int64_t(e.layers.size());
    readFactors(path + "/left", nLayers, c.dModel, maxEditRank(c), e.left);
    readFactors(path + "/right", nLayers, c.dFf, maxEditRank(c), e.right);
    if (hasPerLayerGroup(path + "/before", nLayers)) {
        e.before.resize(nLayers);
        for (int64_t j = 0; j < nLayers; ++j)
            readTensor(path + "/before/" + std::to_string(j), e.before[j], c.dModel, c.dFf);
    }
    if (hasPerLayerGroup(path + "/keys", nLayers)) {
        e.keys.resize(nLayers);
        for (int64_t j = 0; j < nLayers; ++j) {
            const std::string keyPath = path + "/keys/" + std::to_string(j);
            const Dims dims = datasetDims(openDataset(keyPath), keyPath);
            if (dims.size() != 2 || dims[0] != hsize_t(c.dFf) || dims[1] < 1 || dims[1] > hsize_t(maxEditRank(c)))
                fail(keyPath, "has shape " + dimsText(dims) + ", expected [" + std::to_string(c.dFf) +
                                  ", n] with 1 <= n <= " + std::to_string(maxEditRank(c)));
            readTensor(keyPath, e.keys[j], c.dFf, long(dims[1]));
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

class Writer {
public:
    Writer(const fs::path& target, const fs::path& temp);
    void writeModel(const Model& m, StorageType storage);
    // Flushes and closes the file; throws when HDF5 reports a failure (disk full, ...).
    void close();

private:
    [[noreturn]] void fail(const std::string& path) const {
        throw Error(m_target.string() + ": cannot write " + path + " (" + hdf5ErrorText() + ")");
    }
    hid_t ok(hid_t id, const std::string& path) const {
        if (id < 0) fail(path);
        return id;
    }
    void ok(herr_t status, const std::string& path) const {
        if (status < 0) fail(path);
    }

    void writeString(hid_t obj, const std::string& objPath, const char* name, const std::string& v);
    void writeInt(hid_t obj, const std::string& objPath, const char* name, int64_t v);
    void writeIntArray(hid_t obj, const std::string& objPath, const char* name,
                       const std::vector<int64_t>& v);
    void writeDouble(hid_t obj, const std::string& objPath, const char* name, double v);
    Handle createDataset(const std::string& path, hid_t fileType, const Dims& dims);
    void writeFloats(const std::string& path, const float* data, const Dims& dims,
                     StorageType storage);
    void writeStrings(const std::string& path, const std::vector<std::string>& values);
    void writeTokenizer(const TokenizerSpec& spec);
    void writeEdit(const EditRecord& e, const ModelConfig& c, int index, StorageType storage);

    fs::path m_target;
    Handle m_h5;
    Handle m_linkProps;  // creates missing parent groups
};

Writer::Writer(const fs::path& target, const fs::path& temp) : m_target(target) {
    m_h5 = Handle(H5Fcreate(temp.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    ok(m_h5, "a temporary file " + temp.string());
    m_linkProps = Handle(ok(H5Pcreate(H5P_LINK_CREATE), "/"), H5Pclose);
    ok(H5Pset_create_intermediate_group(m_linkProps, 1), "/");
}

void Writer::close() {
    m_linkProps.close();
    if (m_h5.close() < 0) fail("the file");
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

void Writer::writeFloats(const std::string& path, const float* data, const Dims& dims,
                         StorageType storage) {
    hsize_t total = 1;
    for (hsize_t d : dims) total *= d;
    if (storage != StorageType::Float16) {
        const hid_t fileType = storage == StorageType::Float64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
        Handle dset = createDataset(path, fileType, dims);
        if (total) ok(H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path);
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
    if (total == 0) return;
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
    }
}

void Writer::writeStrings(const std::string& path, const std::vector<std::string>& values) {
    Handle type = vlenStringType(H5T_CSET_UTF8);
    Handle dset = createDataset(path, type, {hsize_t(values.size())});
    std::vector<const char*> pointers;
    pointers.reserve(values.size());
    for (const auto& s : values) pointers.push_back(s.c_str());
    if (!values.empty()) ok(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), path);
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
}

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
    write("right", e.right, hsize_t(c.dFf));
    for (size_t j = 0; j < e.before.size(); ++j)
        writeFloats(path + "/before/" + std::to_string(j), e.before[j].data(),
                    {hsize_t(c.dModel), hsize_t(c.dFf)}, storage);
    for (size_t j = 0; j < e.keys.size(); ++j)
        writeFloats(path + "/keys/" + std::to_string(j), e.keys[j].data(),
                    {hsize_t(c.dFf), hsize_t(e.keys[j].cols())}, StorageType::Float32);
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
    if (c.isLlama()) writeDouble(m_h5, root, "rope_theta", plainDouble(c.ropeTheta));
    writeInt(m_h5, root, "tie_embeddings", c.tieEmbeddings ? 1 : 0);
    if (!c.name.empty()) writeString(m_h5, root, "name", c.name);

    auto tensor = [&](const std::string& path, const auto& t) {
        using Tensor = std::decay_t<decltype(t)>;
        const Dims dims = Tensor::ColsAtCompileTime == 1 ? Dims{hsize_t(t.rows())}
                                                         : Dims{hsize_t(t.rows()), hsize_t(t.cols())};
        writeFloats(path, t.data(), dims, storage);
    };
    // Weights kept in float16 are written as they are, whatever `storage` says: a
    // float32 copy would double a large model's file and add nothing.
    auto linear = [&](const std::string& path, const Linear& l) {
        if (!l.isHalf()) return tensor(path, l.weight);
        Handle fileType = halfType(H5T_ORDER_LE);
        Handle memType = halfType(nativeOrder());
        Handle dset = createDataset(path, fileType, Dims{hsize_t(l.weightHalf.rows), hsize_t(l.weightHalf.cols)});
        ok(H5Dwrite(dset, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, l.weightHalf.bits.data()), path);
    };
    detail::visitTensors(c, m.weights, tensor, linear);
    writeTokenizer(m.tokenizer.spec());
    for (size_t i = 0; i < m.edits.size(); ++i) writeEdit(m.edits[i], c, int(i), storage);
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

fs::path temporaryPath(const fs::path& file) {
    static std::atomic<unsigned> counter{0};
    std::random_device random;
    const std::string suffix = std::to_string(random()) + "-" + std::to_string(counter++);
    return file.parent_path() / ("." + file.filename().string() + ".tmp-" + suffix);
}

}  // namespace

Model loadModel(const fs::path& file, const LoadOptions& options) {
    std::lock_guard lock(hdf5Mutex());
    silenceHdf5();
    Reader reader(file);
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
    return model;
}

ModelConfig loadConfig(const fs::path& file) {
    std::lock_guard lock(hdf5Mutex());
    silenceHdf5();
    return Reader(file).readConfig();
}

static std::string existsMessage(const fs::path& file) {
    return file.string() + " already exists and is kept (pass --force to replace it)";
}

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
    std::error_code ec;

    const fs::path temp = temporaryPath(file);
    try {
        std::lock_guard lock(hdf5Mutex());
        silenceHdf5();
        Writer writer(file, temp);
        writer.writeModel(model, storage);
        writer.close();
    } catch (...) {
        fs::remove(temp, ec);
        throw;
    }
    if (!overwrite && fs::exists(file, ec)) {  // appeared while we were writing
        fs::remove(temp, ec);
        throw InvalidInput(existsMessage(file));
    }
    fs::rename(temp, file, ec);
    if (ec) {
        const std::string reason = ec.message();
        fs::remove(temp, ec);
        throw Error("cannot save " + file.string() + ": renaming the temporary file failed (" +
                    reason + ")");
    }
}

}  // namespace mwb
