// Checks the HDF5 global heap objects that variable-length strings point to, by
// reading the file directly, before the HDF5 library dereferences them. HDF5 1.10
// trusts the object sizes and indices it finds there (only debug asserts), so a
// damaged file can make it read or write out of bounds; this check turns that into
// an error message instead. See "Global Heap" in the HDF5 file format specification.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mwb {

class GlobalHeapCheck {
public:
    // `baseAddress`: file offset of the superblock (the user block size); sizes of
    // addresses and lengths as declared in the superblock (usually 8 and 8).
    GlobalHeapCheck(std::filesystem::path file, uint64_t baseAddress, int sizeOfAddress,
                    int sizeOfLength);

    // Size in bytes of one variable-length descriptor as stored on disk.
    int descriptorSize() const { return 4 + m_sizeOfAddress + 4; }

    // `raw`: `count` descriptors (length, heap collection address, object index) as
    // stored on disk. Returns a sentence about the first one that does not point to
    // a sound heap object of exactly its length, or nullopt when all do.
    std::optional<std::string> problem(std::span<const unsigned char> raw, size_t count);

private:
    struct Collection {
        std::string problem;                 // empty when the collection is sound
        std::map<uint32_t, uint64_t> sizes;  // object index -> object size
    };
    const Collection& collection(uint64_t address);

    std::filesystem::path m_file;
    std::ifstream m_in;
    uint64_t m_fileSize = 0;
    uint64_t m_base = 0;
    int m_sizeOfAddress = 8;
    int m_sizeOfLength = 8;
    std::map<uint64_t, Collection> m_collections;
};

}  // namespace mwb
