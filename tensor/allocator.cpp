#include "tensor/allocator.h"

#include <malloc.h>

#include <climits>

namespace mwb {

void keepFreedMemoryForReuse() {
    // 32 MB is the largest mmap threshold glibc accepts on 64-bit systems.
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
    mallopt(M_TOP_PAD, 256 * 1024 * 1024);
}

}  // namespace mwb
