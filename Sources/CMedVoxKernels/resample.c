// Resampling kernels: trilinear / nearest sampling on a general (rotated, sheared, displaced) grid
// and the separable (axis-aligned) tap-table resampler; see include/mvx_resample.h.
//
// They compute exactly what MedVoxTransforms' Swift kernels (Resample.swift, Interpolation.swift)
// define, operation for operation in the same order and precision, so results are bit-identical:
// floating-point contraction into FMA is switched off for this file. Each body is written once
// (an always-inline function) and compiled per instruction set by thin wrappers with function-level
// target attributes, so the compiler vectorises it for AVX-512 / AVX2 where the CPU has them.
#include "mvx_resample.h"
#include "mvx_stats.h"

#include <math.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) || defined(_M_X64)
#define MVX_X86 1
#include <immintrin.h>
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

// ---------------------------------------------------------------------------------------------
// General grid

enum { WARP_BLOCK = 128 };

/// 1D taps of `taps()` in Interpolation.swift for nearest (n = 1) and linear (n = 2).
/// Returns 0 when the position is outside the extent under a constant boundary.
ALWAYS_INLINE int warp_taps(double x, int n, int interp, int constant, int *i0, int *i1, float *w0, float *w1) {
    if (constant && !(x >= -0.5 - 1e-9 && x <= (double)n - 0.5 + 1e-9)) return 0;
    if (interp == 0) {
        double r = floor(x + 0.5);
        long i = r != r ? 0 : (r < -1e9 ? -1000000000L : (r > 1e9 ? 1000000000L : (long)r));
        if (i < 0) i = 0;
        if (i > n - 1) i = n - 1;
        *i0 = (int)i; *i1 = (int)i; *w0 = 1; *w1 = 0;
        return 1;
    }
    double hi = (double)(n - 1);
    x = x > 0 ? x : 0;          // Swift max(x, 0)
    x = hi < x ? hi : x;        // Swift min(x, n - 1)
    long i = (long)floor(x);
    if (i > n - 2) i = n - 2 > 0 ? n - 2 : 0;
    double f = x - (double)i;
    *i0 = (int)i;
    *i1 = (int)(i + 1 < n - 1 ? i + 1 : n - 1);
    *w0 = (float)(1 - f);
    *w1 = (float)f;
    return 1;
}

/// The Swift `taps` + `combine` path for one position.
ALWAYS_INLINE float warp_slow(const mvx_warp *p, double x, double y, double z) {
    int xi0, xi1, yi0, yi1, zi0, zi1;
    float xw0, xw1, yw0, yw1, zw0, zw1;
    int ox = warp_taps(x, p->nx, p->interp, p->constant, &xi0, &xi1, &xw0, &xw1);
    int oy = warp_taps(y, p->ny, p->interp, p->constant, &yi0, &yi1, &yw0, &yw1);
    int oz = warp_taps(z, p->nz, p->interp, p->constant, &zi0, &zi1, &zw0, &zw1);
    if (!ox || !oy || !oz) return p->fill;
    const float *s = p->src;
    long nx = p->nx, sxy = (long)p->nx * p->ny;
    if (p->interp == 0) return s[sxy * zi0 + nx * yi0 + xi0];
#define ROW(b) (xw0 * s[(b) + xi0] + xw1 * s[(b) + xi1])
#define PLANE(b) (yw0 * ROW((b) + nx * yi0) + yw1 * ROW((b) + nx * yi1))
    return zw0 * PLANE(sxy * zi0) + zw1 * PLANE(sxy * zi1);
#undef PLANE
#undef ROW
}

/// Linear interpolation of the block positions (cx, cy, cz)[0..<nb] into d[0..<nb], as the Swift
/// kernel: the interior fast path, else the general taps.
ALWAYS_INLINE void warp_linear_scalar(const mvx_warp *p, const double *cx, const double *cy, const double *cz, int nb, float *restrict d) {
    const int nx = p->nx, sxy = p->nx * p->ny;
    const double hx = (double)(p->nx - 1), hy = (double)(p->ny - 1), hz = (double)(p->nz - 1);
    const float *restrict s = p->src;
    for (int t = 0; t < nb; t++) {
        double x = cx[t], y = cy[t], z = cz[t];
        if (x >= 0 && y >= 0 && z >= 0 && x < hx && y < hy && z < hz) {
            int xi = (int)x, yi = (int)y, zi = (int)z;
            float fx = (float)(x - (double)xi), fy = (float)(y - (double)yi), fz = (float)(z - (double)zi);
            const float *q = s + ((long)xi + (long)nx * yi + (long)sxy * zi);
            float c00 = q[0] + fx * (q[1] - q[0]);
            float c10 = q[nx] + fx * (q[nx + 1] - q[nx]);
            float c01 = q[sxy] + fx * (q[sxy + 1] - q[sxy]);
            float c11 = q[sxy + nx] + fx * (q[sxy + nx + 1] - q[sxy + nx]);
            float c0 = c00 + fy * (c10 - c00), c1 = c01 + fy * (c11 - c01);
            d[t] = c0 + fz * (c1 - c0);
        } else {
            d[t] = warp_slow(p, x, y, z);
        }
    }
}

#if MVX_X86
/// The same with AVX-512: 8 positions at a time, each corner pair (q[o], q[o+1]) fetched by one
/// 64-bit gather lane; other positions are masked out of the gathers and take the fill value
/// (beyond the extent) or the general taps (warp_slow, near the edge).
__attribute__((target("avx512f,avx512vl,avx512dq,fma")))
static void warp_linear_avx512(const mvx_warp *p, const double *cx, const double *cy, const double *cz, int nb, float *restrict d) {
    const int nx = p->nx, sxy = p->nx * p->ny;
    const __m512d zero = _mm512_setzero_pd();
    const __m512d hx = _mm512_set1_pd((double)(p->nx - 1)), hy = _mm512_set1_pd((double)(p->ny - 1)), hz = _mm512_set1_pd((double)(p->nz - 1));
    const __m256i vnx = _mm256_set1_epi32(nx), vsxy = _mm256_set1_epi32(sxy);
    const __m512d lo = _mm512_set1_pd(-0.5 - 1e-9);
    const __m512d ex = _mm512_set1_pd((double)p->nx - 0.5 + 1e-9), ey = _mm512_set1_pd((double)p->ny - 0.5 + 1e-9),
                  ez = _mm512_set1_pd((double)p->nz - 0.5 + 1e-9);
    const __m256 fill = _mm256_set1_ps(p->fill);
    const float *s = p->src;
    int t = 0;
    for (; t + 8 <= nb; t += 8) {
        __m512d x = _mm512_loadu_pd(cx + t), y = _mm512_loadu_pd(cy + t), z = _mm512_loadu_pd(cz + t);
        __mmask8 in = _mm512_cmp_pd_mask(x, zero, _CMP_GE_OQ) & _mm512_cmp_pd_mask(y, zero, _CMP_GE_OQ) &
                      _mm512_cmp_pd_mask(z, zero, _CMP_GE_OQ) & _mm512_cmp_pd_mask(x, hx, _CMP_LT_OQ) &
                      _mm512_cmp_pd_mask(y, hy, _CMP_LT_OQ) & _mm512_cmp_pd_mask(z, hz, _CMP_LT_OQ);
        // Positions beyond the extent (constant boundary) take the fill value; only those between
        // the interior and the extent's edge need the general taps.
        __mmask8 ext = 0xFF;
        if (p->constant)
            ext = _mm512_cmp_pd_mask(x, lo, _CMP_GE_OQ) & _mm512_cmp_pd_mask(x, ex, _CMP_LE_OQ) &
                  _mm512_cmp_pd_mask(y, lo, _CMP_GE_OQ) & _mm512_cmp_pd_mask(y, ey, _CMP_LE_OQ) &
                  _mm512_cmp_pd_mask(z, lo, _CMP_GE_OQ) & _mm512_cmp_pd_mask(z, ez, _CMP_LE_OQ);
        if (!in) {
            _mm256_storeu_ps(d + t, fill);
        } else {
            x = _mm512_maskz_mov_pd(in, x);
            y = _mm512_maskz_mov_pd(in, y);
            z = _mm512_maskz_mov_pd(in, z);
            __m256i xi = _mm512_cvttpd_epi32(x), yi = _mm512_cvttpd_epi32(y), zi = _mm512_cvttpd_epi32(z);
            __m256 fx = _mm512_cvtpd_ps(_mm512_sub_pd(x, _mm512_cvtepi32_pd(xi)));
            __m256 fy = _mm512_cvtpd_ps(_mm512_sub_pd(y, _mm512_cvtepi32_pd(yi)));
            __m256 fz = _mm512_cvtpd_ps(_mm512_sub_pd(z, _mm512_cvtepi32_pd(zi)));
            __m256i idx = _mm256_add_epi32(xi, _mm256_add_epi32(_mm256_mullo_epi32(vnx, yi), _mm256_mullo_epi32(vsxy, zi)));
            const __m512i none = _mm512_setzero_si512();
            __m512i g00 = _mm512_mask_i32gather_epi64(none, in, idx, s, 4);
            __m512i g10 = _mm512_mask_i32gather_epi64(none, in, idx, s + nx, 4);
            __m512i g01 = _mm512_mask_i32gather_epi64(none, in, idx, s + sxy, 4);
            __m512i g11 = _mm512_mask_i32gather_epi64(none, in, idx, s + sxy + nx, 4);
#define LO(g) _mm256_castsi256_ps(_mm512_cvtepi64_epi32(g))
#define HI(g) _mm256_castsi256_ps(_mm512_cvtepi64_epi32(_mm512_srli_epi64(g, 32)))
#define LERP(a, b, f) _mm256_add_ps(a, _mm256_mul_ps(f, _mm256_sub_ps(b, a)))
            __m256 c00 = LERP(LO(g00), HI(g00), fx);
            __m256 c10 = LERP(LO(g10), HI(g10), fx);
            __m256 c01 = LERP(LO(g01), HI(g01), fx);
            __m256 c11 = LERP(LO(g11), HI(g11), fx);
            __m256 c0 = LERP(c00, c10, fy), c1 = LERP(c01, c11, fy);
            _mm256_storeu_ps(d + t, _mm256_mask_blend_ps(in, fill, LERP(c0, c1, fz)));
#undef LERP
#undef HI
#undef LO
        }
        __mmask8 edge = ext & (__mmask8)~in;
        if (edge)
            for (int u = 0; u < 8; u++)
                if ((edge >> u) & 1) d[t + u] = warp_slow(p, cx[t + u], cy[t + u], cz[t + u]);
    }
    warp_linear_scalar(p, cx + t, cy + t, cz + t, nb - t, d + t);
}
#endif

ALWAYS_INLINE void warp_box_body(const mvx_warp *p, int x0, int x1, int y0, int y1, int z0, int z1, int avx512) {
    const int ox = p->ox, oy = p->oy;
    const double *m = p->m;
    double cx[WARP_BLOCK], cy[WARP_BLOCK], cz[WARP_BLOCK];
    for (int kk = z0; kk < z1; kk++) {
        for (int jj = y0; jj < y1; jj++) {
            long row = (long)kk * oy + jj;
            double j = (double)jj, k = (double)kk;
            double bx = m[1] * j + m[2] * k + m[3];
            double by = m[5] * j + m[6] * k + m[7];
            double bz = m[9] * j + m[10] * k + m[11];
            long o0 = row * ox;
            float *d = p->out + o0;
            for (int i0 = x0; i0 < x1; i0 += WARP_BLOCK) {
                int nb = x1 - i0 < WARP_BLOCK ? x1 - i0 : WARP_BLOCK;
                // Coordinates (double, exactly as the Swift kernel computes them).
                for (int t = 0; t < nb; t++) {
                    double di = (double)(i0 + t);
                    cx[t] = bx + m[0] * di;
                    cy[t] = by + m[4] * di;
                    cz[t] = bz + m[8] * di;
                }
                if (p->dx) {
                    const float *dx = p->dx + o0 + i0, *dy = p->dy + o0 + i0, *dz = p->dz + o0 + i0;
                    for (int t = 0; t < nb; t++) {
                        cx[t] += (double)dx[t];
                        cy[t] += (double)dy[t];
                        cz[t] += (double)dz[t];
                    }
                }
                if (p->interp != 1) {
                    for (int t = 0; t < nb; t++) d[i0 + t] = warp_slow(p, cx[t], cy[t], cz[t]);
                    continue;
                }
#if MVX_X86
                if (avx512) {
                    warp_linear_avx512(p, cx, cy, cz, nb, d + i0);
                    continue;
                }
#endif
                warp_linear_scalar(p, cx, cy, cz, nb, d + i0);
            }
        }
    }
}

static void warp_box_generic(const mvx_warp *p, int x0, int x1, int y0, int y1, int z0, int z1) { warp_box_body(p, x0, x1, y0, y1, z0, z1, 0); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static void warp_box_avx2(const mvx_warp *p, int x0, int x1, int y0, int y1, int z0, int z1) { warp_box_body(p, x0, x1, y0, y1, z0, z1, 0); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void warp_box_avx512(const mvx_warp *p, int x0, int x1, int y0, int y1, int z0, int z1) { warp_box_body(p, x0, x1, y0, y1, z0, z1, 1); }
#endif

void mvx_warp_box(const mvx_warp *p, int isa, int x0, int x1, int y0, int y1, int z0, int z1) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { warp_box_avx512(p, x0, x1, y0, y1, z0, z1); return; }
    if (isa == MVX_ISA_AVX2) { warp_box_avx2(p, x0, x1, y0, y1, z0, z1); return; }
#endif
    (void)isa;
    warp_box_generic(p, x0, x1, y0, y1, z0, z1);
}

// ---------------------------------------------------------------------------------------------
// Separable (axis-aligned) resampling

enum { SEP_MAX_K = 4, SEP_SLOTS = 2 * SEP_MAX_K };

long mvx_separable_scratch(const mvx_separable *p) {
    return (long)SEP_SLOTS * p->ox * p->ny + p->ox;
}

/// x pass of source slice zs: slice[y][o] = sum_q xw[o][q] * src[zs][y][xi[o][q]] (all q, in order).
ALWAYS_INLINE void sep_xpass(const mvx_separable *p, int zs, float *slice) {
    const int k = p->k, nx = p->nx, ox = p->ox;
    for (int y = 0; y < p->ny; y++) {
        const float *restrict sp = p->src + ((long)zs * p->ny + y) * nx;
        float *restrict tp = slice + (long)y * ox;
        const int *restrict xi = p->xi;
        const float *restrict xw = p->xw;
        if (k == 2) {
            for (int o = 0; o < ox; o++) {
                float acc = 0;
                acc += xw[2 * o] * sp[xi[2 * o]];
                acc += xw[2 * o + 1] * sp[xi[2 * o + 1]];
                tp[o] = acc;
            }
        } else {
            for (int o = 0; o < ox; o++) {
                float acc = 0;
                for (int q = 0; q < k; q++) acc += p->xw[o * k + q] * sp[p->xi[o * k + q]];
                tp[o] = acc;
            }
        }
    }
}

ALWAYS_INLINE void sep_slices_body(const mvx_separable *p, int z0, int z1, float *scratch) {
    const int k = p->k, ox = p->ox, oy = p->oy;
    const long slen = (long)ox * p->ny;
    float *tmp = scratch + (long)SEP_SLOTS * slen;
    int tag[SEP_SLOTS];
    for (int q = 0; q < SEP_SLOTS; q++) tag[q] = -1;
    int next = 0;
    for (int z = z0; z < z1; z++) {
        const float *zw = p->zw + (long)z * k;
        const int *zi = p->zi + (long)z * k;
        const float *slice[SEP_MAX_K];
        int used[SEP_SLOTS] = {0};
        for (int qz = 0; qz < k; qz++) {
            slice[qz] = 0;
            if (zw[qz] == 0) continue;
            int slot = -1;
            for (int q = 0; q < SEP_SLOTS; q++)
                if (tag[q] == zi[qz]) slot = q;
            if (slot < 0) {
                // A slot that this output slice does not need (there are 2k slots, at most k needed).
                for (int tries = 0; tries < SEP_SLOTS; tries++) {
                    int q = (next + tries) % SEP_SLOTS;
                    int needed = used[q];
                    for (int r = 0; r < k && !needed; r++)
                        if (zw[r] != 0 && tag[q] == zi[r]) needed = 1;
                    if (!needed) { slot = q; break; }
                }
                next = (slot + 1) % SEP_SLOTS;
                sep_xpass(p, zi[qz], scratch + slot * slen);
                tag[slot] = zi[qz];
            }
            used[slot] = 1;
            slice[qz] = scratch + slot * slen;
        }
        for (int j = 0; j < oy; j++) {
            float *dst = p->out + ((long)z * oy + j) * ox;
            const float *yw = p->yw + (long)j * k;
            const int *yi = p->yi + (long)j * k;
            for (int o = 0; o < ox; o++) dst[o] = 0;
            for (int qz = 0; qz < k; qz++) {
                if (zw[qz] == 0) continue;
                for (int o = 0; o < ox; o++) tmp[o] = 0;
                for (int qy = 0; qy < k; qy++) {
                    if (yw[qy] == 0) continue;
                    const float *r = slice[qz] + (long)yi[qy] * ox;
                    const float w = yw[qy];
                    for (int o = 0; o < ox; o++) tmp[o] += w * r[o];
                }
                const float w = zw[qz];
                for (int o = 0; o < ox; o++) dst[o] += w * tmp[o];
            }
        }
    }
}

static void sep_generic(const mvx_separable *p, int z0, int z1, float *s) { sep_slices_body(p, z0, z1, s); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static void sep_avx2(const mvx_separable *p, int z0, int z1, float *s) { sep_slices_body(p, z0, z1, s); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void sep_avx512(const mvx_separable *p, int z0, int z1, float *s) { sep_slices_body(p, z0, z1, s); }
#endif

void mvx_separable_slices(const mvx_separable *p, int isa, int z0, int z1, float *scratch) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { sep_avx512(p, z0, z1, scratch); return; }
    if (isa == MVX_ISA_AVX2) { sep_avx2(p, z0, z1, scratch); return; }
#endif
    (void)isa;
    sep_generic(p, z0, z1, scratch);
}

// ---------------------------------------------------------------------------------------------
// Minimum of the finite values

ALWAYS_INLINE long min_finite_body(const float *v, long n, float *out) {
    // 16 independent lanes (the compiler cannot reorder one float reduction without fast-math;
    // separate lanes need no reordering and vectorise), folded at the end.
    float lo[16];
    int count[16];
    for (int j = 0; j < 16; j++) { lo[j] = INFINITY; count[j] = 0; }
    long total = 0;
    long i = 0;
    while (i + 16 <= n) {
        // Blocks of at most 2^20 values keep the per-lane int counts from overflowing.
        long end = i + (((n - i) / 16 < (1L << 20) ? (n - i) / 16 : (1L << 20)) * 16);
        for (; i < end; i += 16) {
            for (int j = 0; j < 16; j++) {
                float x = v[i + j];
                int fin = (x - x) == 0;  // false for ±inf and NaN
                lo[j] = (fin && x < lo[j]) ? x : lo[j];
                count[j] += fin;
            }
        }
        for (int j = 0; j < 16; j++) { total += count[j]; count[j] = 0; }
    }
    float m = INFINITY;
    for (; i < n; i++) {
        float x = v[i];
        int fin = (x - x) == 0;
        m = (fin && x < m) ? x : m;
        total += fin;
    }
    for (int j = 0; j < 16; j++) m = lo[j] < m ? lo[j] : m;
    *out = m;
    return total;
}

static long min_generic(const float *v, long n, float *o) { return min_finite_body(v, n, o); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static long min_avx2(const float *v, long n, float *o) { return min_finite_body(v, n, o); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static long min_avx512(const float *v, long n, float *o) { return min_finite_body(v, n, o); }
#endif

long mvx_min_finite(const float *v, long n, int isa, float *out) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) return min_avx512(v, n, out);
    if (isa == MVX_ISA_AVX2) return min_avx2(v, n, out);
#endif
    (void)isa;
    return min_generic(v, n, out);
}
