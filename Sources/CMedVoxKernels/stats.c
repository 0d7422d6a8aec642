// Channel statistics for the normalisation layers (MedVoxTensor's normalizeInPlace): sums and
// sums of squared deviations of Float32 data in double precision.
//
// A single double accumulator is one long dependency chain (an add every ~4 cycles); these sums
// keep 16 independent lanes (element i goes to lane i mod 16) folded in a fixed order at the end,
// so the result depends only on the data, never on the instruction set or the thread count.
// Contraction into FMA is off so every instruction set computes the same bits.
#include "medvox_kernels.h"

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) || defined(_M_X64)
#define MVX_X86 1
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE double fold16(const double *lane) {
    double a[8];
    for (int j = 0; j < 8; j++) a[j] = lane[j] + lane[j + 8];
    for (int j = 0; j < 4; j++) a[j] = a[j] + a[j + 4];
    return (a[0] + a[2]) + (a[1] + a[3]);
}

ALWAYS_INLINE double sum_body(const float *x, long n) {
    double lane[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) lane[j] += (double)x[i + j];
    for (int j = 0; i < n; i++, j++) lane[j] += (double)x[i];
    return fold16(lane);
}

ALWAYS_INLINE double sq_dev_body(const float *x, long n, double mu) {
    double lane[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) {
            double d = (double)x[i + j] - mu;
            lane[j] += d * d;
        }
    for (int j = 0; i < n; i++, j++) {
        double d = (double)x[i] - mu;
        lane[j] += d * d;
    }
    return fold16(lane);
}

static double sum_generic(const float *x, long n) { return sum_body(x, n); }
static double sq_generic(const float *x, long n, double mu) { return sq_dev_body(x, n, mu); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static double sum_avx2(const float *x, long n) { return sum_body(x, n); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static double sum_avx512(const float *x, long n) { return sum_body(x, n); }
__attribute__((target("avx2,fma"))) static double sq_avx2(const float *x, long n, double mu) { return sq_dev_body(x, n, mu); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static double sq_avx512(const float *x, long n, double mu) { return sq_dev_body(x, n, mu); }
#endif

double mvx_sum(const float *x, long n, int isa) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) return sum_avx512(x, n);
    if (isa == MVX_ISA_AVX2) return sum_avx2(x, n);
#endif
    (void)isa;
    return sum_generic(x, n);
}

double mvx_sum_sq_dev(const float *x, long n, double mu, int isa) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) return sq_avx512(x, n, mu);
    if (isa == MVX_ISA_AVX2) return sq_avx2(x, n, mu);
#endif
    (void)isa;
    return sq_generic(x, n, mu);
}
