#include "tensor/float16.h"

#include <immintrin.h>

namespace mwb {

namespace {

// The F16C instruction converts eight halves at once, exactly (it only sets the
// quiet bit of signalling NaNs, which model weights never hold). Compiled for F16C
// whatever the build's target and chosen at run time.
__attribute__((target("avx,f16c"))) void halvesToFloatsF16c(const uint16_t* in, float* out, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) out[i] = halfToFloat(in[i]);
}

void halvesToFloatsPortable(const uint16_t* in, float* out, long n) {
    for (long i = 0; i < n; ++i) out[i] = halfToFloat(in[i]);
}

}  // namespace

void halvesToFloats(const uint16_t* in, float* out, long n) {
    static const bool f16c = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
    if (f16c) halvesToFloatsF16c(in, out, n);
    else halvesToFloatsPortable(in, out, n);
}

}  // namespace mwb
