// Internal to io/: writing a model file with the HDF5 C API (docs/file-format.md).
// The edit records (/edits/{n}) are written in edit_record_schema.cpp, the rest in
// hdf5_writer.cpp. Include only from io/*.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/hdf5_handles.h"
#include "io/hdf5_model_file.h"
#include "tensor/errors.h"

namespace mwb::hdf5 {

// Creates the file `temp` (which must not exist); messages name `target`, the file
// that `temp` becomes. Callers hold hdf5Mutex() and have called silenceHdf5().
class Writer {
public:
    Writer(const std::filesystem::path& target, const std::filesystem::path& temp);
    // Without a successful close(): gives up the file so that no HDF5 identifier stays
    // open (the caller removes the temporary file).
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    // Claims `bytes` of disk space for the file before anything is written; throws
    // Error naming a full disk when there is not that much.
    void reserve(double bytes);
    void writeModel(const Model& m, StorageType storage);
    // Flushes and closes the file; throws when HDF5 reports a failure (disk full, ...).
    void close();

private:
    // A full disk (or another refusal of the operating system) is told as such; other
    // failures name the HDF5 path.
    [[noreturn]] void fail(const std::string& path) const;
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
    // The XXH3-64 attribute of a float dataset (tensor_checksum.h).
    void writeChecksum(hid_t dset, const std::string& path, uint64_t value);
    Handle createDataset(const std::string& path, hid_t fileType, const Dims& dims);
    void writeFloats(const std::string& path, const float* data, const Dims& dims,
                     StorageType storage);
    void writeStrings(const std::string& path, const std::vector<std::string>& values);
    void writeInts(const std::string& path, const std::vector<int64_t>& values, const Dims& dims);
    void writeTokenizer(const TokenizerSpec& spec);
    void writeEdit(const EditRecord& e, const ModelConfig& c, int index, StorageType storage);

    std::filesystem::path m_target;
    std::filesystem::path m_temp;
    bool m_firstTensorWritten = false;
    Handle m_h5;
    Handle m_linkProps;  // creates missing parent groups
};

}  // namespace mwb::hdf5
