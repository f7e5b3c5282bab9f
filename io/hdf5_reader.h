// Internal to io/: reading a model file with the HDF5 C API (docs/file-format.md).
// Every problem with the file becomes a ModelFormatError naming the file and the HDF5
// path; HDF5 never prints. The edit records (/edits/{n}) are read in
// edit_record_schema.cpp, the rest in hdf5_reader.cpp. Include only from io/*.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "io/global_heap_check.h"
#include "io/hdf5_handles.h"
#include "io/hdf5_model_file.h"
#include "io/tensor_checksum.h"
#include "model/model.h"
#include "tensor/errors.h"

namespace mwb::hdf5 {

// Callers hold hdf5Mutex() and have called silenceHdf5().
class Reader {
public:
    explicit Reader(const std::filesystem::path& file);

    ModelConfig readConfig();
    // The mixture-of-experts attributes (n_experts and the others) into c.
    void readExperts(ModelConfig& c);
    Weights readWeights(const ModelConfig& c, WeightPrecision precision);
    // True when some linear weight is stored in float16.
    bool storesFloat16(const ModelConfig& c);
    TokenizerSpec readTokenizer(const ModelConfig& c);
    std::vector<EditRecord> readEdits(const ModelConfig& c);
    // How many float datasets read so far carried no checksum (files written before
    // checksums, or by other programs).
    int tensorsWithoutChecksum() const { return m_withoutChecksum; }
    // Reads every float dataset of the file and compares it with its checksum
    // (hdf5_model_file.h, verifyModelFile).
    ChecksumReport verifyAll();

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
    // With `hash`, the values as stored (tensor_checksum.h) are added to it.
    void readFloatRows(hid_t dset, const std::string& path, const Dims& dims, hsize_t first,
                       hsize_t count, float* out, TensorHash* hash = nullptr);
    // The checksum attribute of a float dataset; nullopt (and counted) when it has none.
    std::optional<uint64_t> storedChecksum(hid_t dset, const std::string& path);
    // Fails naming the tensor when `expected` is set and `hash` differs from it.
    void requireChecksum(const std::string& path, const std::optional<uint64_t>& expected,
                         const TensorHash& hash);
    // Defined in hdf5_reader.cpp, which instantiates it for Vector and Matrix.
    template <typename Tensor>
    void readTensor(const std::string& path, Tensor& t, long rows, long cols);
    // A [rows x cols] weight into float16: float16 data as is, other float types
    // rounded a chunk at a time.
    void readHalfTensor(const std::string& path, HalfMatrix& t, long rows, long cols, HalfFormat format);
    // An integer dataset of shape [rows, cols] (rows at most maxRows), row-major.
    std::vector<int64_t> readIntMatrix(const std::string& path, hsize_t cols, hsize_t maxRows);
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
    // Defined in hdf5_reader.cpp, its only user.
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

    std::filesystem::path m_file;
    Handle m_h5;
    std::optional<GlobalHeapCheck> m_heapCheck;
    int m_withoutChecksum = 0;
};

}  // namespace mwb::hdf5
