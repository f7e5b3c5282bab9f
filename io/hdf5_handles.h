// Internal to io/: what the HDF5 model-file reader and writer share (hdf5_reader.h,
// hdf5_writer.h). An owning Handle for HDF5 identifiers, the mutex that serialises
// HDF5 calls, the text of the HDF5 error stack, and type and string helpers. Include
// only from io/*.cpp: the HDF5 C API stays inside io/.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mwb::hdf5 {

using Dims = std::vector<hsize_t>;

inline constexpr hsize_t kChunkElements = hsize_t(1) << 18;  // float16 conversion buffer (512 KB)
inline constexpr size_t kMaxStringBytes = size_t(1) << 16;   // a fixed-length string, per element
inline constexpr int kFormatVersion = 1;

// HDF5 calls are serialised: the library is only thread-safe as a whole.
std::mutex& hdf5Mutex();

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
void silenceHdf5();

// The innermost (most specific) message of the HDF5 error stack; clears the stack.
std::string hdf5ErrorText();

// The operating system's errno that the HDF5 error stack reports for a failed read or
// write ("errno = 28" in the file driver's message), 0 when it names none. Leaves the
// stack as it is.
int hdf5SystemErrno();

std::string dimsText(const Dims& dims);

const char* typeClassName(H5T_class_t c);

// IEEE half as h5py defines numpy's float16, in the given byte order.
Handle halfType(H5T_order_t order);

bool isIeeeHalf(hid_t type);

H5T_order_t nativeOrder();

Handle vlenStringType(H5T_cset_t cset);

// Frees the strings HDF5 allocated for a variable-length read.
void reclaimStrings(hid_t memType, hid_t space, void* buffer);

// A fixed-length HDF5 string: cut at the first NUL, drop space padding.
std::string fixedString(const char* data, size_t size, H5T_str_t pad);

}  // namespace mwb::hdf5
