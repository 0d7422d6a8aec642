// FFT kernels: the batched Stockham stages behind MedVoxTransforms' FFTPlan (FFT.swift) and the
// reductions over k-space that the k-space artefacts need.
//
// A batch is a run of sequences b in [b0, b1) stored interleaved (element t of sequence b at
// b + B*t), so every butterfly's innermost loop runs over adjacent sequences: contiguous loads and
// stores the compiler vectorises. The operations and their order are those of the Swift stage
// kernel (`StageKernel.run`), with contraction into FMA off, so every instruction set gives the
// same bits. Each body is written once (always-inline) and compiled per instruction set by thin
// wrappers with function-level target attributes, chosen at run time like the other kernels.
#include "mvx_fft.h"

#include <math.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) || defined(_M_X64)
#define MVX_X86 1
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/// Stores y·W (the stage twiddle of output u) at d; u = 0 has W = 1.
#define PUT(YR, YI, U)                                                                    \
    do {                                                                                  \
        float *restrict dr_ = br + o0 + (long)(U) * sB, *restrict di_ = bi + o0 + (long)(U) * sB; \
        if ((U) == 0) {                                                                   \
            for (long b = b0; b < b1; b++) { dr_[b] = (YR); di_[b] = (YI); }              \
        } else {                                                                          \
            const float wr_ = twr[p * r + (U)], wi_ = twi[p * r + (U)];                   \
            for (long b = b0; b < b1; b++) {                                              \
                float yr_ = (YR), yi_ = (YI);                                             \
                dr_[b] = yr_ * wr_ - yi_ * wi_;                                           \
                di_[b] = yr_ * wi_ + yi_ * wr_;                                           \
            }                                                                             \
        }                                                                                 \
    } while (0)

/// One stage of length L = r*m at stride s: y[q + s(r p + u)] = W_L^{pu} sum_k x[q + s(p + k m)] W_r^{uk}.
ALWAYS_INLINE void stage_body(int r, long m, long s, long B, const float *restrict ar, const float *restrict ai,
                              float *restrict br, float *restrict bi, const float *twr, const float *twi,
                              const float *rr, const float *ri, long b0, long b1) {
    const long mB = m * s * B, sB = s * B;
    const double pi = 3.14159265358979323846;  // Double.pi; constants as the Swift kernel rounds them
    const float sn = (float)(sqrt(3.0) / 2), half = 0.5f;
    const float c1 = (float)cos(2 * pi / 5), c2 = (float)cos(4 * pi / 5);
    const float s1 = (float)sin(2 * pi / 5), s2 = (float)sin(4 * pi / 5);
    for (long p = 0; p < m; p++) {
        for (long q = 0; q < s; q++) {
            const long a = B * (q + s * p), o0 = B * (q + s * r * p);
            const float *x0r = ar + a, *x0i = ai + a;
            const float *x1r = x0r + mB, *x1i = x0i + mB;
            switch (r) {
            case 2:
                PUT(x0r[b] + x1r[b], x0i[b] + x1i[b], 0);
                PUT(x0r[b] - x1r[b], x0i[b] - x1i[b], 1);
                break;
            case 3: {
                const float *x2r = x1r + mB, *x2i = x1i + mB;
                PUT(x0r[b] + (x1r[b] + x2r[b]), x0i[b] + (x1i[b] + x2i[b]), 0);
                PUT((x0r[b] - half * (x1r[b] + x2r[b])) + sn * (x1i[b] - x2i[b]),
                    (x0i[b] - half * (x1i[b] + x2i[b])) - sn * (x1r[b] - x2r[b]), 1);
                PUT((x0r[b] - half * (x1r[b] + x2r[b])) - sn * (x1i[b] - x2i[b]),
                    (x0i[b] - half * (x1i[b] + x2i[b])) + sn * (x1r[b] - x2r[b]), 2);
                break;
            }
            case 4: {
                const float *x2r = x1r + mB, *x2i = x1i + mB, *x3r = x2r + mB, *x3i = x2i + mB;
                PUT((x0r[b] + x2r[b]) + (x1r[b] + x3r[b]), (x0i[b] + x2i[b]) + (x1i[b] + x3i[b]), 0);
                PUT((x0r[b] - x2r[b]) + (x1i[b] - x3i[b]), (x0i[b] - x2i[b]) + (x3r[b] - x1r[b]), 1);
                PUT((x0r[b] + x2r[b]) - (x1r[b] + x3r[b]), (x0i[b] + x2i[b]) - (x1i[b] + x3i[b]), 2);
                PUT((x0r[b] - x2r[b]) - (x1i[b] - x3i[b]), (x0i[b] - x2i[b]) - (x3r[b] - x1r[b]), 3);
                break;
            }
            case 5: {
                const float *x2r = x1r + mB, *x2i = x1i + mB, *x3r = x2r + mB, *x3i = x2i + mB, *x4r = x3r + mB, *x4i = x3i + mB;
#define T1R (x1r[b] + x4r[b])
#define T1I (x1i[b] + x4i[b])
#define T2R (x2r[b] + x3r[b])
#define T2I (x2i[b] + x3i[b])
#define T3R (x1r[b] - x4r[b])
#define T3I (x1i[b] - x4i[b])
#define T4R (x2r[b] - x3r[b])
#define T4I (x2i[b] - x3i[b])
#define A1R (x0r[b] + c1 * T1R + c2 * T2R)
#define A1I (x0i[b] + c1 * T1I + c2 * T2I)
#define A2R (x0r[b] + c2 * T1R + c1 * T2R)
#define A2I (x0i[b] + c2 * T1I + c1 * T2I)
#define B1R (s1 * T3R + s2 * T4R)
#define B1I (s1 * T3I + s2 * T4I)
#define B2R (s2 * T3R - s1 * T4R)
#define B2I (s2 * T3I - s1 * T4I)
                PUT(x0r[b] + T1R + T2R, x0i[b] + T1I + T2I, 0);
                PUT(A1R + B1I, A1I - B1R, 1);
                PUT(A2R + B2I, A2I - B2R, 2);
                PUT(A2R - B2I, A2I + B2R, 3);
                PUT(A1R - B1I, A1I + B1R, 4);
#undef T1R
#undef T1I
#undef T2R
#undef T2I
#undef T3R
#undef T3I
#undef T4R
#undef T4I
#undef A1R
#undef A1I
#undef A2R
#undef A2I
#undef B1R
#undef B1I
#undef B2R
#undef B2I
                break;
            }
            default:
                // Direct DFT of a radix 7..13: sums built in k order, as the Swift kernel does.
                for (int u = 0; u < r; u++) {
                    float *restrict dr = br + o0 + (long)u * sB, *restrict di = bi + o0 + (long)u * sB;
                    for (long b = b0; b < b1; b++) { dr[b] = 0; di[b] = 0; }
                    int idx = 0;
                    for (int k = 0; k < r; k++) {
                        const float *xr = ar + a + (long)k * mB, *xi = ai + a + (long)k * mB;
                        const float cr = rr[idx], ci = ri[idx];
                        for (long b = b0; b < b1; b++) {
                            float sr = dr[b], si = di[b];
                            dr[b] = sr + xr[b] * cr - xi[b] * ci;
                            di[b] = si + xr[b] * ci + xi[b] * cr;
                        }
                        idx += u;
                        if (idx >= r) idx -= r;
                    }
                    if (u != 0) {
                        const float wr = twr[p * r + u], wi = twi[p * r + u];
                        for (long b = b0; b < b1; b++) {
                            float yr = dr[b], yi = di[b];
                            dr[b] = yr * wr - yi * wi;
                            di[b] = yr * wi + yi * wr;
                        }
                    }
                }
            }
        }
    }
}

ALWAYS_INLINE void fft_batch_body(const mvx_fft_plan *pl, float *xr, float *xi, float *yr, float *yi, long B, long b0, long b1, int inverse) {
    const long n = pl->n;
    if (n == 1) return;
    if (inverse)
        for (long t = 0; t < n; t++)
            for (long b = b0; b < b1; b++) xi[b + B * t] = -xi[b + B * t];
    long length = n, s = 1;
    int inX = 1;
    for (int st = 0; st < pl->nstages; st++) {
        const int r = pl->radix[st];
        const long m = length / r;
        const float *twr = pl->twr + pl->tw_off[st], *twi = pl->twi + pl->tw_off[st];
        const float *rr = pl->rr + pl->root_off[st], *ri = pl->ri + pl->root_off[st];
        if (inX) stage_body(r, m, s, B, xr, xi, yr, yi, twr, twi, rr, ri, b0, b1);
        else stage_body(r, m, s, B, yr, yi, xr, xi, twr, twi, rr, ri, b0, b1);
        length = m;
        s *= r;
        inX = !inX;
    }
    if (!inX)
        for (long t = 0; t < n; t++) {
            memcpy(xr + B * t + b0, yr + B * t + b0, (size_t)(b1 - b0) * sizeof(float));
            memcpy(xi + B * t + b0, yi + B * t + b0, (size_t)(b1 - b0) * sizeof(float));
        }
    if (inverse) {
        const float sc = 1 / (float)n;
        for (long t = 0; t < n; t++)
            for (long b = b0; b < b1; b++) {
                xr[b + B * t] *= sc;
                xi[b + B * t] = -xi[b + B * t] * sc;
            }
    }
}

static void fft_generic(const mvx_fft_plan *p, float *xr, float *xi, float *yr, float *yi, long B, long b0, long b1, int inv) { fft_batch_body(p, xr, xi, yr, yi, B, b0, b1, inv); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static void fft_avx2(const mvx_fft_plan *p, float *xr, float *xi, float *yr, float *yi, long B, long b0, long b1, int inv) { fft_batch_body(p, xr, xi, yr, yi, B, b0, b1, inv); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void fft_avx512(const mvx_fft_plan *p, float *xr, float *xi, float *yr, float *yi, long B, long b0, long b1, int inv) { fft_batch_body(p, xr, xi, yr, yi, B, b0, b1, inv); }
#endif

void mvx_fft_batch(const mvx_fft_plan *p, int isa, float *xr, float *xi, float *yr, float *yi, long B, long b0, long b1, int inverse) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { fft_avx512(p, xr, xi, yr, yi, B, b0, b1, inverse); return; }
    if (isa == MVX_ISA_AVX2) { fft_avx2(p, xr, xi, yr, yi, B, b0, b1, inverse); return; }
#endif
    (void)isa;
    fft_generic(p, xr, xi, yr, yi, B, b0, b1, inverse);
}

// ---------------------------------------------------------------------------------------------
// k-space reductions

/// max (re² + im²) over n values, in 16 independent lanes (exact: max needs no reordering).
ALWAYS_INLINE float max_abs2_body(const float *re, const float *im, long n) {
    float lane[16];
    for (int j = 0; j < 16; j++) lane[j] = 0;
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) {
            float v = re[i + j] * re[i + j] + im[i + j] * im[i + j];
            lane[j] = v > lane[j] ? v : lane[j];
        }
    float m = 0;
    for (; i < n; i++) {
        float v = re[i] * re[i] + im[i] * im[i];
        m = v > m ? v : m;
    }
    for (int j = 0; j < 16; j++) m = lane[j] > m ? lane[j] : m;
    return m;
}

/// |z| per value.
ALWAYS_INLINE void magnitude_body(const float *re, const float *im, float *out, long n) {
    for (long i = 0; i < n; i++) out[i] = sqrtf(re[i] * re[i] + im[i] * im[i]);
}

static float max_abs2_generic(const float *re, const float *im, long n) { return max_abs2_body(re, im, n); }
static void magnitude_generic(const float *re, const float *im, float *o, long n) { magnitude_body(re, im, o, n); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static float max_abs2_avx2(const float *re, const float *im, long n) { return max_abs2_body(re, im, n); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static float max_abs2_avx512(const float *re, const float *im, long n) { return max_abs2_body(re, im, n); }
__attribute__((target("avx2,fma"))) static void magnitude_avx2(const float *re, const float *im, float *o, long n) { magnitude_body(re, im, o, n); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void magnitude_avx512(const float *re, const float *im, float *o, long n) { magnitude_body(re, im, o, n); }
#endif

float mvx_max_abs2(const float *re, const float *im, long n, int isa) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) return max_abs2_avx512(re, im, n);
    if (isa == MVX_ISA_AVX2) return max_abs2_avx2(re, im, n);
#endif
    (void)isa;
    return max_abs2_generic(re, im, n);
}

void mvx_magnitude(const float *re, const float *im, float *out, long n, int isa) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { magnitude_avx512(re, im, out, n); return; }
    if (isa == MVX_ISA_AVX2) { magnitude_avx2(re, im, out, n); return; }
#endif
    (void)isa;
    magnitude_generic(re, im, out, n);
}

// ---------------------------------------------------------------------------------------------
// Contiguous lines

/// Lines l in [l0, l1) of length n stored one after another (line l at x + l*n): blocks of 16
/// lines are transposed into a batch (element t of line b at 16*t + b), transformed together and
/// transposed back. `scratch`: 4*16*n floats.
ALWAYS_INLINE void fft_lines_body(const mvx_fft_plan *pl, float *xr, float *xi, long l0, long l1, int inverse, float *scratch,
                                  void (*batch)(const mvx_fft_plan *, float *, float *, float *, float *, long, long, long, int)) {
    enum { BL = 16 };
    const long n = pl->n;
    float *tr = scratch, *ti = scratch + BL * n, *yr = scratch + 2 * BL * n, *yi = scratch + 3 * BL * n;
    for (long l = l0; l < l1; l += BL) {
        const long count = l1 - l < BL ? l1 - l : BL;
        for (long b = 0; b < count; b++) {
            const float *sr = xr + (l + b) * n, *si = xi + (l + b) * n;
            for (long t = 0; t < n; t++) { tr[t * BL + b] = sr[t]; ti[t * BL + b] = si[t]; }
        }
        batch(pl, tr, ti, yr, yi, BL, 0, count, inverse);
        for (long b = 0; b < count; b++) {
            float *dr = xr + (l + b) * n, *di = xi + (l + b) * n;
            for (long t = 0; t < n; t++) { dr[t] = tr[t * BL + b]; di[t] = ti[t * BL + b]; }
        }
    }
}

static void lines_generic(const mvx_fft_plan *p, float *xr, float *xi, long l0, long l1, int inv, float *s) { fft_lines_body(p, xr, xi, l0, l1, inv, s, fft_generic); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static void lines_avx2(const mvx_fft_plan *p, float *xr, float *xi, long l0, long l1, int inv, float *s) { fft_lines_body(p, xr, xi, l0, l1, inv, s, fft_avx2); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void lines_avx512(const mvx_fft_plan *p, float *xr, float *xi, long l0, long l1, int inv, float *s) { fft_lines_body(p, xr, xi, l0, l1, inv, s, fft_avx512); }
#endif

void mvx_fft_lines(const mvx_fft_plan *p, int isa, float *xr, float *xi, long l0, long l1, int inverse, float *scratch) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { lines_avx512(p, xr, xi, l0, l1, inverse, scratch); return; }
    if (isa == MVX_ISA_AVX2) { lines_avx2(p, xr, xi, l0, l1, inverse, scratch); return; }
#endif
    (void)isa;
    lines_generic(p, xr, xi, l0, l1, inverse, scratch);
}
