// Channel statistics for the normalisation layers (MedVoxTensor's normalizeInPlace): sums of
// Float32 data and of its squares in double precision, in one pass; and the U-Net's 2×2(×2) max
// pooling.
//
// A single double accumulator is one long dependency chain (an add every ~4 cycles); these sums
// keep 16 independent lanes (element i goes to lane i mod 16) folded in a fixed order at the end,
// so the result depends only on the data, never on the instruction set or the thread count.
// Contraction into FMA is off so every instruction set computes the same bits.
#include "mvx_layers.h"
#include "mvx_stats.h"

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

ALWAYS_INLINE void sum_sq_body(const float *x, long n, double *sum, double *squares) {
    double ls[16] = {0}, lq[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) {
            double v = (double)x[i + j];
            ls[j] += v;
            lq[j] += v * v;
        }
    for (int j = 0; i < n; i++, j++) {
        double v = (double)x[i];
        ls[j] += v;
        lq[j] += v * v;
    }
    *sum = fold16(ls);
    *squares = fold16(lq);
}

static void sum_sq_generic(const float *x, long n, double *s, double *q) { sum_sq_body(x, n, s, q); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static void sum_sq_avx2(const float *x, long n, double *s, double *q) { sum_sq_body(x, n, s, q); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void sum_sq_avx512(const float *x, long n, double *s, double *q) { sum_sq_body(x, n, s, q); }
#endif

void mvx_sum_and_squares(const float *x, long n, double *sum, double *squares, int isa) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { sum_sq_avx512(x, n, sum, squares); return; }
    if (isa == MVX_ISA_AVX2) { sum_sq_avx2(x, n, sum, squares); return; }
#endif
    (void)isa;
    sum_sq_generic(x, n, sum, squares);
}

// ---------------------------------------------------------------------------------------------
// 2×2(×2) max pooling, stride = kernel (a U-Net's down-sampling)

/// One output plane: y[yy][xx] = max over taps in order (a, c, e) of x[(kd·z + a)][2yy + c][2xx + e],
/// each step b = t > b ? t : b (so a NaN never replaces a value and a leading NaN stays), as the
/// Swift pooling loops compare. `x` points at output plane z's first input plane.
ALWAYS_INLINE void pool2_body(const float *x, float *y, int kd, long ih, long iw, long oh, long ow) {
    for (long yy = 0; yy < oh; yy++) {
        const float *r0 = x + (2 * yy) * iw, *r1 = r0 + iw;
        const float *r2 = r0 + ih * iw, *r3 = r2 + iw;
        float *o = y + yy * ow;
        if (kd == 2) {
            for (long xx = 0; xx < ow; xx++) {
                float b = r0[2 * xx], t;
                t = r0[2 * xx + 1]; b = t > b ? t : b;
                t = r1[2 * xx]; b = t > b ? t : b;
                t = r1[2 * xx + 1]; b = t > b ? t : b;
                t = r2[2 * xx]; b = t > b ? t : b;
                t = r2[2 * xx + 1]; b = t > b ? t : b;
                t = r3[2 * xx]; b = t > b ? t : b;
                t = r3[2 * xx + 1]; b = t > b ? t : b;
                o[xx] = b;
            }
        } else {
            for (long xx = 0; xx < ow; xx++) {
                float b = r0[2 * xx], t;
                t = r0[2 * xx + 1]; b = t > b ? t : b;
                t = r1[2 * xx]; b = t > b ? t : b;
                t = r1[2 * xx + 1]; b = t > b ? t : b;
                o[xx] = b;
            }
        }
    }
}

static void pool2_generic(const float *x, float *y, int kd, long ih, long iw, long oh, long ow) { pool2_body(x, y, kd, ih, iw, oh, ow); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static void pool2_avx2(const float *x, float *y, int kd, long ih, long iw, long oh, long ow) { pool2_body(x, y, kd, ih, iw, oh, ow); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void pool2_avx512(const float *x, float *y, int kd, long ih, long iw, long oh, long ow) { pool2_body(x, y, kd, ih, iw, oh, ow); }
#endif

void mvx_maxpool2_plane(const float *x, float *y, int kd, long ih, long iw, long oh, long ow, int isa) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { pool2_avx512(x, y, kd, ih, iw, oh, ow); return; }
    if (isa == MVX_ISA_AVX2) { pool2_avx2(x, y, kd, ih, iw, oh, ow); return; }
#endif
    (void)isa;
    pool2_generic(x, y, kd, ih, iw, oh, ow);
}
