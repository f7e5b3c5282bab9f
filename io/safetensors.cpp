// safetensors reader (validating every header field before anything is allocated from it)
// and writer.
#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "tensor/atomic_file.h"
#include "tensor/bfloat16.h"
#include "tensor/errors.h"
#include "tensor/float16.h"

namespace mwb {

namespace fs = std::filesystem;

namespace {

// The Rust reference implementation refuses headers above 100 MB; so do we, before
// allocating the header.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr int64_t kMaxElements = int64_t(1) << 50;
constexpr size_t kChunkElements = size_t(1) << 16;

// Bytes per element of every safetensors dtype of whole bytes; 0 for an unknown name.
int dtypeSize(const std::string& dtype) {
    static const std::map<std::string, int> sizes = {
        {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
        {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
        {"F32", 4},  {"I64", 8}, {"U64", 8}, {"F64", 8}};
    const auto it = sizes.find(dtype);
    return it == sizes.end() ? 0 : it->second;
}

std::string shapeString(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

uint64_t readLittleEndian64(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// One tensor entry of the header, checked against the data area of `dataSize` bytes.
SafetensorInfo parseEntry(const fs::path& file, const std::string& name, const nlohmann::json& j,
                          uint64_t dataSize) {
    const auto fail = [&](const std::string& problem) {
        throw ModelFormatError(file, name, problem);
    };
    if (!j.is_object()) fail("is not a JSON object in the header");
    SafetensorInfo info;
    info.name = name;
    const auto dtype = j.find("dtype");
    if (dtype == j.end() || !dtype->is_string()) fail("has no dtype string in the header");
    info.dtype = dtype->get<std::string>();
    const int size = dtypeSize(info.dtype);
    if (size == 0) fail("has unknown dtype '" + info.dtype + "'");
    const auto shape = j.find("shape");
    if (shape == j.end() || !shape->is_array()) fail("has no shape array in the header");
    int64_t elements = 1;
    for (const auto& d : *shape) {
        if (!d.is_number_unsigned()) fail("has a shape entry that is not a non-negative integer");
        const uint64_t v = d.get<uint64_t>();
        if (v > uint64_t(kMaxElements) ||
            (v > 0 && uint64_t(elements) > uint64_t(kMaxElements) / v))
            fail("declares an absurdly large shape");
        info.shape.push_back(int64_t(v));
        elements *= int64_t(v);
    }
    const auto offsets = j.find("data_offsets");
    if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
        fail("has no data_offsets pair of non-negative integers in the header");
    info.begin = (*offsets)[0].get<uint64_t>();
    info.end = (*offsets)[1].get<uint64_t>();
    const std::string range =
        "[" + std::to_string(info.begin) + ", " + std::to_string(info.end) + "]";
    if (info.begin > info.end) fail("has data_offsets " + range + " that end before they begin");
    if (info.end > dataSize)
        fail("has data_offsets " + range + " outside the data area of " + std::to_string(dataSize) +
             " bytes");
    const uint64_t need = uint64_t(elements) * uint64_t(size);
    if (need != info.end - info.begin)
        fail("has shape " + shapeString(info.shape) + " of dtype " + info.dtype + " (" +
             std::to_string(need) + " bytes), but its data_offsets " + range + " span " +
             std::to_string(info.end - info.begin) + " bytes");
    return info;
}

}  // namespace

const char* dtypeName(TensorDtype dtype) {
    switch (dtype) {
        case TensorDtype::F32:
            return "F32";
        case TensorDtype::F16:
            return "F16";
        case TensorDtype::BF16:
            return "BF16";
    }
    return "?";
}

int64_t SafetensorInfo::elementCount() const {
    int64_t n = 1;
    for (const int64_t d : shape) n *= d;
    return n;
}

SafetensorsFile::SafetensorsFile(const fs::path& file) : m_path(file) {
    std::error_code ec;
    const uint64_t fileSize = fs::file_size(file, ec);
    if (ec) throw ModelFormatError(file, "", "cannot be read (" + ec.message() + ")");
    m_in.open(file, std::ios::binary);
    if (!m_in) throw ModelFormatError(file, "", "cannot be opened");
    if (fileSize < 8)
        throw ModelFormatError(
            file, "",
            "is too short to be a safetensors file (" + std::to_string(fileSize) + " bytes)");
    unsigned char lengthBytes[8];
    m_in.read(reinterpret_cast<char*>(lengthBytes), 8);
    const uint64_t headerSize = readLittleEndian64(lengthBytes);
    if (headerSize > fileSize - 8)
        throw ModelFormatError(file, "",
                               "declares a header of " + std::to_string(headerSize) +
                                   " bytes, but the file has only " + std::to_string(fileSize - 8) +
                                   " bytes after the length");
    if (headerSize > kMaxHeaderBytes)
        throw ModelFormatError(file, "",
                               "declares a header of " + std::to_string(headerSize) +
                                   " bytes, more than the 100 MB safetensors allows");
    std::string header(headerSize, '\0');
    m_in.read(header.data(), std::streamsize(headerSize));
    if (!m_in) throw ModelFormatError(file, "", "cannot be read: the header is truncated");
    m_dataStart = 8 + headerSize;
    const uint64_t dataSize = fileSize - m_dataStart;

    const nlohmann::json j = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
        throw ModelFormatError(file, "",
                               "has a header that is not a JSON object (not a safetensors file?)");
    for (const auto& [name, entry] : j.items()) {
        if (name == "__metadata__") {
            if (entry.is_object())
                for (const auto& [key, value] : entry.items())
                    if (value.is_string()) m_metadata[key] = value.get<std::string>();
            continue;
        }
        m_tensors.emplace(name, parseEntry(file, name, entry, dataSize));
    }
    // Two tensors must not share bytes: sort by start and compare neighbours.
    std::vector<const SafetensorInfo*> byStart;
    for (const auto& [name, info] : m_tensors)
        if (info.end > info.begin) byStart.push_back(&info);
    std::sort(byStart.begin(), byStart.end(),
              [](const auto* a, const auto* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < byStart.size(); ++i)
        if (byStart[i]->begin < byStart[i - 1]->end)
            throw ModelFormatError(file, byStart[i]->name,
                                   "overlaps tensor " + byStart[i - 1]->name +
                                       " in the data area (bytes " +
                                       std::to_string(byStart[i]->begin) + " .. " +
                                       std::to_string(byStart[i - 1]->end) + " are shared)");
}

const SafetensorInfo* SafetensorsFile::find(const std::string& name) const {
    const auto it = m_tensors.find(name);
    return it == m_tensors.end() ? nullptr : &it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
    std::vector<std::string> out;
    for (const auto& [name, info] : m_tensors) out.push_back(name);
    return out;
}

void SafetensorsFile::read(const std::string& name, std::span<float> out) const {
    const SafetensorInfo* info = find(name);
    if (!info) throw ModelFormatError(m_path, name, "is not in the file");
    const std::string& dtype = info->dtype;
    if (dtype != "F32" && dtype != "F16" && dtype != "BF16" && dtype != "F64")
        throw ModelFormatError(m_path, name,
                               "has dtype " + dtype +
                                   "; only F32, F16, BF16 and F64 "
                                   "tensors can be imported");
    MWB_CHECK(int64_t(out.size()) == info->elementCount());
    const size_t size = size_t(dtypeSize(dtype));
    m_in.clear();
    m_in.seekg(std::streamoff(m_dataStart + info->begin));
    std::vector<unsigned char> buffer(std::min(out.size(), kChunkElements) * size);
    for (size_t done = 0; done < out.size();) {
        const size_t n = std::min(out.size() - done, kChunkElements);
        m_in.read(reinterpret_cast<char*>(buffer.data()), std::streamsize(n * size));
        if (!m_in) throw ModelFormatError(m_path, name, "cannot be read (was the file truncated?)");
        float* dst = out.data() + done;
        const unsigned char* src = buffer.data();
        // safetensors is little-endian, like every host this program is built for.
        if (dtype == "F32") {
            std::memcpy(dst, src, n * 4);
        } else if (dtype == "F64") {
            for (size_t i = 0; i < n; ++i) {
                double v;
                std::memcpy(&v, src + 8 * i, 8);
                dst[i] = float(v);
            }
        } else {
            const bool half = dtype == "F16";
            for (size_t i = 0; i < n; ++i) {
                const uint16_t v = uint16_t(src[2 * i] | (src[2 * i + 1] << 8));
                dst[i] = half ? halfToFloat(v) : bfloat16ToFloat(v);
            }
        }
        done += n;
    }
}

void writeSafetensors(const fs::path& file, std::span<const SafetensorToWrite> tensors,
                      TensorDtype dtype, const std::map<std::string, std::string>& metadata) {
    const size_t size = dtype == TensorDtype::F32 ? 4 : 2;
    nlohmann::ordered_json header;
    nlohmann::ordered_json meta = {{"format", "pt"}};
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = meta;
    std::set<std::string> seen;
    uint64_t offset = 0;
    for (const SafetensorToWrite& t : tensors) {
        if (!seen.insert(t.name).second || t.name == "__metadata__")
            throw InvalidInput("cannot write " + file.string() + ": tensor name " + t.name +
                               " is used twice or reserved");
        uint64_t n = 1;
        for (const int64_t d : t.shape) n *= uint64_t(d);
        header[t.name] = {{"dtype", dtypeName(dtype)},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + n * size}}};
        offset += n * size;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8,
                ' ');  // data starts 8-byte aligned, as the reference writes

    writeFileAtomically(file, [&](std::ostream& out) {
        unsigned char length[8];
        for (int i = 0; i < 8; ++i)
            length[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));
        out.write(reinterpret_cast<const char*>(length), 8);
        out.write(text.data(), std::streamsize(text.size()));
        std::vector<unsigned char> buffer(kChunkElements * size);
        for (const SafetensorToWrite& t : tensors) {
            size_t count = 1;
            for (const int64_t d : t.shape) count *= size_t(d);
            for (size_t done = 0; done < count;) {
                const size_t n = std::min(count - done, kChunkElements);
                const float* src = t.data + done;
                if (dtype == TensorDtype::F32) {
                    std::memcpy(buffer.data(), src, n * 4);
                } else {
                    for (size_t i = 0; i < n; ++i) {
                        const uint16_t v = dtype == TensorDtype::F16 ? floatToHalf(src[i])
                                                                     : floatToBfloat16(src[i]);
                        buffer[2 * i] = static_cast<unsigned char>(v & 0xff);
                        buffer[2 * i + 1] = static_cast<unsigned char>(v >> 8);
                    }
                }
                out.write(reinterpret_cast<const char*>(buffer.data()), std::streamsize(n * size));
                done += n;
            }
        }
    });
}

}  // namespace mwb
