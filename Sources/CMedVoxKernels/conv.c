// Convolution tile loops and micro-kernels; see include/mvx_conv.h.
//
// Forward micro-kernel: C[mr][nr] (+)= sum_k A[k][0..mr) (x) B_k[0..nr), where B_k = b + offs[k]
// is nr contiguous floats: in direct mode a shifted row of the zero-padded source (so a 3x3x3
// convolution reads 27 shifted views of the same memory, with no im2col), in gather mode a row of a
// small per-tile column buffer. Weights are broadcast, positions are vector lanes.
//
// Backward-weights micro-kernel: out[mw][nw] = sum_l G[i][l] * B_j[l], vectors along positions,
// reduced horizontally in a fixed order at the end of each chunk.
//
// The summation order of every output element depends only on the shape (chunking of channels
// and positions), never on how tiles are shared among threads.
#include "mvx_conv.h"
#include "conv_internal.h"

#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define MVX_X86 1
#include <immintrin.h>
#endif

// ---------------------------------------------------------------------------------------------
// Instruction-set selection

int mvx_isa_best(void) {
#if MVX_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) return MVX_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return MVX_ISA_AVX2;
#endif
    return MVX_ISA_GENERIC;
}

// Lane widths and register blocks per instruction set, in one place.
enum { GEN_MR = 4, GEN_NR = 16, GEN_MW = 2, GEN_NW = 4 };
enum { AVX2_MR = 4, AVX2_NR = 24, AVX2_MW = 2, AVX2_NW = 4 };
enum { AVX512_MR = 8, AVX512_NR = 48, AVX512_MW = 4, AVX512_NW = 6 };

mvx_isa_info mvx_isa_info_for(int isa) {
    mvx_isa_info i;
    i.isa = isa;
    switch (isa) {
    case MVX_ISA_AVX512: i.mr = AVX512_MR; i.nr = AVX512_NR; i.mw = AVX512_MW; i.nw = AVX512_NW; break;
    case MVX_ISA_AVX2: i.mr = AVX2_MR; i.nr = AVX2_NR; i.mw = AVX2_MW; i.nw = AVX2_NW; break;
    default: i.isa = MVX_ISA_GENERIC; i.mr = GEN_MR; i.nr = GEN_NR; i.mw = GEN_MW; i.nw = GEN_NW; break;
    }
    return i;
}

static inline long lmin(long a, long b) { return a < b ? a : b; }
static inline long lmax(long a, long b) { return a > b ? a : b; }

// ---------------------------------------------------------------------------------------------
// Forward micro-kernels

static void fwd_generic(long K, const float *a, const float *b, const long *offs, float *c, long ldc, int accum) {
    float acc[GEN_MR][GEN_NR];
    for (int i = 0; i < GEN_MR; i++)
        for (int j = 0; j < GEN_NR; j++) acc[i][j] = accum ? c[i * ldc + j] : 0.0f;
    for (long k = 0; k < K; k++) {
        const float *bk = b + offs[k];
        const float *ak = a + k * GEN_MR;
        for (int i = 0; i < GEN_MR; i++)
            for (int j = 0; j < GEN_NR; j++) acc[i][j] += ak[i] * bk[j];
    }
    for (int i = 0; i < GEN_MR; i++)
        for (int j = 0; j < GEN_NR; j++) c[i * ldc + j] = acc[i][j];
}

#if MVX_X86
__attribute__((target("avx2,fma")))
static void fwd_avx2(long K, const float *a, const float *b, const long *offs, float *c, long ldc, int accum) {
    __m256 c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
    if (accum) {
        c00 = _mm256_loadu_ps(c + 0 * ldc), c01 = _mm256_loadu_ps(c + 0 * ldc + 8), c02 = _mm256_loadu_ps(c + 0 * ldc + 16);
        c10 = _mm256_loadu_ps(c + 1 * ldc), c11 = _mm256_loadu_ps(c + 1 * ldc + 8), c12 = _mm256_loadu_ps(c + 1 * ldc + 16);
        c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8), c22 = _mm256_loadu_ps(c + 2 * ldc + 16);
        c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8), c32 = _mm256_loadu_ps(c + 3 * ldc + 16);
    } else {
        c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = _mm256_setzero_ps();
    }
    for (long k = 0; k < K; k++) {
        const float *bk = b + offs[k];
        const float *ak = a + k * AVX2_MR;
        __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8), b2 = _mm256_loadu_ps(bk + 16);
        __m256 x;
        x = _mm256_broadcast_ss(ak + 0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01); c02 = _mm256_fmadd_ps(x, b2, c02);
        x = _mm256_broadcast_ss(ak + 1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11); c12 = _mm256_fmadd_ps(x, b2, c12);
        x = _mm256_broadcast_ss(ak + 2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21); c22 = _mm256_fmadd_ps(x, b2, c22);
        x = _mm256_broadcast_ss(ak + 3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31); c32 = _mm256_fmadd_ps(x, b2, c32);
    }
    _mm256_storeu_ps(c + 0 * ldc, c00); _mm256_storeu_ps(c + 0 * ldc + 8, c01); _mm256_storeu_ps(c + 0 * ldc + 16, c02);
    _mm256_storeu_ps(c + 1 * ldc, c10); _mm256_storeu_ps(c + 1 * ldc + 8, c11); _mm256_storeu_ps(c + 1 * ldc + 16, c12);
    _mm256_storeu_ps(c + 2 * ldc, c20); _mm256_storeu_ps(c + 2 * ldc + 8, c21); _mm256_storeu_ps(c + 2 * ldc + 16, c22);
    _mm256_storeu_ps(c + 3 * ldc, c30); _mm256_storeu_ps(c + 3 * ldc + 8, c31); _mm256_storeu_ps(c + 3 * ldc + 16, c32);
}

#define FMA3(i)                                                                                     \
    x = _mm512_set1_ps(ak[i]);                                                                      \
    c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0);                                                      \
    c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1);                                                      \
    c##i##2 = _mm512_fmadd_ps(x, b2, c##i##2);
#define LOAD3(i)                                                                                    \
    c##i##0 = _mm512_loadu_ps(c + i * ldc), c##i##1 = _mm512_loadu_ps(c + i * ldc + 16),           \
    c##i##2 = _mm512_loadu_ps(c + i * ldc + 32);
#define STORE3(i)                                                                                   \
    _mm512_storeu_ps(c + i * ldc, c##i##0), _mm512_storeu_ps(c + i * ldc + 16, c##i##1),           \
    _mm512_storeu_ps(c + i * ldc + 32, c##i##2);

__attribute__((target("avx512f,fma")))
static void fwd_avx512(long K, const float *a, const float *b, const long *offs, float *c, long ldc, int accum) {
    __m512 c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
    __m512 c40, c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72;
    if (accum) {
        LOAD3(0) LOAD3(1) LOAD3(2) LOAD3(3) LOAD3(4) LOAD3(5) LOAD3(6) LOAD3(7)
    } else {
        c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = _mm512_setzero_ps();
        c40 = c41 = c42 = c50 = c51 = c52 = c60 = c61 = c62 = c70 = c71 = c72 = _mm512_setzero_ps();
    }
    for (long k = 0; k < K; k++) {
        const float *bk = b + offs[k];
        const float *ak = a + k * AVX512_MR;
        __m512 b0 = _mm512_loadu_ps(bk), b1 = _mm512_loadu_ps(bk + 16), b2 = _mm512_loadu_ps(bk + 32);
        __m512 x;
        FMA3(0) FMA3(1) FMA3(2) FMA3(3) FMA3(4) FMA3(5) FMA3(6) FMA3(7)
    }
    STORE3(0) STORE3(1) STORE3(2) STORE3(3) STORE3(4) STORE3(5) STORE3(6) STORE3(7)
}
#endif

// One-row kernels for passes with very few output channels (backward-data of a 1-channel input):
// C[1][NR1] (+)= sum_k a[k] * B_k, 12 vector accumulators.
enum { GEN_NR1 = 16, AVX2_NR1 = 96, AVX512_NR1 = 192 };

static void fwd1_generic(long K, const float *a, const float *b, const long *offs, float *c, long ldc, int accum) {
    (void)ldc;
    float acc[GEN_NR1];
    for (int j = 0; j < GEN_NR1; j++) acc[j] = accum ? c[j] : 0.0f;
    for (long k = 0; k < K; k++) {
        const float *bk = b + offs[k];
        for (int j = 0; j < GEN_NR1; j++) acc[j] += a[k] * bk[j];
    }
    for (int j = 0; j < GEN_NR1; j++) c[j] = acc[j];
}

#if MVX_X86
#define R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx2,fma")))
static void fwd1_avx2(long K, const float *a, const float *b, const long *offs, float *c, long ldc, int accum) {
    (void)ldc;
#define D1(j) __m256 c##j = accum ? _mm256_loadu_ps(c + 8 * j) : _mm256_setzero_ps();
#define F1(j) c##j = _mm256_fmadd_ps(x, _mm256_loadu_ps(bk + 8 * j), c##j);
#define S1(j) _mm256_storeu_ps(c + 8 * j, c##j);
    R12(D1)
    for (long k = 0; k < K; k++) {
        const float *bk = b + offs[k];
        __m256 x = _mm256_broadcast_ss(a + k);
        R12(F1)
    }
    R12(S1)
#undef D1
#undef F1
#undef S1
}

__attribute__((target("avx512f,fma")))
static void fwd1_avx512(long K, const float *a, const float *b, const long *offs, float *c, long ldc, int accum) {
    (void)ldc;
#define D1(j) __m512 c##j = accum ? _mm512_loadu_ps(c + 16 * j) : _mm512_setzero_ps();
#define F1(j) c##j = _mm512_fmadd_ps(x, _mm512_loadu_ps(bk + 16 * j), c##j);
#define S1(j) _mm512_storeu_ps(c + 16 * j, c##j);
    R12(D1)
    for (long k = 0; k < K; k++) {
        const float *bk = b + offs[k];
        __m512 x = _mm512_set1_ps(a[k]);
        R12(F1)
    }
    R12(S1)
#undef D1
#undef F1
#undef S1
}
#endif

#if MVX_X86
// Short-grid variant: C[12][32] (+)= sum_k A[k][0..12) (x) B_k[0..32), 24 vector accumulators, for
// Winograd blocks of few tiles (64 tiles fill 64 lanes instead of 96).
#define FMA2(i)                                                                                     \
    x = _mm512_set1_ps(ak[i]);                                                                      \
    c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0);                                                      \
    c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1);
#define LOAD2(i) c##i##0 = _mm512_loadu_ps(c + i * ldc), c##i##1 = _mm512_loadu_ps(c + i * ldc + 16);
#define STORE2(i) _mm512_storeu_ps(c + i * ldc, c##i##0), _mm512_storeu_ps(c + i * ldc + 16, c##i##1);
#define R12B(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx512f,fma")))
static void fwd12_avx512(long K, const float *a, const float *b, const long *offs, float *c, long ldc, int accum) {
    __m512 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    __m512 c60, c61, c70, c71, c80, c81, c90, c91, c100, c101, c110, c111;
    if (accum) {
        R12B(LOAD2)
    } else {
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm512_setzero_ps();
        c60 = c61 = c70 = c71 = c80 = c81 = c90 = c91 = c100 = c101 = c110 = c111 = _mm512_setzero_ps();
    }
    for (long k = 0; k < K; k++) {
        const float *bk = b + offs[k];
        const float *ak = a + k * 12;
        __m512 b0 = _mm512_loadu_ps(bk), b1 = _mm512_loadu_ps(bk + 16);
        __m512 x;
        R12B(FMA2)
    }
    R12B(STORE2)
}
#endif

mvx_isa_info mvx_isa_info_short(int isa) {
    mvx_isa_info i = mvx_isa_info_for(isa);
    if (i.isa == MVX_ISA_AVX512) i.mr = 12, i.nr = 32;
    return i;
}

mvx_isa_info mvx_isa_info_narrow(int isa) {
    mvx_isa_info i = mvx_isa_info_for(isa);
    i.mr = 1;
    i.nr = i.isa == MVX_ISA_AVX512 ? AVX512_NR1 : i.isa == MVX_ISA_AVX2 ? AVX2_NR1 : GEN_NR1;
    return i;
}

mvx_fwd_kernel mvx_fwd_kernel_for(int isa, int mr) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) return mr == 1 ? fwd1_avx512 : mr == 12 ? fwd12_avx512 : fwd_avx512;
    if (isa == MVX_ISA_AVX2) return mr == 1 ? fwd1_avx2 : fwd_avx2;
#endif
    (void)isa;
    return mr == 1 ? fwd1_generic : fwd_generic;
}

// ---------------------------------------------------------------------------------------------
// Weight packing, padding, gathering

void mvx_pack_weights(const float *w, int M, int C, int taps, int kcc, int mr, int transpose, int flip, float *A) {
    long Mpad = ((long)M + mr - 1) / mr * mr;
    for (int c0 = 0; c0 < C; c0 += kcc) {
        int kc = (int)lmin(kcc, C - c0);
        long K = (long)kc * taps;
        float *chunk = A + Mpad * c0 * taps;
        for (long mb = 0; mb < Mpad / mr; mb++) {
            float *panel = chunk + mb * mr * K;
            for (long k = 0; k < K; k++) {
                int c = c0 + (int)(k / taps), t = (int)(k % taps);
                int ts = flip ? taps - 1 - t : t;
                for (int i = 0; i < mr; i++) {
                    long m = mb * mr + i;
                    float v = 0;
                    if (m < M) v = transpose ? w[((long)c * M + m) * taps + ts] : w[(m * C + c) * taps + ts];
                    panel[k * mr + i] = v;
                }
            }
        }
    }
}

void mvx_pad_copy(const float *x, int c0, int c1, int d, int h, int w, int pd, int ph, int pw,
                  float *dst, long chan_pitch) {
    mvx_pad_copy_planes(x, c0, c1, d, h, w, pd, ph, pw, 0, d + 2 * pd, dst, chan_pitch);
}

void mvx_pad_copy_planes(const float *x, int c0, int c1, int d, int h, int w, int pd, int ph, int pw, int p0, int p1,
                         float *dst, long chan_pitch) {
    const long Hp = h + 2L * ph, Wp = w + 2L * pw, plane = Hp * Wp;
    for (int c = c0; c < c1; c++) {
        float *o = dst + (long)c * chan_pitch;
        const float *s = x + (long)c * d * h * w;
        for (long p = p0; p < p1; p++) {
            float *pl = o + (p - p0) * plane;
            const long z = p - pd;
            if (z < 0 || z >= d) {
                memset(pl, 0, sizeof(float) * (size_t)plane);
                continue;
            }
            memset(pl, 0, sizeof(float) * (size_t)(ph * Wp));
            for (long y = 0; y < h; y++) {
                float *row = pl + (y + ph) * Wp;
                memset(row, 0, sizeof(float) * (size_t)pw);
                memcpy(row + pw, s + (z * h + y) * w, sizeof(float) * (size_t)w);
                memset(row + pw + w, 0, sizeof(float) * (size_t)pw);
            }
            memset(pl + (ph + h) * Wp, 0, sizeof(float) * (size_t)(ph * Wp));
        }
        const long used = (p1 - p0) * plane;
        memset(o + used, 0, sizeof(float) * (size_t)(chan_pitch - used));
    }
}

// Source index along one axis for output coordinate o and tap t, or -1 when outside.
static inline long src_index(long o, long t, int mul, int tmul, int off, int div, int size) {
    long num = o * mul + t * tmul + off;
    if (num < 0) return -1;
    if (div != 1) {
        if (num % div) return -1;
        num /= div;
    }
    return num < size ? num : -1;
}

// Writes `len` values (from `from`, or zeros when NULL) at positions j.. of row k of a column
// buffer: row-major (col + k*ldrow + j) or blocked by micro-tile (col + ((j/nr)*K + k)*nr + j%nr).
static inline void put_run(float *col, int blocked, long K, long k, long nr, long ldrow, long j,
                           const float *from, long len) {
    while (len > 0) {
        long piece = blocked ? lmin(len, nr - j % nr) : len;
        float *dst = blocked ? col + ((j / nr) * K + k) * nr + j % nr : col + k * ldrow + j;
        if (piece <= 16) {
            // Short runs (small volumes): an inline loop beats a library call.
            if (from) {
                for (long i = 0; i < piece; i++) dst[i] = from[i];
                from += piece;
            } else {
                for (long i = 0; i < piece; i++) dst[i] = 0;
            }
        } else if (from) {
            memcpy(dst, from, sizeof(float) * (size_t)piece);
            from += piece;
        } else {
            memset(dst, 0, sizeof(float) * (size_t)piece);
        }
        j += piece;
        len -= piece;
    }
}

// Gathers rows k = (c - c0)*taps + t for channels [c0, c1) at output positions [t0, t1) of an
// od x oh x ow grid into col (layout as put_run), zero where the source is outside. Rows of
// contiguous source (mul = div = 1 on the last axis) are copied as runs.
static void gather_rows(const float *raw, int sd, int sh, int sw, const int *kk, const int *mul, const int *tmul,
                        const int *off, const int *div, int od, int oh, int ow, int c0, int c1, int taps,
                        long t0, long t1, float *col, int blocked, long nr, long ldrow) {
    (void)od;
    long K = (long)(c1 - c0) * taps;
    long plane = (long)sd * sh * sw;
    long n = t1 - t0;
    const int contiguous = mul[2] == 1 && div[2] == 1;
    for (int c = c0; c < c1; c++) {
        const float *src = raw + (long)c * plane;
        for (int t = 0; t < taps; t++) {
            int a = t / (kk[1] * kk[2]), b = (t / kk[2]) % kk[1], e = t % kk[2];
            long k = (long)(c - c0) * taps + t;
            long p = t0;
            long x = p % ow, y = (p / ow) % oh, z = p / ((long)ow * oh);
            while (p < t1) {
                long run = lmin(ow - x, t1 - p);
                long iz = src_index(z, a, mul[0], tmul[0], off[0], div[0], sd);
                long iy = src_index(y, b, mul[1], tmul[1], off[1], div[1], sh);
                long j = p - t0;
                if (iz < 0 || iy < 0) {
                    put_run(col, blocked, K, k, nr, ldrow, j, NULL, run);
                } else if (contiguous) {
                    const float *srow = src + (iz * sh + iy) * sw;
                    long ix0 = x + (long)e * tmul[2] + off[2];  // source of the run's first element
                    long lead = ix0 < 0 ? lmin(run, -ix0) : 0;
                    long body = lmin(run - lead, sw - (ix0 + lead));
                    if (body < 0) body = 0;
                    put_run(col, blocked, K, k, nr, ldrow, j, NULL, lead);
                    put_run(col, blocked, K, k, nr, ldrow, j + lead, srow + ix0 + lead, body);
                    put_run(col, blocked, K, k, nr, ldrow, j + lead + body, NULL, run - lead - body);
                } else {
                    const float *srow = src + (iz * sh + iy) * sw;
                    for (long r = 0; r < run; r++, j++) {
                        long ix = src_index(x + r, e, mul[2], tmul[2], off[2], div[2], sw);
                        long at = blocked ? ((j / nr) * K + k) * nr + j % nr : k * ldrow + j;
                        col[at] = ix < 0 ? 0.0f : srow[ix];
                    }
                }
                p += run;
                x = 0;
                if (++y == oh) { y = 0; z++; }
            }
            // Zero the padding lanes of the last micro-tile.
            long padded = blocked ? (n + nr - 1) / nr * nr : ldrow;
            put_run(col, blocked, K, k, nr, ldrow, n, NULL, padded - n);
        }
    }
}

// Gathers rows k = (c - c0)*taps + t for channels [c0, c1) at output positions [t0, t1) of an
// (od x) oh x ow grid from a zero-padded source, where every tap is in bounds:
// value = src[c*chan_pitch + tapoff[t] + z*s0*pp + y*s1*rp + x*s2]. The runs (pieces of output
// rows, split at micro-tile boundaries) are listed once and replayed for every (c, t).
// Layout as put_run. `runs` holds 3 * (t1 - t0 + (t1 - t0) / nr + 2) longs.
static void gather_padded(const float *src, long chan_pitch, long pp, long rp, const long *tapoff, const int *stride,
                          int oh, int ow, int c0, int c1, int taps, long t0, long t1, float *col, int blocked,
                          long nr, long ldrow, long *runs) {
    const long K = (long)(c1 - c0) * taps, n = t1 - t0;
    const long s2 = stride[2];
    long nrun = 0;
    long p = t0, x = p % ow, y = (p / ow) % oh, z = p / ((long)ow * oh);
    while (p < t1) {
        long run = lmin(ow - x, t1 - p), j = p - t0;
        long sbase = z * stride[0] * pp + y * stride[1] * rp + x * s2;
        while (run > 0) {
            long piece = blocked ? lmin(run, nr - j % nr) : run;
            runs[3 * nrun] = sbase;
            runs[3 * nrun + 1] = piece;
            runs[3 * nrun + 2] = blocked ? (j / nr) * K * nr + j % nr : j;
            nrun++;
            sbase += piece * s2;
            j += piece;
            run -= piece;
            p += piece;
        }
        x = 0;
        if (++y == oh) { y = 0; z++; }
    }
    const long rstride = blocked ? nr : ldrow;
    const long padded = blocked ? (n + nr - 1) / nr * nr : ldrow;
    for (int c = c0; c < c1; c++) {
        for (int t = 0; t < taps; t++) {
            const long k = (long)(c - c0) * taps + t;
            const float *sk = src + (long)c * chan_pitch + tapoff[t];
            float *dk = col + k * rstride;
            for (long r = 0; r < nrun; r++) {
                const float *a = sk + runs[3 * r];
                float *b = dk + runs[3 * r + 2];
                const long len = runs[3 * r + 1];
                if (s2 == 1) {
                    for (long i = 0; i < len; i++) b[i] = a[i];
                } else {
                    for (long i = 0; i < len; i++) b[i] = a[i * s2];
                }
            }
            if (padded > n) {
                float *tail = blocked ? dk + (n / nr) * K * nr + n % nr : dk + n;
                for (long i = 0; i < padded - n; i++) tail[i] = 0;
            }
        }
    }
}

static inline __attribute__((always_inline)) float activate(float v, int act, float slope) {
    if (act == 1) return v > 0 ? v : 0;
    if (act == 2) return v < 0 ? v * slope : v;
    return v;
}

// Writes acc rows (tile positions j0.., len of them) to the output from element o0 on, `ostep`
// apart, with bias and activation. Compiled per instruction set (element-wise, so the same bits).
static inline __attribute__((always_inline)) void store_rows_body(const mvx_fwd *p, const float *acc, long ldacc, long j0, long o0, long len, long ostep) {
    for (int m = 0; m < p->M; m++) {
        const float *s = acc + (long)m * ldacc + j0;
        float *o = p->out + (long)m * p->out_plane + o0;
        float bm = p->bias ? p->bias[m] : 0.0f;
        if (ostep != 1) {
            for (long i = 0; i < len; i++) o[i * ostep] = activate(s[i] + bm, p->act, p->slope);
        } else if (p->act == 0) {
            for (long i = 0; i < len; i++) o[i] = s[i] + bm;
        } else if (p->act == 1) {
            for (long i = 0; i < len; i++) { float v = s[i] + bm; o[i] = v > 0 ? v : 0; }
        } else {
            float a = p->slope;
            for (long i = 0; i < len; i++) { float v = s[i] + bm; o[i] = v < 0 ? v * a : v; }
        }
    }
}

static void store_rows_generic(const mvx_fwd *p, const float *acc, long ldacc, long j0, long o0, long len, long ostep) {
    store_rows_body(p, acc, ldacc, j0, o0, len, ostep);
}
#if MVX_X86
__attribute__((target("avx2,fma"))) static void store_rows_avx2(const mvx_fwd *p, const float *acc, long ldacc, long j0, long o0, long len, long ostep) {
    store_rows_body(p, acc, ldacc, j0, o0, len, ostep);
}
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void store_rows_avx512(const mvx_fwd *p, const float *acc, long ldacc, long j0, long o0, long len, long ostep) {
    store_rows_body(p, acc, ldacc, j0, o0, len, ostep);
}
#endif

static void store_rows(const mvx_fwd *p, const float *acc, long ldacc, long j0, long o0, long len, long ostep) {
#if MVX_X86
    if (p->isa == MVX_ISA_AVX512) { store_rows_avx512(p, acc, ldacc, j0, o0, len, ostep); return; }
    if (p->isa == MVX_ISA_AVX2) { store_rows_avx2(p, acc, ldacc, j0, o0, len, ostep); return; }
#endif
    store_rows_generic(p, acc, ldacc, j0, o0, len, ostep);
}

// Output element of grid position (z, y, x): dense, or one phase of a strided output.
static inline long out_index(const mvx_fwd *p, long z, long y, long x) {
    if (p->ostride[0] == 0) return (z * p->oh + y) * p->ow + x;
    return ((z * p->ostride[0] + p->ophase[0]) * p->ofull[1] + y * p->ostride[1] + p->ophase[1]) * p->ofull[2]
           + x * p->ostride[2] + p->ophase[2];
}

// The tile loop of every tiled pass: per K chunk of channels, the micro-kernel over K rows that
// are shifted views of the padded copy (direct) or rows of a column buffer gathered from it
// (gather) or from the raw source (raw); exactly one of the three is given. Then the stores.
static void fwd_tile(const mvx_fwd *p, const mvx_fwd_direct *direct, const mvx_fwd_gather *gather,
                     const mvx_fwd_gather_raw *raw, long t0, long t1, float *acc, long ldacc, float *col, long *offs,
                     long *runs) {
    mvx_fwd_kernel kern = mvx_fwd_kernel_for(p->isa, p->mr);
    const int mr = p->mr;
    const long nr = p->nr;
    const long n = t1 - t0, nsub = (n + nr - 1) / nr;
    const long Mpad = ((long)p->M + mr - 1) / mr * mr;
    for (int c0 = 0; c0 < p->C; c0 += p->kcc) {
        int c1 = (int)lmin(p->C, c0 + p->kcc);
        long K = (long)(c1 - c0) * p->taps;
        const float *Ac = p->A + Mpad * c0 * p->taps;
        const float *base;
        if (direct) {
            for (long k = 0; k < K; k++) offs[k] = (k / p->taps) * direct->s.chan_pitch + direct->s.tapoff[k % p->taps];
            base = direct->s.src + c0 * direct->s.chan_pitch + t0;
        } else {
            if (gather)
                gather_padded(gather->s.src, gather->s.chan_pitch, gather->s.pp, gather->s.rp, gather->s.tapoff, gather->mul,
                              p->oh, p->ow, c0, c1, p->taps, t0, t1, col, 1, nr, 0, runs);
            else
                gather_rows(raw->raw, raw->sd, raw->sh, raw->sw, raw->k, raw->mul, raw->tmul, raw->off, raw->div, p->od,
                            p->oh, p->ow, c0, c1, p->taps, t0, t1, col, 1, nr, 0);
            for (long k = 0; k < K; k++) offs[k] = k * nr;
            base = col;
        }
        for (long s = 0; s < nsub; s++) {
            const float *b = direct ? base + s * nr : base + s * K * nr;
            for (long mb = 0; mb < Mpad / mr; mb++)
                kern(K, Ac + mb * mr * K, b, offs, acc + mb * mr * ldacc + s * nr, ldacc, c0 > 0);
        }
    }
    if (direct) {
        // Positions index the padded grid: write the runs that fall inside the output.
        const long pp = direct->s.pp, rp = direct->s.rp;
        long q = t0;
        while (q < t1) {
            long z = q / pp, y = (q % pp) / rp, x = q % rp;
            long rowEnd = q - x + rp;
            if (z < p->od && y < p->oh && x < p->ow) {
                long len = lmin(p->ow - x, t1 - q);
                store_rows(p, acc, ldacc, q - t0, out_index(p, z, y, x), len, p->ostride[0] ? p->ostride[2] : 1);
            }
            q = rowEnd;
        }
    } else if (p->ostride[0] == 0) {
        store_rows(p, acc, ldacc, 0, t0, n, 1);
    } else {
        long q = t0, x = q % p->ow, y = (q / p->ow) % p->oh, z = q / ((long)p->ow * p->oh);
        while (q < t1) {
            long len = lmin(p->ow - x, t1 - q);
            store_rows(p, acc, ldacc, q - t0, out_index(p, z, y, x), len, p->ostride[2]);
            q += len;
            x = 0;
            if (++y == p->oh) { y = 0; z++; }
        }
    }
}

void mvx_fwd_direct_tile(const mvx_fwd_direct *p, long t0, long t1, float *acc, long ldacc, long *offs) {
    fwd_tile(&p->f, p, NULL, NULL, t0, t1, acc, ldacc, NULL, offs, NULL);
}

void mvx_fwd_gather_tile(const mvx_fwd_gather *p, long t0, long t1, float *acc, long ldacc, float *col, long *offs, long *runs) {
    fwd_tile(&p->f, NULL, p, NULL, t0, t1, acc, ldacc, col, offs, runs);
}

void mvx_fwd_gather_raw_tile(const mvx_fwd_gather_raw *p, long t0, long t1, float *acc, long ldacc, float *col, long *offs) {
    fwd_tile(&p->f, NULL, NULL, p, t0, t1, acc, ldacc, col, offs, NULL);
}

// ---------------------------------------------------------------------------------------------
// Single-output-channel passes with kd x 3 x 3 taps on a "same" grid (backward-data of a 1-channel
// input): blocks of R1 rows x 16*V1 positions in registers, reading each source channel where it
// lives. Each source row of the block's window is loaded once as aligned-offset vectors (the
// shifted views x - 1 and x + 1 are built in registers: unaligned loads that cross cache lines
// cost this kernel half its speed) and feeds every output row of the block it reaches (up to 3),
// with the 9 weights of a (channel, plane) broadcast once. Rows and planes outside the grid read
// a row of zeros, positions past a row's ends are masked to zero. Each output sums channels, then
// taps, in order, one fused multiply-add per term (zeros included): the order and rounding of the
// one-row kernel on the padded copy, so the same bits.

enum { R1 = 4, V1 = 2 };

#if MVX_X86
__attribute__((target("avx512f,fma")))
static void rows1_avx512(const mvx_fwd_rows *r, long z0, long z1, long y0, long y1) {
    const mvx_fwd *p = &r->f;
    const long D = p->od, H = p->oh, W = p->ow, plane = H * W;
    const int C = p->C, kd = p->taps / 9, pd = (kd - 1) / 2;
    const __m512 bias = _mm512_set1_ps(p->bias ? p->bias[0] : 0.0f), zerov = _mm512_setzero_ps();
    const __m512 slope = _mm512_set1_ps(p->slope);
    const float zero[16 * V1 + 32] = {0};  // what rows outside the grid read (x0 - 16 .. x0 + 16*V1 + 16)
    // Bands of rows whose source window (kd planes of band + 2 rows, every channel) stays within
    // about 1 MB of cache while the planes advance: each source row is then read from memory
    // about once, rather than once per plane it feeds.
    const long band = lmax(R1, ((1L << 18) / ((long)kd * C * W) - 2) / R1 * R1);
    for (long ys = y0; ys < y1; ys += band)
        for (long z = z0; z < z1; z++)
            for (long yb = ys; yb < lmin(y1, ys + band); yb += R1) {
                // The last block ends at the range's end (recomputing a few of its rows, same bits).
                const long y = lmin(yb, y1 - R1);
                for (long xb = 0; xb < W; xb += 16 * V1) {
                    const long x0 = lmin(xb, W - 16 * V1);
                    // Lanes of the vectors before and after the block that lie inside the row.
                    const __mmask16 before = (__mmask16)(x0 >= 16 ? 0xFFFFu : x0 == 0 ? 0u : 0xFFFFu << (16 - x0));
                    const long after = W - (x0 + 16 * V1);
                    const __mmask16 beyond = (__mmask16)(after >= 16 ? 0xFFFF : (1u << after) - 1);
                    // Every loop over acc is unrolled, so it lives in registers.
                    __m512 acc[R1][V1];
#pragma clang loop unroll(full)
                    for (int r = 0; r < R1; r++)
#pragma clang loop unroll(full)
                        for (int v = 0; v < V1; v++) acc[r][v] = zerov;
                    for (int c = 0; c < C; c++)
                        for (int a = 0; a < kd; a++) {
                            const long zz = z + a - pd;
                            const float *w = p->A + ((long)c * kd + a) * 9;
                            __m512 wb[9];
#pragma clang loop unroll(full)
                            for (int i = 0; i < 9; i++) wb[i] = _mm512_set1_ps(w[i]);
                            // The window's rows (zeros outside the grid), from position x0.
                            const float *rows[R1 + 2];
                            const float *base = zz >= 0 && zz < D ? r->chan[c] + zz * plane + x0 : NULL;
                            for (int yy = 0; yy < R1 + 2; yy++) {
                                const long sy = y + yy - 1;
                                rows[yy] = base && sy >= 0 && sy < H ? base + sy * W : zero + 16;
                            }
#pragma clang loop unroll(full)
                            for (int yy = 0; yy < R1 + 2; yy++) {
                                // Keeps the compiler from loading every row up front (and spilling).
                                __asm__ volatile("" ::: "memory");
                                const float *row = rows[yy];
                                __m512 cur[V1 + 2], left[V1], right[V1];
                                cur[0] = _mm512_maskz_loadu_ps(before, row - 16);
#pragma clang loop unroll(full)
                                for (int v = 0; v < V1; v++) cur[v + 1] = _mm512_loadu_ps(row + 16 * v);
                                cur[V1 + 1] = _mm512_maskz_loadu_ps(beyond, row + 16 * V1);
#pragma clang loop unroll(full)
                                for (int v = 0; v < V1; v++) {
                                    left[v] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(cur[v + 1]), _mm512_castps_si512(cur[v]), 15));
                                    right[v] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(cur[v + 2]), _mm512_castps_si512(cur[v + 1]), 1));
                                }
#pragma clang loop unroll(full)
                                for (int r = 0; r < R1; r++) {
                                    const int b = yy - r;
                                    if (b < 0 || b > 2) continue;
#pragma clang loop unroll(full)
                                    for (int v = 0; v < V1; v++) {
                                        acc[r][v] = _mm512_fmadd_ps(left[v], wb[b * 3], acc[r][v]);
                                        acc[r][v] = _mm512_fmadd_ps(cur[v + 1], wb[b * 3 + 1], acc[r][v]);
                                        acc[r][v] = _mm512_fmadd_ps(right[v], wb[b * 3 + 2], acc[r][v]);
                                    }
                                }
                            }
                        }
#pragma clang loop unroll(full)
                    for (int r = 0; r < R1; r++) {
                        float *o = p->out + (z * H + y + r) * W + x0;
#pragma clang loop unroll(full)
                        for (int v = 0; v < V1; v++) {
                            __m512 t = _mm512_add_ps(acc[r][v], bias);
                            if (p->act == 1) t = _mm512_max_ps(t, zerov);  // v > 0 ? v : 0, NaN and -0 included
                            else if (p->act == 2) t = _mm512_mask_mul_ps(t, _mm512_cmp_ps_mask(t, zerov, _CMP_LT_OQ), t, slope);
                            _mm512_storeu_ps(o + 16 * v, t);
                        }
                    }
                }
            }
}
#endif

int mvx_rows1_fits(int isa, int oh, int ow) { return isa == MVX_ISA_AVX512 && oh >= R1 && ow >= 16 * V1; }

void mvx_fwd_rows1(const mvx_fwd_rows *p, long z0, long z1, long y0, long y1) {
#if MVX_X86
    if (p->f.isa == MVX_ISA_AVX512 && y1 - y0 >= R1) rows1_avx512(p, z0, z1, y0, y1);
#else
    (void)p, (void)z0, (void)z1, (void)y0, (void)y1;
#endif
}

// ---------------------------------------------------------------------------------------------
// Backward-weights micro-kernels: out[i][j] = sum_{l<L} g[i*ldg + l] * b[offs[j] + l]

static void bww_generic(long L, const float *const *g, const float *const *bj, float *out, float *vacc, long vstride, int vinit) {
    (void)vacc, (void)vstride, (void)vinit;
    for (int i = 0; i < GEN_MW; i++)
        for (int j = 0; j < GEN_NW; j++) {
            float s[8] = {0};
            long l = 0;
            for (; l + 8 <= L; l += 8)
                for (int v = 0; v < 8; v++) s[v] += g[i][l + v] * bj[j][l + v];
            for (int v = 0; l < L; l++, v++) s[v] += g[i][l] * bj[j][l];
            out[i * GEN_NW + j] = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        }
}

#if MVX_X86
__attribute__((target("avx2,fma")))
static void bww_avx2(long L, const float *const *g, const float *const *bj, float *out, float *vacc, long vstride, int vinit) {
    __m256 acc[AVX2_MW][AVX2_NW];
    for (int i = 0; i < AVX2_MW; i++)
        for (int j = 0; j < AVX2_NW; j++)
            acc[i][j] = vacc && vinit ? _mm256_loadu_ps(vacc + (i * vstride + j) * 8) : _mm256_setzero_ps();
    long l = 0;
    for (; l + 8 <= L; l += 8) {
        __m256 g0 = _mm256_loadu_ps(g[0] + l), g1 = _mm256_loadu_ps(g[1] + l);
        for (int j = 0; j < AVX2_NW; j++) {
            __m256 b = _mm256_loadu_ps(bj[j] + l);
            acc[0][j] = _mm256_fmadd_ps(g0, b, acc[0][j]);
            acc[1][j] = _mm256_fmadd_ps(g1, b, acc[1][j]);
        }
    }
    if (l < L) {
        static const int lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
        __m256i mask = _mm256_loadu_si256((const __m256i *)(lanes + 8 - (L - l)));
        __m256 g0 = _mm256_maskload_ps(g[0] + l, mask), g1 = _mm256_maskload_ps(g[1] + l, mask);
        for (int j = 0; j < AVX2_NW; j++) {
            __m256 b = _mm256_maskload_ps(bj[j] + l, mask);
            acc[0][j] = _mm256_fmadd_ps(g0, b, acc[0][j]);
            acc[1][j] = _mm256_fmadd_ps(g1, b, acc[1][j]);
        }
    }
    if (vacc) {
        for (int i = 0; i < AVX2_MW; i++)
            for (int j = 0; j < AVX2_NW; j++) _mm256_storeu_ps(vacc + (i * vstride + j) * 8, acc[i][j]);
        return;
    }
    for (int i = 0; i < AVX2_MW; i++)
        for (int j = 0; j < AVX2_NW; j++) {
            __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[i][j]), _mm256_extractf128_ps(acc[i][j], 1));
            s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
            out[i * AVX2_NW + j] = _mm_cvtss_f32(s);
        }
}

// Named accumulators (not an array) so the compiler keeps all 24 in registers.
#define BW_ROW(X, i) X(i, 0) X(i, 1) X(i, 2) X(i, 3) X(i, 4) X(i, 5)
#define BW_ALL(X) BW_ROW(X, 0) BW_ROW(X, 1) BW_ROW(X, 2) BW_ROW(X, 3)
#define BW_DECL(i, j) __m512 a##i##j = vacc && vinit ? _mm512_loadu_ps(vacc + (i * vstride + j) * 16) : _mm512_setzero_ps();
#define BW_FMA(i, j) a##i##j = _mm512_fmadd_ps(g##i, b##j, a##i##j);
#define BW_STORE(i, j) _mm512_storeu_ps(vacc + (i * vstride + j) * 16, a##i##j);
#define BW_REDUCE(i, j) out[i * AVX512_NW + j] = _mm512_reduce_add_ps(a##i##j);

__attribute__((target("avx512f,fma")))
static void bww_avx512(long L, const float *const *g, const float *const *bj, float *out, float *vacc, long vstride, int vinit) {
    BW_ALL(BW_DECL)
    const float *g0p = g[0], *g1p = g[1], *g2p = g[2], *g3p = g[3];
    const float *b0p = bj[0], *b1p = bj[1], *b2p = bj[2], *b3p = bj[3], *b4p = bj[4], *b5p = bj[5];
    long l = 0;
    for (; l + 16 <= L; l += 16) {
        __m512 g0 = _mm512_loadu_ps(g0p + l), g1 = _mm512_loadu_ps(g1p + l);
        __m512 g2 = _mm512_loadu_ps(g2p + l), g3 = _mm512_loadu_ps(g3p + l);
        __m512 b0 = _mm512_loadu_ps(b0p + l), b1 = _mm512_loadu_ps(b1p + l), b2 = _mm512_loadu_ps(b2p + l);
        __m512 b3 = _mm512_loadu_ps(b3p + l), b4 = _mm512_loadu_ps(b4p + l), b5 = _mm512_loadu_ps(b5p + l);
        BW_ALL(BW_FMA)
    }
    if (l < L) {
        __mmask16 mask = (__mmask16)((1u << (L - l)) - 1u);
        __m512 g0 = _mm512_maskz_loadu_ps(mask, g0p + l), g1 = _mm512_maskz_loadu_ps(mask, g1p + l);
        __m512 g2 = _mm512_maskz_loadu_ps(mask, g2p + l), g3 = _mm512_maskz_loadu_ps(mask, g3p + l);
        __m512 b0 = _mm512_maskz_loadu_ps(mask, b0p + l), b1 = _mm512_maskz_loadu_ps(mask, b1p + l);
        __m512 b2 = _mm512_maskz_loadu_ps(mask, b2p + l), b3 = _mm512_maskz_loadu_ps(mask, b3p + l);
        __m512 b4 = _mm512_maskz_loadu_ps(mask, b4p + l), b5 = _mm512_maskz_loadu_ps(mask, b5p + l);
        BW_ALL(BW_FMA)
    }
    if (vacc) {
        BW_ALL(BW_STORE)
        return;
    }
    BW_ALL(BW_REDUCE)
}
#endif

mvx_bww_kernel mvx_bww_kernel_for(int isa) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) return bww_avx512;
    if (isa == MVX_ISA_AVX2) return bww_avx2;
#endif
    (void)isa;
    return bww_generic;
}

// acc[l] += v[i] for i = l mod 8, in double (compiled per instruction set; the same bits).
static inline __attribute__((always_inline)) void sum_run_body(double *acc, const float *v, long n) {
    double a[8];
    for (int l = 0; l < 8; l++) a[l] = acc[l];
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) a[l] += (double)v[i + l];
    for (int l = 0; i + l < n; l++) a[l] += (double)v[i + l];
    for (int l = 0; l < 8; l++) acc[l] = a[l];
}
static void sum_run_generic(double *acc, const float *v, long n) { sum_run_body(acc, v, n); }
#if MVX_X86
__attribute__((target("avx2,fma"))) static void sum_run_avx2(double *acc, const float *v, long n) { sum_run_body(acc, v, n); }
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void sum_run_avx512(double *acc, const float *v, long n) {
    sum_run_body(acc, v, n);
}
#endif
void mvx_sum_lanes8(int isa, double *acc, const float *v, long n) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { sum_run_avx512(acc, v, n); return; }
    if (isa == MVX_ISA_AVX2) { sum_run_avx2(acc, v, n); return; }
#endif
    (void)isa;
    sum_run_generic(acc, v, n);
}

// The chunk loop of both backward-weights passes: per chunk of positions, the output gradient rows
// copied onto the padded grid (direct) or the input rows gathered (gather; exactly one of the two
// is given), the bias sums, then the micro-kernel over K blocks and output-channel blocks.
static void bww_part(const mvx_bww *p, const mvx_bww_direct *direct, const mvx_bww_gather *gather, long kb0, long kb1, long m0,
                     long m1, int first, float *gbuf, float *col, long qc, long *offs, float *vacc, long *runs) {
    double *const gbias = kb0 == 0 ? p->gbias : NULL;
    // Rows of the gradient and column buffers lie qc + 16 floats apart: at qc a power of two, the
    // kernel's ten rows would share a few L1 sets.
    const long qs = qc + 16;
    mvx_bww_kernel kern = mvx_bww_kernel_for(p->isa);
    const int mw = p->mw, nw = p->nw;
    const long Ktot = (long)p->C * p->taps;
    const long k0 = kb0 * nw, k1 = lmin(Ktot, kb1 * nw);
    if (k0 >= k1) return;
    const long nk = k1 - k0;
    const long nkpad = (nk + nw - 1) / nw * nw;
    const long vl = mvx_bww_lanes(p->isa);
    const long total = direct ? direct->span : (long)p->od * p->oh * p->ow;
    float outb[8 * 8];
    const float *gp[8];
    const float *bp[8];
    if (direct) {
        for (long k = k0; k < k1; k++) offs[k - k0] = (k / p->taps) * direct->s.chan_pitch + direct->s.tapoff[k % p->taps];
    } else {
        for (long k = 0; k < nk; k++) offs[k] = k * qs;
    }
    for (long q0 = 0; q0 < total; q0 += qc) {
        long len = lmin(qc, total - q0);
        const float *gbase;
        long ldg;
        if (direct) {
            // Output gradient on the padded grid: zero outside the output.
            const long pp = direct->s.pp, rp = direct->s.rp;
            for (long m = m0; m < m1; m++) {
                float *gr = gbuf + (long)m * qs;
                const float *go = p->go + (long)m * p->go_plane;
                long q = q0;
                while (q < q0 + len) {
                    long z = q / pp, y = (q % pp) / rp, x = q % rp;
                    long run = lmin(rp - x, q0 + len - q);
                    if (z < p->od && y < p->oh && x < p->ow) {
                        long valid = lmin(run, p->ow - x);
                        memcpy(gr + (q - q0), go + (z * p->oh + y) * p->ow + x, sizeof(float) * (size_t)valid);
                        if (gbias) mvx_sum_lanes8(p->isa, gbias + m * 8, gr + (q - q0), valid);
                        if (run > valid) memset(gr + (q - q0) + valid, 0, sizeof(float) * (size_t)(run - valid));
                    } else {
                        memset(gr + (q - q0), 0, sizeof(float) * (size_t)run);
                    }
                    q += run;
                }
            }
            gbase = gbuf;
            ldg = qs;
        } else {
            // Gather the input rows this part needs; the output gradient is read in place.
            int cA = (int)(k0 / p->taps), cB = (int)((k1 - 1) / p->taps) + 1;
            long skip = k0 - (long)cA * p->taps;  // rows of channel cA before k0
            // Gather whole channels [cA, cB) into col then address rows k - cA*taps.
            gather_padded(gather->s.src, gather->s.chan_pitch, gather->s.pp, gather->s.rp, gather->s.tapoff, gather->mul, p->oh,
                          p->ow, cA, cB, p->taps, q0, q0 + len, col, 0, 1, qs, runs);
            for (long k = 0; k < nk; k++) offs[k] = (k + skip) * qs;
            gbase = p->go + q0;
            ldg = p->go_plane;
            if (gbias)
                for (long m = m0; m < m1; m++) mvx_sum_lanes8(p->isa, gbias + m * 8, gbase + m * ldg, len);
        }
        const float *bbase = direct ? direct->s.src + q0 : col;
        for (long kb = 0; kb < nk; kb += nw) {
            for (int j = 0; j < nw; j++) bp[j] = bbase + offs[lmin(kb + j, nk - 1)];
            for (long mb = m0; mb < m1; mb += mw) {
                for (int i = 0; i < mw; i++) gp[i] = gbase + lmin(mb + i, m1 - 1) * ldg;
                if (vacc) {
                    // Vector partial sums stay in memory across chunks and batch items: [m][k][lanes].
                    kern(len, gp, bp, outb, vacc + (mb * nkpad + kb) * vl, nkpad, !(first && q0 == 0));
                    continue;
                }
                kern(len, gp, bp, outb, NULL, 0, 0);
                for (int i = 0; i < mw && mb + i < m1; i++)
                    for (int j = 0; j < nw && kb + j < nk; j++) {
                        float *dst = p->gw + (mb + i) * Ktot + k0 + kb + j;
                        if (first && q0 == 0) *dst = outb[i * nw + j];
                        else *dst += outb[i * nw + j];
                    }
            }
        }
    }
}

void mvx_bww_direct_part(const mvx_bww_direct *p, long kb0, long kb1, long m0, long m1, int first, float *gbuf, long qc,
                         long *offs, float *vacc) {
    bww_part(&p->b, p, NULL, kb0, kb1, m0, m1, first, gbuf, NULL, qc, offs, vacc, NULL);
}

void mvx_bww_gather_part(const mvx_bww_gather *p, long kb0, long kb1, long m0, long m1, int first, float *col, long qc,
                         long *offs, float *vacc, long *runs) {
    bww_part(&p->b, NULL, p, kb0, kb1, m0, m1, first, NULL, col, qc, offs, vacc, runs);
}

long mvx_bww_lanes(int isa) { return isa == MVX_ISA_AVX512 ? 16 : isa == MVX_ISA_AVX2 ? 8 : 0; }

void mvx_bww_finish(const mvx_bww *p, long kb0, long kb1, long m0, long m1, const float *vacc) {
    const long Ktot = (long)p->C * p->taps;
    const long k0 = kb0 * p->nw, k1 = lmin(Ktot, kb1 * p->nw);
    if (k0 >= k1) return;
    const long nk = k1 - k0, nkpad = (nk + p->nw - 1) / p->nw * p->nw;
    const long vl = mvx_bww_lanes(p->isa);
    for (long m = m0; m < m1; m++)
        for (long k = 0; k < nk; k++) {
            const float *v = vacc + (m * nkpad + k) * vl;
            // Pairwise over the lanes, in a fixed order.
            float t[16];
            for (long i = 0; i < vl; i++) t[i] = v[i];
            for (long w = vl / 2; w >= 1; w /= 2)
                for (long i = 0; i < w; i++) t[i] = t[i] + t[i + w];
            p->gw[m * Ktot + k0 + k] = t[0];
        }
}

// ---------------------------------------------------------------------------------------------
// Peak FMA throughput probe

static float peak_generic(long iters) {
    float a[8] = {1, 1, 1, 1, 1, 1, 1, 1}, m = 0.999999f, s = 1e-7f;
    for (long i = 0; i < iters; i++)
        for (int v = 0; v < 8; v++) a[v] = a[v] * m + s;
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

#if MVX_X86
__attribute__((target("avx2,fma"))) static float peak_avx2(long iters) {
    __m256 acc[12];
    for (int v = 0; v < 12; v++) acc[v] = _mm256_set1_ps(1.0f + v);
    __m256 m = _mm256_set1_ps(0.999999f), s = _mm256_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++)
        for (int v = 0; v < 12; v++) acc[v] = _mm256_fmadd_ps(acc[v], m, s);
    __m256 t = acc[0];
    for (int v = 1; v < 12; v++) t = _mm256_add_ps(t, acc[v]);
    float o[8];
    _mm256_storeu_ps(o, t);
    return o[0] + o[7];
}

__attribute__((target("avx512f,fma"))) static float peak_avx512(long iters) {
    __m512 acc[24];
    for (int v = 0; v < 24; v++) acc[v] = _mm512_set1_ps(1.0f + v);
    __m512 m = _mm512_set1_ps(0.999999f), s = _mm512_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++)
        for (int v = 0; v < 24; v++) acc[v] = _mm512_fmadd_ps(acc[v], m, s);
    __m512 t = acc[0];
    for (int v = 1; v < 24; v++) t = _mm512_add_ps(t, acc[v]);
    return _mm512_reduce_add_ps(t);
}
#endif

float mvx_peak_loop(int isa, long iters) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) return peak_avx512(iters);
    if (isa == MVX_ISA_AVX2) return peak_avx2(iters);
#endif
    return peak_generic(iters);
}

double mvx_peak_flops_per_iter(int isa) {
    if (isa == MVX_ISA_AVX512) return 24.0 * 16 * 2;
    if (isa == MVX_ISA_AVX2) return 12.0 * 8 * 2;
    return 8.0 * 2;
}
