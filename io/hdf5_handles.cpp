// HDF5 helpers shared by the model-file reader and writer (see hdf5_handles.h).
#include "io/hdf5_handles.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "io/model_checks.h"

namespace mwb::hdf5 {

std::mutex& hdf5Mutex() {
    static std::mutex mutex;
    return mutex;
}

void silenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string hdf5ErrorText() {
    std::string text;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_UPWARD,
        [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
            if (n == 0 && err && err->desc) *static_cast<std::string*>(data) = err->desc;
            return 0;
        },
        &text);
    H5Eclear2(H5E_DEFAULT);
    return text.empty() ? "unknown HDF5 error" : text;
}

int hdf5SystemErrno() {
    int found = 0;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_UPWARD,
        [](unsigned, const H5E_error2_t* err, void* data) -> herr_t {
            int& out = *static_cast<int*>(data);
            if (out || !err || !err->desc) return 0;
            const char* at = std::strstr(err->desc, "errno = ");
            if (at) out = std::atoi(at + 8);
            return 0;
        },
        &found);
    return found;
}

std::string dimsText(const Dims& dims) {
    return shapeText(std::vector<int64_t>(dims.begin(), dims.end()));
}

const char* typeClassName(H5T_class_t c) {
    switch (c) {
        case H5T_INTEGER: return "integer";
        case H5T_FLOAT: return "float";
        case H5T_STRING: return "string";
        case H5T_COMPOUND: return "compound";
        case H5T_ENUM: return "enum";
        case H5T_ARRAY: return "array";
        case H5T_VLEN: return "variable-length";
        case H5T_REFERENCE: return "reference";
        case H5T_BITFIELD: return "bitfield";
        case H5T_OPAQUE: return "opaque";
        default: return "unknown";
    }
}

Handle halfType(H5T_order_t order) {
    Handle t(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    H5Tset_order(t, order);
    return t;
}

bool isIeeeHalf(hid_t type) {
    if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 2) return false;
    size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
    if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
    return spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 &&
           H5Tget_ebias(type) == 15 && H5Tget_norm(type) == H5T_NORM_IMPLIED &&
           H5Tget_offset(type) == 0 && H5Tget_precision(type) == 16;
}

H5T_order_t nativeOrder() { return H5Tget_order(H5T_NATIVE_FLOAT); }

Handle vlenStringType(H5T_cset_t cset) {
    Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, cset);
    return t;
}

void reclaimStrings(hid_t memType, hid_t space, void* buffer) {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(memType, space, H5P_DEFAULT, buffer);
#else
    H5Dvlen_reclaim(memType, space, H5P_DEFAULT, buffer);
#endif
}

std::string fixedString(const char* data, size_t size, H5T_str_t pad) {
    std::string s(data, std::find(data, data + size, '\0'));
    if (pad == H5T_STR_SPACEPAD) s.erase(s.find_last_not_of(' ') + 1);
    return s;
}

}  // namespace mwb::hdf5
