// Internal to io/: the checksum a model file keeps for each float dataset
// (docs/file-format.md, "Checksums"): XXH3-64 (seed 0) of the dataset's values in
// row-major order, each in the little-endian IEEE form of the dataset's own precision.
// The reader and the writer see values in the machine's byte order; they hash what
// they hold in memory, so the files they write and check are only right on a
// little-endian machine (as the rest of io/ assumes).
#pragma once

#include <xxhash.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>

namespace mwb::hdf5 {

static_assert(std::endian::native == std::endian::little,
              "tensor checksums hash values in memory as the file's little-endian bytes");

// The attribute every float dataset carries (scalar, unsigned 64-bit).
inline constexpr const char* kChecksumAttribute = "xxh3_64";

// A running XXH3-64 over a tensor's values, fed block by block as they are read or
// written, so that no second copy of a tensor is ever needed.
class TensorHash {
public:
    TensorHash() : m_state(XXH3_createState()) {
        if (!m_state) throw std::bad_alloc();
        XXH3_64bits_reset(m_state);
    }
    ~TensorHash() { XXH3_freeState(m_state); }
    TensorHash(const TensorHash&) = delete;
    TensorHash& operator=(const TensorHash&) = delete;

    void add(const void* data, size_t bytes) { XXH3_64bits_update(m_state, data, bytes); }
    uint64_t value() const { return XXH3_64bits_digest(m_state); }

private:
    XXH3_state_t* m_state;
};

}  // namespace mwb::hdf5
