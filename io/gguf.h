// Reader of GGUF files, llama.cpp's model format (versions 2 and 3; the layout is
// described in ggml's docs/gguf.md): a header, metadata key/value pairs, tensor
// descriptions, and the tensor data, aligned to general.alignment (32 bytes by default).
// Only the header, metadata and tensor descriptions are kept in memory; tensor data is
// read one tensor (or one range of rows) at a time, so reading a file needs little more
// memory than the floats the caller asks for.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mwb {

// gguf_metadata_value_type of the spec.
enum class GgufType : uint32_t {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
};

std::string toString(GgufType t);  // "uint32", "array", ...

// One metadata value. Numeric arrays keep their elements as the file stores them
// (`raw`, little-endian), so that a long array costs no more memory than its bytes.
struct GgufValue {
    GgufType type = GgufType::U8;
    uint64_t bits = 0;   // integer and bool scalars, zero- or sign-extended to 64 bits
    double number = 0;   // every numeric scalar, as a double
    std::string string;  // String
    // Array: the element type, the element count and the elements (in `raw` for numeric
    // types, `strings` for strings, `arrays` for nested arrays).
    GgufType elementType = GgufType::U8;
    uint64_t count = 0;
    std::string raw;
    std::vector<std::string> strings;
    std::vector<GgufValue> arrays;

    bool isIntegral() const;  // an integer or bool scalar
    bool isNumeric() const;   // an integer, bool or float scalar
    // Element i (< count) of a numeric array, as a double.
    double numberAt(uint64_t i) const;
};

struct GgufTensorInfo {
    std::string name;
    // ne[0] first: ne[0] is the length of a row (the fastest-varying index), so a matrix
    // of `rows` rows of `cols` values has dims {cols, rows}.
    std::vector<int64_t> dims;
    uint32_t type = 0;        // ggml_type (io/gguf_quants.h)
    uint64_t offset = 0;      // from the start of the data section
    int64_t elements = 0;     // product of dims
    uint64_t bytes = 0;       // stored size; 0 for a type this program cannot decode
    int64_t rowLength() const { return dims.empty() ? 1 : dims[0]; }
    int64_t rowCount() const { return rowLength() == 0 ? 0 : elements / rowLength(); }
};

// Parses the file when constructed. Every problem throws InvalidInput with one sentence
// naming the file and the key or tensor concerned: not a GGUF file, an unsupported
// version, a truncated file, a length or count that cannot fit in the bytes left (checked
// before anything is allocated), a value type or tensor type that does not exist, too
// deeply nested arrays, duplicate keys or tensor names, a bad general.alignment, a shape
// whose element count overflows, and tensor data that is misaligned or lies past the
// end of the file. Tensors of a type this program cannot decode (IQ2_XXS, ...) are kept
// and refused by readRows.
class GgufFile {
public:
    explicit GgufFile(const std::filesystem::path& file);

    const std::filesystem::path& path() const { return m_path; }
    uint32_t version() const { return m_version; }
    uint64_t alignment() const { return m_alignment; }
    uint64_t dataOffset() const { return m_dataOffset; }

    // The key/value pairs in file order.
    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return m_metadata; }
    const GgufValue* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Typed access; throws InvalidInput naming the file and key when the key is missing
    // (for the forms without a fallback) or holds another type.
    int64_t integer(std::string_view key) const;
    int64_t integer(std::string_view key, int64_t fallback) const;
    double number(std::string_view key) const;
    double number(std::string_view key, double fallback) const;
    bool boolean(std::string_view key, bool fallback) const;
    std::string string(std::string_view key) const;
    std::string string(std::string_view key, const std::string& fallback) const;
    std::vector<std::string> strings(std::string_view key) const;  // an array of strings
    std::vector<double> numbers(std::string_view key) const;       // a numeric array

    const std::vector<GgufTensorInfo>& tensors() const { return m_tensors; }
    const GgufTensorInfo* findTensor(std::string_view name) const;

    // Decodes rows [firstRow, firstRow + rowCount) of `t` (rows of t.rowLength() values)
    // into `out` (rowCount * rowLength floats), reading a few megabytes at a time. Throws
    // InvalidInput for a type this program cannot decode or a read that fails.
    void readRows(const GgufTensorInfo& t, int64_t firstRow, int64_t rowCount,
                  std::span<float> out) const;
    void read(const GgufTensorInfo& t, std::span<float> out) const {
        readRows(t, 0, t.rowCount(), out);
    }

    // InvalidInput "<file>: <what> <problem>".
    [[noreturn]] void fail(const std::string& what, const std::string& problem) const;

private:
    std::filesystem::path m_path;
    mutable std::ifstream m_in;
    uint64_t m_size = 0;
    uint32_t m_version = 0;
    uint64_t m_alignment = 32;
    uint64_t m_dataOffset = 0;
    std::vector<std::pair<std::string, GgufValue>> m_metadata;
    std::unordered_map<std::string, size_t> m_keyIndex;
    std::vector<GgufTensorInfo> m_tensors;
    std::unordered_map<std::string, size_t> m_tensorIndex;
};

}  // namespace mwb
