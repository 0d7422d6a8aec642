// Softmax over channels, 16 positions at a time: y[k] = exp(x[k] - m) / sum_j exp(x[j] - m), m the
// channels' maximum, each exponential computed once. The exponential is 2^n * p(r) with
// n = round(x log2 e), r = x - n ln 2 (ln 2 in two parts) and p Cephes' degree-7 polynomial for
// expf (within 2 ulp of the correctly rounded value); below -87.3 (where single precision
// underflows) it is 0. Contraction into FMA is off and the vector extension gives every
// instruction set the same operations, so the bits depend only on the data.
#include "mvx_layers.h"

#include <string.h>

#pragma STDC FP_CONTRACT OFF
#pragma clang diagnostic ignored "-Wpsabi"

#if defined(__x86_64__) || defined(_M_X64)
#define MVX_X86 1
#endif

typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef int i16 __attribute__((vector_size(64), aligned(4)));

static inline __attribute__((always_inline)) v16 splat(float f) { return (v16){0} + f; }

// exp(x) for x <= 0; NaN stays NaN.
static inline __attribute__((always_inline)) v16 vexp(v16 x) {
    const v16 lo = splat(-87.33654f);
    const i16 keep = x >= lo, nan = x != x;
    x = __builtin_elementwise_max(x, lo);
    const v16 n = (x * splat(1.44269504088896341f) + splat(12582912.0f)) - splat(12582912.0f);  // round to nearest
    v16 r = x - n * splat(0.693359375f);
    r = r - n * splat(-2.12194440e-4f);
    v16 p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * (r * r) + r + splat(1.0f);
    const i16 e = (__builtin_convertvector(n, i16) + 127) << 23;
    return (v16)((((i16)(p * (v16)e)) & keep) | nan);  // all-ones bits: a NaN
}

// The first n (<= 16) values at p as a vector, zeros after them; and back.
static inline __attribute__((always_inline)) v16 load_n(const float *p, long n) {
    v16 v;
    if (n == 16) {
        memcpy(&v, p, sizeof v);
    } else {
        float t[16] = {0};
        memcpy(t, p, sizeof(float) * (size_t)n);
        memcpy(&v, t, sizeof v);
    }
    return v;
}
static inline __attribute__((always_inline)) void store_n(float *p, v16 v, long n) {
    if (n == 16) {
        memcpy(p, &v, sizeof v);
    } else {
        float t[16];
        memcpy(t, &v, sizeof t);
        memcpy(p, t, sizeof(float) * (size_t)n);
    }
}

static inline __attribute__((always_inline)) void softmax_body(const float *x, float *y, long c, long inner, long s0, long s1) {
    // A partial group of positions works on zero-padded copies, so it gets the same bits.
    for (long s = s0; s < s1; s += 16) {
        const long n = s1 - s < 16 ? s1 - s : 16;
        v16 m = splat(-__builtin_inff());
        for (long k = 0; k < c; k++) m = __builtin_elementwise_max(m, load_n(x + k * inner + s, n));
        v16 z = splat(0.0f);
        for (long k = 0; k < c; k++) {
            const v16 e = vexp(load_n(x + k * inner + s, n) - m);
            z = z + e;
            store_n(y + k * inner + s, e, n);
        }
        const v16 inv = splat(1.0f) / z;
        for (long k = 0; k < c; k++) store_n(y + k * inner + s, load_n(y + k * inner + s, n) * inv, n);
    }
}

static void softmax_generic(const float *x, float *y, long c, long inner, long s0, long s1) { softmax_body(x, y, c, inner, s0, s1); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static void softmax_avx2(const float *x, float *y, long c, long inner, long s0, long s1) {
    softmax_body(x, y, c, inner, s0, s1);
}
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void softmax_avx512(const float *x, float *y, long c, long inner, long s0,
                                                                                     long s1) {
    softmax_body(x, y, c, inner, s0, s1);
}
#endif

void mvx_softmax(int isa, const float *x, float *y, long c, long inner, long s0, long s1) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { softmax_avx512(x, y, c, inner, s0, s1); return; }
    if (isa == MVX_ISA_AVX2) { softmax_avx2(x, y, c, inner, s0, s1); return; }
#endif
    (void)isa;
    softmax_generic(x, y, c, inner, s0, s1);
}
