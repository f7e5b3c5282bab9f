// GGUF reader (see gguf.h). The layout, from ggml's docs/gguf.md: "GGUF" magic, uint32
// version, uint64 tensor count, uint64 metadata count; the key/value pairs (key: uint64
// length + UTF-8 bytes, uint32 value type, value; an array is uint32 element type, uint64
// count, elements); the tensor infos (name, uint32 n_dims, n_dims uint64 ne[], uint32
// ggml_type, uint64 offset into the data section); padding to general.alignment; the
// data section. Everything is little-endian.
#include "io/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "io/gguf_quants.h"
#include "tensor/errors.h"

namespace mwb {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr int kMaxDims = 4;              // GGML_MAX_DIMS
constexpr int kMaxNesting = 8;           // arrays of arrays deeper than this are refused
constexpr uint64_t kChunkBytes = 8u << 20;

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader assumes a little-endian host");

// Bytes a value of scalar type `t` takes in the file; 0 for String and Array.
uint64_t scalarBytes(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        case GgufType::String: case GgufType::Array: return 0;
    }
    return 0;
}

bool knownType(uint32_t t) { return t <= uint32_t(GgufType::F64); }

// Decodes a numeric scalar of type `t` from `p` into value.bits and value.number.
void decodeScalar(GgufType t, const char* p, GgufValue& v) {
    const auto get = [p]<typename T>(T) {
        T x;
        std::memcpy(&x, p, sizeof x);
        return x;
    };
    switch (t) {
        case GgufType::U8: v.bits = get(uint8_t{}); v.number = double(v.bits); break;
        case GgufType::Bool: v.bits = get(uint8_t{}) != 0; v.number = double(v.bits); break;
        case GgufType::U16: v.bits = get(uint16_t{}); v.number = double(v.bits); break;
        case GgufType::U32: v.bits = get(uint32_t{}); v.number = double(v.bits); break;
        case GgufType::U64: v.bits = get(uint64_t{}); v.number = double(v.bits); break;
        case GgufType::I8: { const int64_t x = get(int8_t{}); v.bits = uint64_t(x); v.number = double(x); break; }
        case GgufType::I16: { const int64_t x = get(int16_t{}); v.bits = uint64_t(x); v.number = double(x); break; }
        case GgufType::I32: { const int64_t x = get(int32_t{}); v.bits = uint64_t(x); v.number = double(x); break; }
        case GgufType::I64: { const int64_t x = get(int64_t{}); v.bits = uint64_t(x); v.number = double(x); break; }
        case GgufType::F32: v.number = double(get(float{})); break;
        case GgufType::F64: v.number = get(double{}); break;
        case GgufType::String: case GgufType::Array: break;
    }
}

// Sequential reader of the header part, with every length checked against the bytes left.
class Parser {
public:
    Parser(const GgufFile& file, std::ifstream& in, uint64_t size)
        : m_file(file), m_in(in), m_size(size) {}

    uint64_t position() const { return m_pos; }
    uint64_t left() const { return m_size - m_pos; }

    void bytes(char* dst, uint64_t n, const std::string& what) {
        if (n > left())
            m_file.fail(what, "is cut off: the file ends at byte " + std::to_string(m_size) +
                                  ", but " + std::to_string(n) + " more bytes are needed at byte " +
                                  std::to_string(m_pos) + " (the file is truncated)");
        if (n > 0 && !m_in.read(dst, std::streamsize(n)))
            m_file.fail(what, "cannot be read at byte " + std::to_string(m_pos));
        m_pos += n;
    }
    template <typename T>
    T scalar(const std::string& what) {
        T x;
        bytes(reinterpret_cast<char*>(&x), sizeof x, what);
        return x;
    }
    std::string string(const std::string& what) {
        const uint64_t n = scalar<uint64_t>(what);
        if (n > left())
            m_file.fail(what, "declares a string of " + std::to_string(n) + " bytes, but only " +
                                  std::to_string(left()) + " bytes are left in the file");
        std::string s(size_t(n), '\0');
        bytes(s.data(), n, what);
        return s;
    }

    GgufValue value(GgufType type, const std::string& what, int depth) {
        GgufValue v;
        v.type = type;
        if (type == GgufType::String) {
            v.string = string(what);
        } else if (type == GgufType::Array) {
            array(v, what, depth);
        } else {
            char buf[8];
            bytes(buf, scalarBytes(type), what);
            decodeScalar(type, buf, v);
        }
        return v;
    }

    GgufType valueType(const std::string& what) {
        const uint32_t t = scalar<uint32_t>(what);
        if (!knownType(t))
            m_file.fail(what, "has value type " + std::to_string(t) +
                                  ", which GGUF does not define (0 .. 12)");
        return GgufType(t);
    }

private:
    void array(GgufValue& v, const std::string& what, int depth) {
        if (depth >= kMaxNesting)
            m_file.fail(what, "nests arrays more than " + std::to_string(kMaxNesting) + " deep");
        v.elementType = valueType(what);
        v.count = scalar<uint64_t>(what);
        // The smallest an element can be: a string is at least its 8-byte length, an
        // array at least its type and count.
        const uint64_t minBytes = v.elementType == GgufType::String  ? 8
                                  : v.elementType == GgufType::Array ? 12
                                                                     : scalarBytes(v.elementType);
        if (v.count > left() / minBytes)
            m_file.fail(what, "declares an array of " + std::to_string(v.count) + " " +
                                  toString(v.elementType) + " elements, which cannot fit in the " +
                                  std::to_string(left()) + " bytes left in the file");
        if (v.elementType == GgufType::String) {
            v.strings.reserve(size_t(v.count));
            for (uint64_t i = 0; i < v.count; ++i) v.strings.push_back(string(what));
        } else if (v.elementType == GgufType::Array) {
            v.arrays.reserve(size_t(v.count));
            for (uint64_t i = 0; i < v.count; ++i)
                v.arrays.push_back(value(GgufType::Array, what, depth + 1));
        } else {
            v.raw.resize(size_t(v.count * minBytes));
            bytes(v.raw.data(), v.raw.size(), what);
        }
    }

    const GgufFile& m_file;
    std::ifstream& m_in;
    uint64_t m_size;
    uint64_t m_pos = 0;
};

std::string inQuotes(std::string_view s) {
    std::string out(1, '\'');
    out.append(s).push_back('\'');
    return out;
}

}  // namespace

std::string toString(GgufType t) {
    static const char* const kNames[] = {"uint8",  "int8",  "uint16", "int16", "uint32",
                                         "int32",  "float32", "bool", "string", "array",
                                         "uint64", "int64", "float64"};
    return knownType(uint32_t(t)) ? kNames[uint32_t(t)] : "type " + std::to_string(uint32_t(t));
}

bool GgufValue::isIntegral() const {
    return type != GgufType::F32 && type != GgufType::F64 && scalarBytes(type) > 0;
}

bool GgufValue::isNumeric() const { return scalarBytes(type) > 0; }

double GgufValue::numberAt(uint64_t i) const {
    const uint64_t n = scalarBytes(elementType);
    MWB_CHECK(type == GgufType::Array && n > 0 && i < count);
    GgufValue x;
    decodeScalar(elementType, raw.data() + i * n, x);
    return x.number;
}

GgufFile::GgufFile(const fs::path& file) : m_path(file) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw InvalidInput(file.string() + " is not a file");
    m_size = fs::file_size(file, ec);
    m_in.open(file, std::ios::binary);
    if (ec || !m_in) throw InvalidInput(file.string() + " cannot be opened");
    Parser p(*this, m_in, m_size);
    if (m_size < 4 || p.scalar<uint32_t>("header") != kMagic)
        throw InvalidInput(file.string() + " is not a GGUF file (it does not start with \"GGUF\")");
    m_version = p.scalar<uint32_t>("header");
    if (m_version != 2 && m_version != 3) {
        const std::string hint = (m_version & 0xFFFFu) == 0 && m_version != 0
                                     ? " (a big-endian file, which this program cannot read)"
                                 : m_version == 1 ? " (version 1 predates 64-bit counts)"
                                                  : "";
        throw InvalidInput(file.string() + " is GGUF version " + std::to_string(m_version) +
                           hint + "; versions 2 and 3 can be read");
    }
    const uint64_t nTensors = p.scalar<uint64_t>("header");
    const uint64_t nKeys = p.scalar<uint64_t>("header");
    // A key/value pair takes at least 13 bytes (8-byte key length, type, one value byte),
    // a tensor info at least 24 (name length, n_dims, type, offset).
    if (nKeys > p.left() / 13)
        fail("header", "declares " + std::to_string(nKeys) + " metadata keys, which cannot fit in " +
                           std::to_string(m_size) + " bytes");
    if (nTensors > p.left() / 24)
        fail("header", "declares " + std::to_string(nTensors) + " tensors, which cannot fit in " +
                           std::to_string(m_size) + " bytes");

    m_metadata.reserve(size_t(nKeys));
    for (uint64_t i = 0; i < nKeys; ++i) {
        const std::string key = p.string("metadata key " + std::to_string(i));
        const std::string what = "key " + inQuotes(key);
        if (m_keyIndex.count(key)) fail(what, "appears twice");
        const GgufType type = p.valueType(what);
        GgufValue v = p.value(type, what, 0);
        m_keyIndex[key] = m_metadata.size();
        m_metadata.emplace_back(key, std::move(v));
    }
    if (const GgufValue* a = find("general.alignment")) {
        // The spec makes it a uint32; ggml requires a power of two.
        if (a->type != GgufType::U32 || a->bits == 0 || !std::has_single_bit(a->bits))
            fail("key 'general.alignment'", "must be a uint32 power of two");
        m_alignment = a->bits;
    }

    m_tensors.reserve(size_t(nTensors));
    for (uint64_t i = 0; i < nTensors; ++i) {
        GgufTensorInfo t;
        t.name = p.string("tensor info " + std::to_string(i));
        const std::string what = "tensor " + inQuotes(t.name);
        if (m_tensorIndex.count(t.name)) fail(what, "appears twice");
        const uint32_t nDims = p.scalar<uint32_t>(what);
        if (nDims > kMaxDims)
            fail(what, "has " + std::to_string(nDims) + " dimensions; ggml allows at most " +
                           std::to_string(kMaxDims));
        t.elements = 1;
        for (uint32_t d = 0; d < nDims; ++d) {
            const uint64_t ne = p.scalar<uint64_t>(what);
            if (ne > uint64_t(INT64_MAX) ||
                __builtin_mul_overflow(t.elements, int64_t(ne), &t.elements))
                fail(what, "has a shape whose element count overflows 64 bits");
            t.dims.push_back(int64_t(ne));
        }
        t.type = p.scalar<uint32_t>(what);
        t.offset = p.scalar<uint64_t>(what);
        if (const auto info = ggmlTypeInfo(t.type)) {
            if (t.rowLength() % info->blockElements != 0)
                fail(what, "has rows of " + std::to_string(t.rowLength()) + " values, not a multiple of the " +
                               info->name + " block of " + std::to_string(info->blockElements));
            const uint64_t blocks = uint64_t(t.elements / info->blockElements);
            if (__builtin_mul_overflow(blocks, uint64_t(info->blockBytes), &t.bytes))
                fail(what, "has a size that overflows 64 bits");
        }
        if (t.offset % m_alignment != 0)
            fail(what, "has data offset " + std::to_string(t.offset) +
                           ", which is not a multiple of the alignment " + std::to_string(m_alignment));
        m_tensorIndex[t.name] = m_tensors.size();
        m_tensors.push_back(std::move(t));
    }
    m_dataOffset = (p.position() + m_alignment - 1) / m_alignment * m_alignment;
    for (const GgufTensorInfo& t : m_tensors) {
        if (t.bytes == 0) continue;
        if (m_dataOffset > m_size || t.offset > m_size - m_dataOffset ||
            t.bytes > m_size - m_dataOffset - t.offset)
            fail("tensor " + inQuotes(t.name),
                 "has data at bytes " + std::to_string(t.offset) + " .. " +
                     std::to_string(t.offset + t.bytes) + " of the data section, past the end of the file (" +
                     std::to_string(m_dataOffset > m_size ? 0 : m_size - m_dataOffset) +
                     " data bytes; the file is truncated or the offset is wrong)");
    }
}

void GgufFile::fail(const std::string& what, const std::string& problem) const {
    throw InvalidInput(m_path.string() + ": " + what + " " + problem);
}

const GgufValue* GgufFile::find(std::string_view key) const {
    const auto it = m_keyIndex.find(std::string(key));
    return it == m_keyIndex.end() ? nullptr : &m_metadata[it->second].second;
}

int64_t GgufFile::integer(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) fail("key " + inQuotes(key), "is missing");
    if (!v->isIntegral() || v->type == GgufType::Bool)
        fail("key " + inQuotes(key), "is a " + toString(v->type) + ", not an integer");
    if (v->type == GgufType::U64 && v->bits > uint64_t(INT64_MAX))
        fail("key " + inQuotes(key), "is out of range");
    return int64_t(v->bits);
}

int64_t GgufFile::integer(std::string_view key, int64_t fallback) const {
    return has(key) ? integer(key) : fallback;
}

double GgufFile::number(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) fail("key " + inQuotes(key), "is missing");
    if (!v->isNumeric() || v->type == GgufType::Bool)
        fail("key " + inQuotes(key), "is a " + toString(v->type) + ", not a number");
    return v->number;
}

double GgufFile::number(std::string_view key, double fallback) const {
    return has(key) ? number(key) : fallback;
}

bool GgufFile::boolean(std::string_view key, bool fallback) const {
    const GgufValue* v = find(key);
    if (!v) return fallback;
    if (v->type != GgufType::Bool) fail("key " + inQuotes(key), "is a " + toString(v->type) + ", not a bool");
    return v->bits != 0;
}

std::string GgufFile::string(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) fail("key " + inQuotes(key), "is missing");
    if (v->type != GgufType::String) fail("key " + inQuotes(key), "is a " + toString(v->type) + ", not a string");
    return v->string;
}

std::string GgufFile::string(std::string_view key, const std::string& fallback) const {
    return has(key) ? string(key) : fallback;
}

std::vector<std::string> GgufFile::strings(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) fail("key " + inQuotes(key), "is missing");
    if (v->type != GgufType::Array || v->elementType != GgufType::String)
        fail("key " + inQuotes(key), "is not an array of strings");
    return v->strings;
}

std::vector<double> GgufFile::numbers(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) fail("key " + inQuotes(key), "is missing");
    if (v->type != GgufType::Array || scalarBytes(v->elementType) == 0 || v->elementType == GgufType::Bool)
        fail("key " + inQuotes(key), "is not an array of numbers");
    std::vector<double> out(size_t(v->count));
    for (uint64_t i = 0; i < v->count; ++i) out[size_t(i)] = v->numberAt(i);
    return out;
}

const GgufTensorInfo* GgufFile::findTensor(std::string_view name) const {
    const auto it = m_tensorIndex.find(std::string(name));
    return it == m_tensorIndex.end() ? nullptr : &m_tensors[it->second];
}

void GgufFile::readRows(const GgufTensorInfo& t, int64_t firstRow, int64_t rowCount,
                        std::span<float> out) const {
    const std::string what = "tensor " + inQuotes(t.name);
    const std::optional<GgmlTypeInfo> info = ggmlTypeInfo(t.type);
    if (!info)
        fail(what, "is stored as " + ggmlTypeName(t.type) +
                       ", which this program cannot decode (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, "
                       "Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K can be)");
    MWB_CHECK(firstRow >= 0 && rowCount >= 0 && firstRow + rowCount <= t.rowCount());
    const int64_t rowLength = t.rowLength();
    MWB_CHECK(int64_t(out.size()) == rowCount * rowLength);
    const int64_t blocksPerRow = rowLength / info->blockElements;
    const uint64_t rowBytes = uint64_t(blocksPerRow) * uint64_t(info->blockBytes);
    const int64_t rowsPerChunk = std::max<int64_t>(1, int64_t(kChunkBytes / std::max<uint64_t>(rowBytes, 1)));
    std::vector<uint8_t> buffer;
    for (int64_t r = 0; r < rowCount; r += rowsPerChunk) {
        const int64_t n = std::min(rowsPerChunk, rowCount - r);
        buffer.resize(size_t(uint64_t(n) * rowBytes));
        m_in.clear();
        m_in.seekg(std::streamoff(m_dataOffset + t.offset + uint64_t(firstRow + r) * rowBytes));
        if (!m_in.read(reinterpret_cast<char*>(buffer.data()), std::streamsize(buffer.size())))
            fail(what, "cannot be read (the file changed or is unreadable)");
        dequantizeBlocks(GgmlType(t.type), buffer.data(), n * blocksPerRow,
                         out.data() + r * rowLength);
    }
}

}  // namespace mwb
