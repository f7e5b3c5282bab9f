// Validation of HDF5 global heap collections read straight from the file (the layout
// is the HDF5 file format specification's "Global Heap", version 1).
#include "io/global_heap_check.h"

namespace mwb {

namespace {

constexpr uint64_t kAlignment = 8;

uint64_t decode(const unsigned char* p, int bytes) {  // little-endian, as HDF5 stores it
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
    return value;
}

std::string hex(uint64_t x) {
    const char* digits = "0123456789abcdef";
    std::string s;
    do {
        s.insert(s.begin(), digits[x & 15]);
        x >>= 4;
    } while (x);
    return "0x" + s;
}

}  // namespace

GlobalHeapCheck::GlobalHeapCheck(std::filesystem::path file, uint64_t baseAddress,
                                 int sizeOfAddress, int sizeOfLength)
    : m_file(std::move(file)), m_base(baseAddress), m_sizeOfAddress(sizeOfAddress),
      m_sizeOfLength(sizeOfLength) {
    std::error_code ec;
    m_fileSize = std::filesystem::file_size(m_file, ec);
    if (ec) m_fileSize = 0;
    m_in.open(m_file, std::ios::binary);
}

const GlobalHeapCheck::Collection& GlobalHeapCheck::collection(uint64_t address) {
    auto found = m_collections.find(address);
    if (found != m_collections.end()) return found->second;
    Collection& c = m_collections[address];
    const uint64_t headerSize = 8 + uint64_t(m_sizeOfLength);
    const uint64_t objectHeaderSize = 8 + uint64_t(m_sizeOfLength);
    const uint64_t offset = m_base + address;
    auto readAt = [&](uint64_t at, unsigned char* out, uint64_t n) {
        m_in.clear();
        m_in.seekg(std::streamoff(at));
        m_in.read(reinterpret_cast<char*>(out), std::streamsize(n));
        return bool(m_in);
    };

    unsigned char header[16 + 8] = {};
    if (address > m_fileSize || offset + headerSize > m_fileSize || !readAt(offset, header, headerSize)) {
        c.problem = "points to a heap collection at " + hex(address) + " outside the file";
        return c;
    }
    if (std::string(reinterpret_cast<char*>(header), 4) != "GCOL" || header[4] != 1) {
        c.problem = "points to " + hex(address) + ", which is not a heap collection";
        return c;
    }
    const uint64_t size = decode(header + 8, m_sizeOfLength);
    if (size < headerSize || size > m_fileSize || offset + size > m_fileSize) {
        c.problem = "points to a heap collection at " + hex(address) + " of impossible size " +
                    std::to_string(size);
        return c;
    }
    std::vector<unsigned char> bytes(size);
    if (!readAt(offset, bytes.data(), size)) {
        c.problem = "points to an unreadable heap collection at " + hex(address);
        return c;
    }
    // Walk the objects exactly as HDF5 does, but refuse what it would trust blindly: an
    // object reaching past the collection, or a free-space entry that does not advance.
    uint64_t pos = headerSize;
    while (pos < size) {
        if (pos + objectHeaderSize > size) break;  // a tail too small for a header: free space
        const uint32_t index = uint32_t(decode(&bytes[pos], 2));
        const uint64_t objectSize = decode(&bytes[pos + 8], m_sizeOfLength);
        uint64_t need = 0;
        if (index > 0) {
            if (objectSize > size) {
                c.problem = "points to a heap collection at " + hex(address) +
                            " with an object larger than the collection";
                return c;
            }
            need = objectHeaderSize + (objectSize + kAlignment - 1) / kAlignment * kAlignment;
            c.sizes[index] = objectSize;
        } else {
            need = objectSize;
        }
        if (need == 0 || need > size - pos) {
            c.problem = "points to a damaged heap collection at " + hex(address);
            return c;
        }
        pos += need;
    }
    return c;
}

std::optional<std::string> GlobalHeapCheck::problem(std::span<const unsigned char> raw,
                                                    size_t count) {
    const size_t step = size_t(descriptorSize());
    if (!m_in || m_fileSize == 0) return "cannot be checked: the file cannot be read";
    if (raw.size() < count * step) return "has truncated string descriptors";
    for (size_t i = 0; i < count; ++i) {
        const unsigned char* d = raw.data() + i * step;
        const uint64_t length = decode(d, 4);
        const uint64_t address = decode(d + 4, m_sizeOfAddress);
        const uint32_t index = uint32_t(decode(d + 4 + m_sizeOfAddress, 4));
        if (address == 0) continue;  // a null string: HDF5 reads nothing
        const Collection& c = collection(address);
        const std::string which = count > 1 ? "string " + std::to_string(i) + " " : "the string ";
        if (!c.problem.empty()) return which + c.problem;
        const auto object = c.sizes.find(index);
        if (index == 0 || object == c.sizes.end())
            return which + "points to heap object " + std::to_string(index) + " at " + hex(address) +
                   ", which does not exist";
        if (object->second != length)
            return which + "has length " + std::to_string(length) + " but its heap object holds " +
                   std::to_string(object->second) + " bytes";
    }
    return std::nullopt;
}

}  // namespace mwb
