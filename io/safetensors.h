// Reading and writing safetensors files, Hugging Face's weight format: an 8-byte
// little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}}
// (plus "__metadata__"), then the raw little-endian tensor bytes. Tensors are read one
// at a time by seeking, so a multi-gigabyte file is never held in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace mwb {

// The element types this program converts to and from float32.
enum class TensorDtype { F32, F16, BF16 };

// "F32", "F16", "BF16" (the safetensors names).
const char* dtypeName(TensorDtype dtype);

struct SafetensorInfo {
    std::string name;
    std::string dtype;           // as written: "F32", "BF16", "I64", ...
    std::vector<int64_t> shape;  // empty for a scalar
    uint64_t begin = 0;          // byte range [begin, end) in the data area
    uint64_t end = 0;
    int64_t elementCount() const;
};

// One open safetensors file. Not thread-safe (reads share one stream).
class SafetensorsFile {
public:
    // Opens and validates the whole header. Throws ModelFormatError naming the file (and the
    // tensor) when the file is shorter than 8 bytes, the header length exceeds the file (or
    // 100 MB), the header is not a JSON object, a tensor entry lacks dtype, shape or
    // data_offsets, has an unknown dtype, has offsets outside the data area, a byte range that
    // does not match shape x dtype size, or overlaps another tensor.
    explicit SafetensorsFile(const std::filesystem::path& file);

    const std::filesystem::path& path() const { return m_path; }
    // nullptr when the file has no tensor of that name.
    const SafetensorInfo* find(const std::string& name) const;
    std::vector<std::string> names() const;
    const std::map<std::string, std::string>& metadata() const { return m_metadata; }

    // Reads tensor `name` converted to float32 (row-major) into `out`, which must hold exactly
    // its element count. Converts in chunks straight from the file. Throws ModelFormatError when
    // the tensor is missing, its dtype is not F32, F16, BF16 or F64, or the file cannot be read.
    void read(const std::string& name, std::span<float> out) const;

private:
    std::filesystem::path m_path;
    uint64_t m_dataStart = 0;
    std::map<std::string, SafetensorInfo> m_tensors;
    std::map<std::string, std::string> m_metadata;
    mutable std::ifstream m_in;
};

// One tensor to write: `data` holds product(shape) float32 values, row-major.
struct SafetensorToWrite {
    std::string name;
    std::vector<int64_t> shape;
    const float* data = nullptr;
};

// Writes `tensors` in the given order, converted to `dtype`, with a "__metadata__" entry
// {"format": "pt"} plus `metadata`. Goes through a temporary file renamed into place.
// Throws Error when the file cannot be written, InvalidInput on duplicate names.
void writeSafetensors(const std::filesystem::path& file, std::span<const SafetensorToWrite> tensors,
                      TensorDtype dtype, const std::map<std::string, std::string>& metadata = {});

}  // namespace mwb
