// Winograd F(2x2x2, 3x3x3): 3x3x3 convolutions (stride 1, dilation 1, padding 1) as 64 matrix
// products over 4x4x4 transformed input tiles, one per transform point, each computing a 2x2x2
// block of outputs: Y = A^T [ (G g G^T) (.) (B^T d B) ] A along each axis, with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// 8 outputs take 64 x C multiply-adds per output channel instead of 8 x 27 x C. A 2D grid (3x3
// kernels, F(2x2, 3x3)) runs through the same functions with one window plane and no transform
// along z: 16 points and 16 products (`two_d`, a constant in each inlined copy).
//
// The products run on the forward micro-kernel (conv.c) with K = all input channels in one call, so
// every output element is summed in an order fixed by the shape alone. The transforms are adds only
// and work on WL tiles at a time (vector lanes, written with the compilers' vector extension so
// each instruction set gets its own code). The source is read where it lives (one pointer per
// channel, so a concatenation need not be built) into small staging buffers that supply the zero
// padding and, optionally, a pending normalisation and activation: a lane group that lies in one
// row of tiles stages its window rows (16, 2D: 4) of 34 values and reads them as stride-2 rows,
// others stage each tile's window (4x4x4, 2D: 4x4); a small 3D grid is padded whole per channel
// instead. wino_block_body describes the layout of the transformed inputs and the products.
#include "mvx_winograd.h"
#include "conv_internal.h"

#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define MVX_X86 1
#include <immintrin.h>
#endif

// The v16 helpers below are always inlined, so passing vectors by value never crosses an ABI
// boundary; clang warns about it anyway when a function is compiled without AVX-512.
#pragma clang diagnostic ignored "-Wpsabi"

enum { WL = 16 };

static inline long lmin(long a, long b) { return a < b ? a : b; }

void mvx_wino_pack_weights(const float *w, int M, int C, int mr, int two_d, int transpose, int flip, float *U) {
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    const int kd = two_d ? 1 : 3, taps = 9 * kd;
    const long Mpad = ((long)M + mr - 1) / mr * mr;
    for (long m = 0; m < Mpad; m++)
        for (long c = 0; c < C; c++) {
            double g[27] = {0}, a1[3][3][4], a2[3][4][4], u[4][4][4];
            if (m < M)
                for (int t = 0; t < taps; t++) {
                    int ts = flip ? taps - 1 - t : t;
                    g[t] = transpose ? w[(c * M + m) * taps + ts] : w[(m * C + c) * taps + ts];
                }
            // G along x, then y, then (3D) z, each axis 3 taps to 4 points, in double.
            for (int i = 0; i < kd; i++)
                for (int j = 0; j < 3; j++)
                    for (int x = 0; x < 4; x++)
                        a1[i][j][x] = G[x][0] * g[(i * 3 + j) * 3] + G[x][1] * g[(i * 3 + j) * 3 + 1] + G[x][2] * g[(i * 3 + j) * 3 + 2];
            for (int i = 0; i < kd; i++)
                for (int y = 0; y < 4; y++)
                    for (int x = 0; x < 4; x++) a2[i][y][x] = G[y][0] * a1[i][0][x] + G[y][1] * a1[i][1][x] + G[y][2] * a1[i][2][x];
            if (two_d) {
                for (int xi = 0; xi < 16; xi++) U[(xi * Mpad + m / mr * mr) * C + c * mr + m % mr] = (float)a2[0][xi / 4][xi % 4];
                continue;
            }
            for (int z = 0; z < 4; z++)
                for (int y = 0; y < 4; y++)
                    for (int x = 0; x < 4; x++) u[z][y][x] = G[z][0] * a2[0][y][x] + G[z][1] * a2[1][y][x] + G[z][2] * a2[2][y][x];
            for (int xi = 0; xi < 64; xi++)
                U[(xi * Mpad + m / mr * mr) * C + c * mr + m % mr] = (float)u[xi / 16][(xi / 4) % 4][xi % 4];
        }
}

long mvx_wino_tiles(int od, int oh, int ow) { return (long)((od + 1) / 2) * ((oh + 1) / 2) * ((ow + 1) / 2); }

// 16 lanes as one value (a zmm register on AVX-512, pairs or quads of narrower ones elsewhere).
typedef float v16 __attribute__((vector_size(64), aligned(4)));

static inline __attribute__((always_inline)) v16 ld(const float *p) { v16 v; memcpy(&v, p, sizeof v); return v; }
static inline __attribute__((always_inline)) void st(float *p, v16 v) { memcpy(p, &v, sizeof v); }

// A staged window row read as stride-2 lanes: lane l's window elements 0..3 are q[2l .. 2l+3].
static inline __attribute__((always_inline)) void row_lanes(const float *q, v16 *e0, v16 *o0, v16 *e1, v16 *o1) {
    v16 a0 = ld(q), a1 = ld(q + 16), b0 = ld(q + 2), b1 = ld(q + 18);
    *e0 = __builtin_shufflevector(a0, a1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    *o0 = __builtin_shufflevector(a0, a1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *e1 = __builtin_shufflevector(b0, b1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    *o1 = __builtin_shufflevector(b0, b1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

typedef float v4 __attribute__((vector_size(16), aligned(4)));
typedef float v8 __attribute__((vector_size(32), aligned(4)));

static inline __attribute__((always_inline)) v4 ld4(const float *p) { v4 v; memcpy(&v, p, sizeof v); return v; }

// Lanes 4j..4j+3 of a quad: the 4 elements of window row q[j] each, a[4j + k] = q[j][k].
static inline __attribute__((always_inline)) v16 quad(const float *q0, const float *q1, const float *q2, const float *q3) {
    const v8 lo = __builtin_shufflevector(ld4(q0), ld4(q1), 0, 1, 2, 3, 4, 5, 6, 7);
    const v8 hi = __builtin_shufflevector(ld4(q2), ld4(q3), 0, 1, 2, 3, 4, 5, 6, 7);
    return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// One window row per lane at q + org[l]: each row (4 values) is loaded whole into its quad of
// lanes, then a 4 x 4 transpose per quad gives elements 0..3 across the lanes.
static inline __attribute__((always_inline)) void window_lanes(const float *q, const long *org, v16 *e0, v16 *o0, v16 *e1, v16 *o1) {
    const v16 a0 = quad(q + org[0], q + org[1], q + org[2], q + org[3]);
    const v16 a1 = quad(q + org[4], q + org[5], q + org[6], q + org[7]);
    const v16 a2 = quad(q + org[8], q + org[9], q + org[10], q + org[11]);
    const v16 a3 = quad(q + org[12], q + org[13], q + org[14], q + org[15]);
    // b01 = elements 0 of lanes 0..7, then elements 1; c01 = elements 2, then 3.
    const v16 b01 = __builtin_shufflevector(a0, a1, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const v16 c01 = __builtin_shufflevector(a0, a1, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    const v16 b23 = __builtin_shufflevector(a2, a3, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const v16 c23 = __builtin_shufflevector(a2, a3, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    *e0 = __builtin_shufflevector(b01, b23, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    *o0 = __builtin_shufflevector(b01, b23, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    *e1 = __builtin_shufflevector(c01, c23, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    *o1 = __builtin_shufflevector(c01, c23, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}

// The input transform of one lane group's windows, 3D (64 points xi = (4*az + ay)*4 + ax) or 2D
// (`two_d`: one window plane, 16 points xi = ay*4 + ax): writes V[xi * vstride + l]. Window row
// (dz, dy) starts at s + dz*pp + dy*rp: one staged row of a row group, read as stride-2 lanes, or
// (`lanes`) lane l's row at org[l] from there.
// B^T (a, b, c, d) = (a - c, b + c, c - b, b - d) along x, then y, then (3D) z.
// Both flags are constants wherever this is inlined, so each use compiles to straight-line code.
// Y: the 64 vectors of the transform in flight (compiler-placed, in registers and the frame).
static inline __attribute__((always_inline)) void input_transform(int two_d, int lanes, const float *s, long pp, long rp,
                                                                  const long *org, float *V, long vstride) {
    const int planes = two_d ? 1 : 4;
    v16 Y[4][16];  // [dz][ay*4 + ax]
    for (int dz = 0; dz < planes; dz++) {
        v16 X[4][4];  // [dy][ax]
        for (int dy = 0; dy < 4; dy++) {
            v16 e0, o0, e1, o1;
            if (lanes)
                window_lanes(s + dz * pp + dy * rp, org, &e0, &o0, &e1, &o1);
            else
                row_lanes(s + dz * pp + dy * rp, &e0, &o0, &e1, &o1);
            X[dy][0] = e0 - e1, X[dy][1] = o0 + e1, X[dy][2] = e1 - o0, X[dy][3] = o0 - o1;
        }
        for (int ax = 0; ax < 4; ax++) {
            Y[dz][ax] = X[0][ax] - X[2][ax], Y[dz][4 + ax] = X[1][ax] + X[2][ax];
            Y[dz][8 + ax] = X[2][ax] - X[1][ax], Y[dz][12 + ax] = X[1][ax] - X[3][ax];
        }
    }
    if (two_d) {
        for (int k = 0; k < 16; k++) st(V + k * vstride, Y[0][k]);
        return;
    }
    for (int k = 0; k < 16; k++) {
        st(V + k * vstride, Y[0][k] - Y[2][k]);
        st(V + (16 + k) * vstride, Y[1][k] + Y[2][k]);
        st(V + (32 + k) * vstride, Y[2][k] - Y[1][k]);
        st(V + (48 + k) * vstride, Y[1][k] - Y[3][k]);
    }
}

#if MVX_X86
// The 3D row-group transform with AVX-512 intrinsics: the same arithmetic in the same order as
// input_transform (so the same bits), in half the time of what compilers make of the vector-
// extension form.
__attribute__((target("avx512f"))) static void input_row_avx512(const float *s, long pp, long rp, float *V, long vstride) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 Y[4][16];
    for (int dz = 0; dz < 4; dz++) {
        __m512 X[4][4];
        for (int dy = 0; dy < 4; dy++) {
            const float *q = s + dz * pp + dy * rp;
            __m512 a0 = _mm512_loadu_ps(q), a1 = _mm512_loadu_ps(q + 16), b0 = _mm512_loadu_ps(q + 2), b1 = _mm512_loadu_ps(q + 18);
            __m512 e0 = _mm512_permutex2var_ps(a0, ev, a1), o0 = _mm512_permutex2var_ps(a0, od, a1);
            __m512 e1 = _mm512_permutex2var_ps(b0, ev, b1), o1 = _mm512_permutex2var_ps(b0, od, b1);
            X[dy][0] = _mm512_sub_ps(e0, e1), X[dy][1] = _mm512_add_ps(o0, e1);
            X[dy][2] = _mm512_sub_ps(e1, o0), X[dy][3] = _mm512_sub_ps(o0, o1);
        }
        for (int ax = 0; ax < 4; ax++) {
            Y[dz][ax] = _mm512_sub_ps(X[0][ax], X[2][ax]), Y[dz][4 + ax] = _mm512_add_ps(X[1][ax], X[2][ax]);
            Y[dz][8 + ax] = _mm512_sub_ps(X[2][ax], X[1][ax]), Y[dz][12 + ax] = _mm512_sub_ps(X[1][ax], X[3][ax]);
        }
    }
    for (int k = 0; k < 16; k++) {
        _mm512_storeu_ps(V + k * vstride, _mm512_sub_ps(Y[0][k], Y[2][k]));
        _mm512_storeu_ps(V + (16 + k) * vstride, _mm512_add_ps(Y[1][k], Y[2][k]));
        _mm512_storeu_ps(V + (32 + k) * vstride, _mm512_sub_ps(Y[2][k], Y[1][k]));
        _mm512_storeu_ps(V + (48 + k) * vstride, _mm512_sub_ps(Y[1][k], Y[3][k]));
    }
}
#endif

// A row group's staged window rows (planes pp, rows rp apart; 2D: one plane), read as stride-2
// rows: the intrinsics form on AVX-512 (3D), the vector-extension form otherwise.
static inline __attribute__((always_inline)) void input_row(int isa, int two_d, const float *s, long pp, long rp, float *V, long vstride) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512 && !two_d) { input_row_avx512(s, pp, rp, V, vstride); return; }
#endif
    (void)isa;
    input_transform(two_d, 0, s, pp, rp, NULL, V, vstride);
}

// Any lane group: lane l's window at s + org[l] (planes pp, rows rp apart; 2D: one plane).
static inline __attribute__((always_inline)) void input_lanes(int two_d, const float *s, long pp, long rp, const long *org, float *V,
                                                              long vstride) {
    input_transform(two_d, 1, s, pp, rp, org, V, vstride);
}

typedef int i16 __attribute__((vector_size(64)));

static inline __attribute__((always_inline)) v16 act16(v16 v, int act, float slope) {
    if (act == 0) return v;
    i16 bits = (i16)v;
    if (act == 1) return (v16)(bits & (v > 0));  // as store_rows: v > 0 ? v : 0
    i16 neg = v < 0;
    return (v16)(((i16)(v * slope) & neg) | (bits & ~neg));
}

// Transforms the product rows of one output channel and lane group (a[xi * astride + l]; 64, or
// 16 when `two_d`) into 2x2x2 outputs per lane, y[dz][dy][dx] (2D: y[0][dy][dx]), bias and
// activation applied: A^T (a, b, c, d) = (a + b + c, b - c - d) along x, then y, then (3D) z.
static inline __attribute__((always_inline)) void output_group(int two_d, const float *a, long astride, float bias, int act, float slope,
                                                               float y[2][2][2][WL]) {
    const int planes = two_d ? 1 : 4;
    v16 T2[4][2][2];  // [z][dy][dx]
    for (int z = 0; z < planes; z++) {
        v16 T1[4][2];  // [y][dx]
        for (int yy = 0; yy < 4; yy++) {
            const float *r = a + (z * 16 + yy * 4) * astride;
            v16 m0 = ld(r), m1 = ld(r + astride), m2 = ld(r + 2 * astride), m3 = ld(r + 3 * astride);
            T1[yy][0] = m0 + m1 + m2;
            T1[yy][1] = m1 - m2 - m3;
        }
        for (int dx = 0; dx < 2; dx++) {
            T2[z][0][dx] = T1[0][dx] + T1[1][dx] + T1[2][dx];
            T2[z][1][dx] = T1[1][dx] - T1[2][dx] - T1[3][dx];
        }
    }
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            if (two_d) {
                st(y[0][dy][dx], act16(T2[0][dy][dx] + bias, act, slope));
                continue;
            }
            v16 o0 = T2[0][dy][dx] + T2[1][dy][dx] + T2[2][dy][dx];
            v16 o1 = T2[1][dy][dx] - T2[2][dy][dx] - T2[3][dy][dx];
            st(y[0][dy][dx], act16(o0 + bias, act, slope));
            st(y[1][dy][dx], act16(o1 + bias, act, slope));
        }
}

// A source value after the pending transform: v*a + b, then v > 0 ? v : v*slope when leaky — as
// PendingNormalization.apply computes it (two roundings, no fused multiply-add), so the same bits.
static inline __attribute__((always_inline)) float in_xf(float v, float a, float b, int leaky, float slope) {
#pragma clang fp contract(off)
    float t = v * a;
    t = t + b;
    return leaky ? (t > 0 ? t : t * slope) : t;
}

typedef struct {
    const float *a, *b;  // per channel, or NULL: values as they are
    int leaky;
    float slope;
} in_xform;

// d[i] = r[i] for i < n, after channel c's pending transform when there is one.
static inline __attribute__((always_inline)) void copy_xf(float *d, const float *r, long n, in_xform xf, long c) {
    if (!xf.a) {
        memcpy(d, r, sizeof(float) * (size_t)n);
        return;
    }
    const float a = xf.a[c], b = xf.b[c];
    if (xf.leaky)  // (the two loops keep `leaky` a constant in each)
        for (long i = 0; i < n; i++) d[i] = in_xf(r[i], a, b, 1, xf.slope);
    else
        for (long i = 0; i < n; i++) d[i] = in_xf(r[i], a, b, 0, 0);
}

// Tile t of a grid of tW x tH x . tiles: its coordinates.
static inline __attribute__((always_inline)) void tile_at(long t, long tW, long tH, long *tz, long *ty, long *tx) {
    *tx = t % tW, *ty = (t / tW) % tH, *tz = t / (tW * tH);
}

// The tiles of the lane group of cnt (1..WL) tiles from `first` (lanes past cnt repeat the last
// one); returns whether the group is one row of WL tiles.
static inline __attribute__((always_inline)) int group_tiles(long first, long cnt, long tW, long tH, long *tz, long *ty, long *tx) {
    for (int l = 0; l < WL; l++) tile_at(first + lmin(l, cnt - 1), tW, tH, tz + l, ty + l, tx + l);
    return cnt == WL && tx[0] + WL <= tW;
}

enum { SR = 48 };  // staged row length: 34 values used, room for the 16-wide loads past them

// A window's planes and its first plane, for tile plane tz: 3D windows span planes 2tz-1 .. 2tz+2;
// a 2D grid (one plane, kernel depth 1) has windows of that one plane.
static inline __attribute__((always_inline)) int window_planes(int two_d) { return two_d ? 1 : 4; }
static inline __attribute__((always_inline)) long window_z0(int two_d, long tz) { return two_d ? tz : 2 * tz - 1; }

// Stages the window rows of a row group of tiles (tz, ty, tx0 .. tx0+15) of channel `src`
// (D x H x W): rows[dz][dy][i] = source(z0+dz, 2ty-1+dy, 2tx0-1+i), zero outside.
static inline __attribute__((always_inline)) void stage_row(const float *src, long D, long H, long W, long tz, long ty, long tx0,
                                                            in_xform xf, long c, int two_d, float rows[4][4][SR]) {
    const long x0 = 2 * tx0 - 1, z0 = window_z0(two_d, tz);
    for (int dz = 0; dz < window_planes(two_d); dz++)
        for (int dy = 0; dy < 4; dy++) {
            const long z = z0 + dz, y = 2 * ty - 1 + dy;
            float *d = rows[dz][dy];
            if (z < 0 || z >= D || y < 0 || y >= H) {
                memset(d, 0, sizeof(float) * 34);
                continue;
            }
            // Values [lo, hi) are inside the row; zeros around them (the grid's first or last group).
            const float *r = src + (z * H + y) * W + x0;
            const long lo = x0 < 0 ? -x0 : 0, hi = lmin(34, W - x0);
            for (long i = 0; i < lo; i++) d[i] = 0;
            copy_xf(d + lo, r + lo, hi - lo, xf, c);
            for (long i = hi; i < 34; i++) d[i] = 0;
        }
}

// Stages each lane's window: win[l][dz][dy][dx] = source(z0+dz, 2ty-1+dy, 2tx-1+dx), zero outside.
static inline __attribute__((always_inline)) void stage_lanes(const float *src, long D, long H, long W, const long *tz,
                                                              const long *ty, const long *tx, in_xform xf, long c, int two_d,
                                                              float win[WL][4][4][4]) {
    const float a = xf.a ? xf.a[c] : 1, b = xf.a ? xf.b[c] : 0;
    const int planes = window_planes(two_d);
    for (int l = 0; l < WL; l++) {
        const long z0 = window_z0(two_d, tz[l]), y0 = 2 * ty[l] - 1, x0 = 2 * tx[l] - 1;
        if (z0 >= 0 && z0 + planes <= D && y0 >= 0 && y0 + 4 <= H && x0 >= 0 && x0 + 4 <= W) {
            // Inside: whole rows of 4.
            for (int dz = 0; dz < planes; dz++)
                for (int dy = 0; dy < 4; dy++) copy_xf(win[l][dz][dy], src + ((z0 + dz) * H + y0 + dy) * W + x0, 4, xf, c);
            continue;
        }
        for (int dz = 0; dz < planes; dz++)
            for (int dy = 0; dy < 4; dy++)
                for (int dx = 0; dx < 4; dx++) {
                    const long z = z0 + dz, y = y0 + dy, x = x0 + dx;
                    float v = 0;
                    if (z >= 0 && z < D && y >= 0 && y < H && x >= 0 && x < W) {
                        v = src[(z * H + y) * W + x];
                        if (xf.a) v = in_xf(v, a, b, xf.leaky, xf.slope);
                    }
                    win[l][dz][dy][dx] = v;
                }
    }
}

// o[2l] = e[l], o[2l+1] = f[l] for the WL lanes (compilers leave this interleave scalar).
#if MVX_X86
__attribute__((target("avx512f"))) static void interleave_avx512(float *o, const float *e, const float *f) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    __m512 a = _mm512_loadu_ps(e), b = _mm512_loadu_ps(f);
    _mm512_storeu_ps(o, _mm512_permutex2var_ps(a, lo, b));
    _mm512_storeu_ps(o + 16, _mm512_permutex2var_ps(a, hi, b));
}
#endif

static inline __attribute__((always_inline)) void interleave(int isa, float *o, const float *e, const float *f) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { interleave_avx512(o, e, f); return; }
#endif
    (void)isa;
    for (int l = 0; l < WL; l++) { o[2 * l] = e[l]; o[2 * l + 1] = f[l]; }
}

// The input transform of tiles [t0, t0 + n), channels [c0, c1), into `groups` lane groups
// (n <= groups * WL <= MAXG * WL): point xi of channel c, lane l at V[xi * vx + c * vc + l]. Lanes
// past n repeat the last tile (finite values) up to the group's end; whole groups past n are zero.
// `scratch` (MVX_WINO_STAGE_FLOATS) holds a small grid padded whole, the staged rows or windows,
// and the lanes' tile coordinates and window origins. `two_d` is p->two_d as a constant.
enum { MAXG = 16, SMALL_PAD = 6144 };  // SMALL_PAD: floats of a small grid padded whole (18^3 = 5832)
_Static_assert(SMALL_PAD + WL * 64 + 2 * 4 * MAXG * WL <= MVX_WINO_STAGE_FLOATS, "input_tiles' scratch");
static inline __attribute__((always_inline)) void input_tiles(const mvx_fwd_wino *p, int two_d, long t0, long n, long groups, long c0,
                                                              long c1, float *V, long vx, long vc, float *scratch) {
    const long points = two_d ? 16 : 64;
    float *const pad = scratch, *const stage = scratch + SMALL_PAD;  // stage: rows [4][4][SR] (row groups) or windows [WL][4][4][4]
    long(*const tz)[WL] = (long(*)[WL])(stage + WL * 64), (*const ty)[WL] = tz + MAXG, (*const tx)[WL] = ty + MAXG;
    long(*const org)[WL] = tx + MAXG;
    int row[MAXG];
    long window[WL];  // staged windows: lane l's at stage + 64 l
    for (int l = 0; l < WL; l++) window[l] = l * 64;
    const long tH = (p->f.oh + 1) / 2, tW = (p->f.ow + 1) / 2;
    const long D = p->f.od, H = p->f.oh, W = p->f.ow;  // padding 1: the source grid is the output grid
    const in_xform xf = {p->in_scale, p->in_shift, p->in_leaky, p->in_slope};
    for (long g = 0; g < groups; g++) {
        const long g0 = g * WL, cnt = lmin(WL, n - g0);
        if (cnt <= 0) {
            for (long xi = 0; xi < points; xi++)
                for (long c = c0; c < c1; c++) memset(V + xi * vx + c * vc + g0, 0, sizeof(float) * WL);
            row[g] = -1;
            continue;
        }
        row[g] = group_tiles(t0 + g0, cnt, tW, tH, tz[g], ty[g], tx[g]);
    }
    // A small 3D grid (few lane groups lie in one row of tiles, and most tiles touch the border)
    // is padded whole per channel, and every lane reads its window from there: the values and
    // sums of staging each window, without its bounds checks.
    const long tD = (D + 1) / 2, PY = 2 * tH + 2, PX = 2 * tW + 2, PP = PY * PX;
    // (Only when the block covers most of the grid: the copy is made per block.)
    const int small = !two_d && (2 * tD + 2) * PP <= SMALL_PAD && (2 * tD + 2) * PP <= 32 * n;
    if (small)
        for (long g = 0; g < groups; g++)
            if (row[g] >= 0)
                for (int l = 0; l < WL; l++) org[g][l] = 2 * tz[g][l] * PP + 2 * ty[g][l] * PX + 2 * tx[g][l];
    for (long c = c0; c < c1; c++) {
        const float *src = p->chan[c];
        if (small) {
            memset(pad, 0, sizeof(float) * (size_t)((2 * tD + 2) * PP));
            for (long z = 0; z < D; z++)
                for (long y = 0; y < H; y++) copy_xf(pad + (z + 1) * PP + (y + 1) * PX + 1, src + (z * H + y) * W, W, xf, c);
            for (long g = 0; g < groups; g++)
                if (row[g] >= 0) input_lanes(0, pad, PP, PX, org[g], V + c * vc + g * WL, vx);
            continue;
        }
        if (c + 1 < c1) {
            // The next channel's rows: a few lines each, from all over memory, which the hardware
            // prefetchers do not follow.
            for (long g = 0; g < groups; g++) {
                if (row[g] < 0) continue;
                for (int dz = 0; dz < window_planes(two_d); dz++)
                    for (int dy = 0; dy < 4; dy++) {
                        const long z = window_z0(two_d, tz[g][0]) + dz, y = 2 * ty[g][0] - 1 + dy;
                        if (z < 0 || z >= D || y < 0 || y >= H) continue;
                        const char *r = (const char *)(p->chan[c + 1] + (z * H + y) * W + lmin(W - 1, 2 * tx[g][0]));
                        __builtin_prefetch(r);
                        __builtin_prefetch(r + 64);
                        __builtin_prefetch(r + 124);
                    }
            }
        }
        for (long g = 0; g < groups; g++) {
            if (row[g] > 0) {
                stage_row(src, D, H, W, tz[g][0], ty[g][0], tx[g][0], xf, c, two_d, (float(*)[4][SR])stage);
                input_row(p->f.isa, two_d, stage, 4 * SR, SR, V + c * vc + g * WL, vx);
            } else if (row[g] == 0) {
                stage_lanes(src, D, H, W, tz[g], ty[g], tx[g], xf, c, two_d, (float(*)[4][4][4])stage);
                input_lanes(two_d, stage, 16, 4, window, V + c * vc + g * WL, vx);
            }
        }
    }
}

// Output channel m of a block: the output transform of its products (point xi of tile t0 + t at
// a[xi * nt + t]) for tiles [t0, t0 + n), bias and activation applied, and the stores; `next`:
// channel m + 1 follows in this block (its output lines are prefetched for writing).
static inline __attribute__((always_inline)) void output_channel(const mvx_fwd_wino *p, int two_d, long t0, long n, long nt, long m,
                                                                  int next, const float *a) {
    const long tH = (p->f.oh + 1) / 2, tW = (p->f.ow + 1) / 2, M = p->f.M;
    const long od = p->f.od, oh = p->f.oh, ow = p->f.ow;
    float *out = p->f.out + m * p->f.out_plane;
    const float bias = p->f.bias ? p->f.bias[m] : 0.0f;
    if (next) {
        // The next channel's output lines, for writing: their reads for ownership would
        // otherwise stall the stores (the output is far larger than the caches).
        for (long g0 = 0; g0 < n; g0 += WL) {
            long tx0, ty0, tz0;
            tile_at(t0 + g0, tW, tH, &tz0, &ty0, &tx0);
            for (int dz = 0; dz < 2; dz++)
                for (int dy = 0; dy < 2; dy++) {
                    long zz = lmin(2 * tz0 + dz, od - 1), yy = lmin(2 * ty0 + dy, oh - 1);
                    const char *o = (const char *)(out + p->f.out_plane + (zz * oh + yy) * ow + 2 * tx0);
                    __builtin_prefetch(o, 1);
                    __builtin_prefetch(o + 64, 1);
                    __builtin_prefetch(o + 124, 1);
                }
        }
    }
    // Statistics of the values written (p->ostats): per lane group in float, lanes then groups
    // added in order in double.
    double bsum = 0, bsq = 0;
    for (long g0 = 0; g0 < n; g0 += WL) {
        const long cnt = lmin(WL, n - g0);
        float y[2][2][2][WL];
        v16 gs = {0}, gq = {0};
        float ss = 0, sq = 0;
        output_group(two_d, a + g0, nt, bias, p->f.act, p->f.slope, y);
        const long first = t0 + g0;
        long tx0, ty0, tz0;
        tile_at(first, tW, tH, &tz0, &ty0, &tx0);
        if (tx0 + cnt <= tW) {
            // One row of tiles: two output rows per (dz, dy), interleaving dx.
            const int full = 2 * (tx0 + cnt) <= ow;
            for (int dz = 0; dz < 2; dz++)
                for (int dy = 0; dy < 2; dy++) {
                    long zz = 2 * tz0 + dz, yy = 2 * ty0 + dy;
                    if (zz >= od || yy >= oh) continue;
                    float *o = out + (zz * oh + yy) * ow + 2 * tx0;
                    const float *e = y[dz][dy][0], *f = y[dz][dy][1];
                    if (full && cnt == WL) {
                        interleave(p->f.isa, o, e, f);
                        if (p->ostats) {
                            v16 ve = ld(e), vf = ld(f);
                            gs += ve + vf;
                            gq += ve * ve + vf * vf;
                        }
                    } else {
                        for (long l = 0; l < cnt; l++) {
                            o[2 * l] = e[l];
                            ss += e[l], sq += e[l] * e[l];
                            if (2 * (tx0 + l) + 1 < ow) {
                                o[2 * l + 1] = f[l];
                                ss += f[l], sq += f[l] * f[l];
                            }
                        }
                    }
                }
        } else {
            for (long l = 0; l < cnt; l++) {
                long tx, ty, tz;
                tile_at(first + l, tW, tH, &tz, &ty, &tx);
                for (int dz = 0; dz < 2; dz++)
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            long zz = 2 * tz + dz, yy = 2 * ty + dy, xx = 2 * tx + dx;
                            if (zz < od && yy < oh && xx < ow) {
                                const float v = y[dz][dy][dx][l];
                                out[(zz * oh + yy) * ow + xx] = v;
                                ss += v, sq += v * v;
                            }
                        }
            }
        }
        if (p->ostats) {
            for (int l = 0; l < WL; l++) bsum += (double)gs[l], bsq += (double)gq[l];
            bsum += (double)ss, bsq += (double)sq;
        }
    }
    if (p->ostats) {
        p->ostats[((t0 / nt) * M + m) * 2] = bsum;
        p->ostats[((t0 / nt) * M + m) * 2 + 1] = bsq;
    }
}

// One block of mvx_wino_block; `two_d` is p->two_d as a constant (each entry point compiles a 2D
// and a 3D copy and picks one per call), so the transforms' loops are straight-line code.
static inline __attribute__((always_inline)) void wino_block_body(const mvx_fwd_wino *p, int two_d, long t0, long t1, long nt, long c0,
                                                                   long c1, long m0, long m1, float *V, float *acc, long *offs, float *stage) {
    const mvx_fwd_kernel kern = mvx_fwd_kernel_for(p->f.isa, p->f.mr);
    const long n = t1 - t0, C = p->f.C, M = p->f.M, mr = p->f.mr, nr = p->f.nr;
    const long Mpad = (M + mr - 1) / mr * mr;
    // V: point xi of channel c at V + xi * vx + c * vc. Up to MVX_WINO_CHANNEL_MAJOR channels:
    // [c][xi][nt], so each input transform writes one contiguous run (its points would otherwise
    // land on as many lines far apart); more: [xi][c][nt], so each product reads one contiguous
    // matrix. acc [m][xi][nt]: the output transform reads one channel's points as one run.
    // Strides padded by a cache line (+ 16 floats), so rows that far apart do not share a few L1
    // sets (at 16 channels a point is 3 KB). 2D grids have 16 points instead of 64.
    const long points = two_d ? 16 : 64;
    const long mstride = points * nt + 16;
    const int by_channel = C <= MVX_WINO_CHANNEL_MAJOR;
    const long vx = by_channel ? nt : C * nt + 16, vc = by_channel ? mstride : nt;

    if (c1 > c0) input_tiles(p, two_d, t0, n, nt / WL, c0, c1, V, vx, vc, stage);
    if (m1 <= m0) return;

    // The 64 products, all input channels in one pass.
    for (long k = 0; k < C; k++) offs[k] = k * vc;
    for (long xi = 0; xi < points; xi++)
        for (long s = 0; s < nt; s += nr)
            for (long mb = m0; mb < lmin(m1, Mpad); mb += mr)
                kern(C, p->f.A + (xi * Mpad + mb) * C, V + xi * vx + s, offs, acc + mb * mstride + xi * nt + s, mstride, 0);

    // Output transform and stores.
    for (long m = m0; m < lmin(m1, M); m++) output_channel(p, two_d, t0, n, nt, m, m + 1 < lmin(m1, M), acc + m * mstride);
}

// ---------------------------------------------------------------------------------------------
// Backward-weights

// The output gradient's tiles of one lane group and channel (gy: D x H x W) into GY[xi*gx + l]:
// A (a, b) = (a, a + b, a - b, -b) along x, y, z. Zero outside the grid and for lanes >= cnt.
static inline __attribute__((always_inline)) void grad_group(const float *gy, long D, long H, long W, const long *tz, const long *ty,
                                                             const long *tx, int row, long cnt, float *GY, long gx) {
    float y[2][2][2][WL];
    for (int dz = 0; dz < 2; dz++)
        for (int dy = 0; dy < 2; dy++) {
            if (row) {
                const long zz = 2 * tz[0] + dz, yy = 2 * ty[0] + dy, x0 = 2 * tx[0];
                if (zz >= D || yy >= H) {
                    memset(y[dz][dy], 0, sizeof(y[dz][dy]));
                    continue;
                }
                const float *r = gy + (zz * H + yy) * W + x0;
                if (x0 + 2 * WL <= W) {
                    for (int l = 0; l < WL; l++) y[dz][dy][0][l] = r[2 * l], y[dz][dy][1][l] = r[2 * l + 1];
                } else {
                    for (int l = 0; l < WL; l++) {
                        y[dz][dy][0][l] = x0 + 2 * l < W ? r[2 * l] : 0.0f;
                        y[dz][dy][1][l] = x0 + 2 * l + 1 < W ? r[2 * l + 1] : 0.0f;
                    }
                }
            } else {
                for (int dx = 0; dx < 2; dx++)
                    for (int l = 0; l < WL; l++) {
                        const long zz = 2 * tz[l] + dz, yy = 2 * ty[l] + dy, xx = 2 * tx[l] + dx;
                        y[dz][dy][dx][l] = l < cnt && zz < D && yy < H && xx < W ? gy[(zz * H + yy) * W + xx] : 0.0f;
                    }
            }
        }
    v16 X[2][2][4], Y[2][4][4];
    for (int dz = 0; dz < 2; dz++)
        for (int dy = 0; dy < 2; dy++) {
            v16 a = ld(y[dz][dy][0]), b = ld(y[dz][dy][1]);
            X[dz][dy][0] = a, X[dz][dy][1] = a + b, X[dz][dy][2] = a - b, X[dz][dy][3] = -b;
        }
    for (int dz = 0; dz < 2; dz++)
        for (int ax = 0; ax < 4; ax++) {
            v16 a = X[dz][0][ax], b = X[dz][1][ax];
            Y[dz][0][ax] = a, Y[dz][1][ax] = a + b, Y[dz][2][ax] = a - b, Y[dz][3][ax] = -b;
        }
    for (int ay = 0; ay < 4; ay++)
        for (int ax = 0; ax < 4; ax++) {
            v16 a = Y[0][ay][ax], b = Y[1][ay][ax];
            const int k = ay * 4 + ax;
            st(GY + k * gx, a);
            st(GY + (16 + k) * gx, a + b);
            st(GY + (32 + k) * gx, a - b);
            st(GY + (48 + k) * gx, -b);
        }
}

static inline __attribute__((always_inline)) void bww_transform_body(const mvx_fwd_wino *p, const float *gy, long t0, long n, long c0, long c1,
                                                                      long m0, long m1, float *V, long vx, long vc, float *GY, long gx,
                                                                      long gm, float *stage) {
    const long groups = (n + WL - 1) / WL;
    if (c1 > c0) input_tiles(p, 0, t0, n, groups, c0, c1, V, vx, vc, stage);
    const long tH = (p->f.oh + 1) / 2, tW = (p->f.ow + 1) / 2, plane = (long)p->f.od * p->f.oh * p->f.ow;
    for (long g = 0; g < groups && m1 > m0; g++) {
        const long g0 = g * WL, cnt = lmin(WL, n - g0);  // >= 1: groups cover n
        long tz[WL], ty[WL], tx[WL];
        const int row = group_tiles(t0 + g0, cnt, tW, tH, tz, ty, tx);
        for (long m = m0; m < m1; m++) {
            grad_group(gy + m * plane, p->f.od, p->f.oh, p->f.ow, tz, ty, tx, row, cnt, GY + m * gm + g0, gx);
        }
    }
}

static void bww_transform_generic(const mvx_fwd_wino *p, const float *gy, long t0, long n, long c0, long c1, long m0, long m1,
                                  float *V, long vx, long vc, float *GY, long gx, long gm, float *stage) {
    bww_transform_body(p, gy, t0, n, c0, c1, m0, m1, V, vx, vc, GY, gx, gm, stage);
}
#if MVX_X86
__attribute__((target("avx2,fma"))) static void bww_transform_avx2(const mvx_fwd_wino *p, const float *gy, long t0, long n, long c0,
                                                                   long c1, long m0, long m1, float *V, long vx, long vc, float *GY,
                                                                   long gx, long gm, float *stage) {
    bww_transform_body(p, gy, t0, n, c0, c1, m0, m1, V, vx, vc, GY, gx, gm, stage);
}
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void bww_transform_avx512(const mvx_fwd_wino *p, const float *gy,
                                                                                         long t0, long n, long c0, long c1, long m0,
                                                                                         long m1, float *V, long vx, long vc,
                                                                                         float *GY, long gx, long gm, float *stage) {
    bww_transform_body(p, gy, t0, n, c0, c1, m0, m1, V, vx, vc, GY, gx, gm, stage);
}
#endif

void mvx_wino_bww_transform(const mvx_fwd_wino *p, const float *gy, long t0, long n, long c0, long c1, long m0, long m1, float *V,
                            long vx, long vc, float *GY, long gx, long gm, float *stage) {
#if MVX_X86
    if (p->f.isa == MVX_ISA_AVX512) { bww_transform_avx512(p, gy, t0, n, c0, c1, m0, m1, V, vx, vc, GY, gx, gm, stage); return; }
    if (p->f.isa == MVX_ISA_AVX2) { bww_transform_avx2(p, gy, t0, n, c0, c1, m0, m1, V, vx, vc, GY, gx, gm, stage); return; }
#endif
    bww_transform_generic(p, gy, t0, n, c0, c1, m0, m1, V, vx, vc, GY, gx, gm, stage);
}

// In-place 16 x 16 transpose of r[row][lane]: four rounds, each swapping one bit of the row index
// with the same bit of the lane index (b = 8, 4, 2, 1) between rows i and i + b.
#define T_ROUND(b, SHUF_LO, SHUF_HI)                                                                \
    for (int i = 0; i < 16; i++)                                                                    \
        if (!(i & b)) {                                                                             \
            const v16 x = r[i], y = r[i + b];                                                       \
            r[i] = SHUF_LO, r[i + b] = SHUF_HI;                                                     \
        }
static inline __attribute__((always_inline)) void transpose16(v16 *r) {
    T_ROUND(8, __builtin_shufflevector(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
            __builtin_shufflevector(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
    T_ROUND(4, __builtin_shufflevector(x, y, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27),
            __builtin_shufflevector(x, y, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31))
    T_ROUND(2, __builtin_shufflevector(x, y, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29),
            __builtin_shufflevector(x, y, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31))
    T_ROUND(1, __builtin_shufflevector(x, y, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30),
            __builtin_shufflevector(x, y, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31))
}
#undef T_ROUND

// The first n lanes of v at p. The kernels' row counts and widths (4, 8, 12, 16) are stored from
// the register in pieces: a copy of part of a spilled vector would stall on store forwarding.
typedef float v8f __attribute__((vector_size(32), aligned(4)));
typedef float v4f __attribute__((vector_size(16), aligned(4)));
static inline __attribute__((always_inline)) void store_first(float *p, v16 v, int n) {
    const v8f lo = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
    const v4f q2 = __builtin_shufflevector(v, v, 8, 9, 10, 11);
    switch (n) {
    case 16: st(p, v); break;
    case 12: memcpy(p, &lo, 32), memcpy(p + 8, &q2, 16); break;
    case 8: memcpy(p, &lo, 32); break;
    case 4: {
        const v4f q0 = __builtin_shufflevector(v, v, 0, 1, 2, 3);
        memcpy(p, &q0, 16);
        break;
    }
    default: {
        float f[16];
        st(f, v);
        memcpy(p, f, sizeof(float) * (size_t)n);
        break;
    }
    }
}

// One point's operands: GY rows [M][L] (stride gm) into A panels ga[m / mr][tile][mr], V rows
// [C][L] (stride vc) into rows of tiles vt[tile][Cpad], both zero past M and C.
static inline __attribute__((always_inline)) void pack_point(long M, long C, long L, int mr, long Cpad, const float *gy, long gm,
                                                             const float *v, long vc, float *ga, float *vt) {
    const long Mpad = (M + mr - 1) / mr * mr;
    const v16 zero = {0};
    v16 r[16];
    for (long t0 = 0; t0 < L; t0 += 16) {
        for (long mb = 0; mb < Mpad; mb += mr) {
            for (int i = 0; i < 16; i++) r[i] = i < mr && mb + i < M ? ld(gy + (mb + i) * gm + t0) : zero;
            transpose16(r);
            for (int t = 0; t < 16; t++) store_first(ga + mb * L + (t0 + t) * mr, r[t], mr);
        }
        for (long c0 = 0; c0 < Cpad; c0 += 16) {
            for (int i = 0; i < 16; i++) r[i] = c0 + i < C ? ld(v + (c0 + i) * vc + t0) : zero;
            transpose16(r);
            const int width = (int)lmin(16, Cpad - c0);
            for (int t = 0; t < 16; t++) store_first(vt + (t0 + t) * Cpad + c0, r[t], width);
        }
    }
}

// 8 (m, c) pairs as one value, in double.
typedef double v8d __attribute__((vector_size(64), aligned(8)));

static inline __attribute__((always_inline)) v8d ld8(const float *p) {
    float f[8];
    memcpy(f, p, sizeof f);
    return (v8d){f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]};
}

// G^T along one axis, 4 points to 3 taps: (u0 + s, (u1 - u2) / 2, s + u3) with s = (u1 + u2) / 2.
static inline __attribute__((always_inline)) void g_axis(v8d u0, v8d u1, v8d u2, v8d u3, v8d *e0, v8d *e1, v8d *e2) {
    const v8d s = (u1 + u2) * 0.5, d = (u1 - u2) * 0.5;
    *e0 = u0 + s, *e1 = d, *e2 = s + u3;
}

// Point xi's 8 (m, c) pairs at u + xi * stride: floats widened to double, or (`dbl`) doubles.
static inline __attribute__((always_inline)) v8d point8(const void *u, int dbl, long stride, long xi) {
    if (!dbl) return ld8((const float *)u + xi * stride);
    v8d v;
    memcpy(&v, (const double *)u + xi * stride, sizeof v);
    return v;
}

// gw[(m*C + c + l)*27 + tap] = G^T u G along each axis for lanes l < n, from the 64 points' pairs
// (8 consecutive input channels of one output channel; point8). G^T runs along x and y one plane
// of points at a time, so 12 + 36 vectors are in flight rather than the 64 points and all stages.
static inline __attribute__((always_inline)) void finish8(const void *u, int dbl, long stride, long n, float *gw) {
    v8d a2[4][3][3];  // [z][b][e]: after x and y
    for (int z = 0; z < 4; z++) {
        v8d a1[4][3];  // [y][e]: after x
        for (int y = 0; y < 4; y++) {
            const long xi = z * 16 + y * 4;
            g_axis(point8(u, dbl, stride, xi), point8(u, dbl, stride, xi + 1), point8(u, dbl, stride, xi + 2),
                   point8(u, dbl, stride, xi + 3), &a1[y][0], &a1[y][1], &a1[y][2]);
        }
        for (int e = 0; e < 3; e++) g_axis(a1[0][e], a1[1][e], a1[2][e], a1[3][e], &a2[z][0][e], &a2[z][1][e], &a2[z][2][e]);
    }
    for (int b = 0; b < 3; b++)
        for (int e = 0; e < 3; e++) {
            v8d o[3];  // taps (0, b, e), (1, b, e), (2, b, e)
            g_axis(a2[0][b][e], a2[1][b][e], a2[2][b][e], a2[3][b][e], &o[0], &o[1], &o[2]);
            for (long l = 0; l < n; l++)
                for (int k = 0; k < 3; k++) gw[l * 27 + k * 9 + b * 3 + e] = (float)o[k][l];
        }
}

static inline __attribute__((always_inline)) void bww_pack_body(const mvx_wino_bww *b, long xi0, long xi1, float *GA, float *VT) {
    const long M = b->M, C = b->C, L = b->L, Cpad = b->Cpad, gx = b->gx, gm = b->gm, vx = b->vx, vc = b->vc;
    const int mr = b->mr;
    const float *GY = b->GY, *V = b->V;
    const long Mpad = (M + mr - 1) / mr * mr;
    for (long xi = xi0; xi < xi1; xi++)
        pack_point(M, C, L, mr, Cpad, GY + xi * gx, gm, V + xi * vx, vc, GA + xi * Mpad * L, VT + xi * L * Cpad);
}

static inline __attribute__((always_inline)) void bww_gemm_body(const mvx_wino_bww *b, const float *GA, const float *VT, long r0,
                                                                 long r1, float *P, float *gw) {
    const long M = b->M, C = b->C, L = b->L, Cpad = b->Cpad;
    const int mr = b->mr, nr = b->nr;
    const mvx_fwd_kernel kern = mvx_fwd_kernel_for(b->isa, mr);
    const long Mpad = (M + mr - 1) / mr * mr, rows = r1 - r0;
    const long *offs = b->offs;
    if (L > MVX_WINO_BWW_CHUNK || rows <= 0) return;
    for (long xi = 0; xi < 64; xi++)
        for (long mb = r0; mb < r1; mb += mr)
            for (long cb = 0; cb < Cpad; cb += nr)
                kern(L, GA + (xi * Mpad + mb) * L, VT + xi * L * Cpad + cb, offs, P + (xi * rows + mb - r0) * Cpad + cb, Cpad, 0);
    // Cpad is a multiple of 8 (every nr is), so 8 columns at a time stay inside P.
    for (long m = r0; m < lmin(r1, M); m++)
        for (long c = 0; c < C; c += 8) finish8(P + (m - r0) * Cpad + c, 0, rows * Cpad, lmin(8, C - c), gw + (m * C + c) * 27);
}

static inline __attribute__((always_inline)) void bww_points_body(const mvx_wino_bww *b, long xi0, long xi1, float *work, double *dU,
                                                                   int first) {
    const long M = b->M, C = b->C, L = b->L, Cpad = b->Cpad, gx = b->gx, gm = b->gm, vx = b->vx, vc = b->vc;
    const int mr = b->mr, nr = b->nr;
    const float *GY = b->GY, *V = b->V;
    const mvx_fwd_kernel kern = mvx_fwd_kernel_for(b->isa, mr);
    const long Mpad = (M + mr - 1) / mr * mr, C8 = (C + 7) / 8 * 8;
    float *ga = work, *vt = work + Mpad * L, *P = vt + L * Cpad;
    const long *offs = b->offs;
    if (L > MVX_WINO_BWW_CHUNK) return;
    for (long xi = xi0; xi < xi1; xi++) {
        pack_point(M, C, L, mr, Cpad, GY + xi * gx, gm, V + xi * vx, vc, ga, vt);
        for (long mb = 0; mb < Mpad; mb += mr)
            for (long cb = 0; cb < Cpad; cb += nr) kern(L, ga + mb * L, vt + cb, offs, P + mb * Cpad + cb, Cpad, 0);
        for (long m = 0; m < M; m++)
            for (long c = 0; c < C8; c += 8) {
                double *d = dU + (xi * M + m) * C8 + c;
                v8d u = ld8(P + m * Cpad + c), prev;
                if (!first) {
                    memcpy(&prev, d, sizeof prev);
                    u += prev;
                }
                memcpy(d, &u, sizeof u);
            }
    }
}

static inline __attribute__((always_inline)) void bww_finish_body(long M, long C, const double *dU, long m0, long m1, float *gw) {
    const long C8 = (C + 7) / 8 * 8;
    for (long m = m0; m < m1; m++)
        for (long c = 0; c < C; c += 8) finish8(dU + m * C8 + c, 1, M * C8, lmin(8, C - c), gw + (m * C + c) * 27);
}

// Each entry point runs its body compiled for the instruction set (vector code for v16 and v8d).
static void bww_pack_generic(const mvx_wino_bww *b, long xi0, long xi1, float *GA, float *VT) {
    bww_pack_body(b, xi0, xi1, GA, VT);
}
#if MVX_X86
__attribute__((target("avx2,fma")))
static void bww_pack_avx2(const mvx_wino_bww *b, long xi0, long xi1, float *GA, float *VT) {
    bww_pack_body(b, xi0, xi1, GA, VT);
}
__attribute__((target("avx512f,avx512vl,avx512dq,fma")))
static void bww_pack_avx512(const mvx_wino_bww *b, long xi0, long xi1, float *GA, float *VT) {
    bww_pack_body(b, xi0, xi1, GA, VT);
}
#endif

void mvx_wino_bww_pack(const mvx_wino_bww *b, long xi0, long xi1, float *GA, float *VT) {
#if MVX_X86
    if (b->isa == MVX_ISA_AVX512) { bww_pack_avx512(b, xi0, xi1, GA, VT); return; }
    if (b->isa == MVX_ISA_AVX2) { bww_pack_avx2(b, xi0, xi1, GA, VT); return; }
#endif
    bww_pack_generic(b, xi0, xi1, GA, VT);
}

static void bww_gemm_generic(const mvx_wino_bww *b, const float *GA, const float *VT, long r0, long r1, float *P, float *gw) {
    bww_gemm_body(b, GA, VT, r0, r1, P, gw);
}
#if MVX_X86
__attribute__((target("avx2,fma")))
static void bww_gemm_avx2(const mvx_wino_bww *b, const float *GA, const float *VT, long r0, long r1, float *P, float *gw) {
    bww_gemm_body(b, GA, VT, r0, r1, P, gw);
}
__attribute__((target("avx512f,avx512vl,avx512dq,fma")))
static void bww_gemm_avx512(const mvx_wino_bww *b, const float *GA, const float *VT, long r0, long r1, float *P, float *gw) {
    bww_gemm_body(b, GA, VT, r0, r1, P, gw);
}
#endif

void mvx_wino_bww_gemm(const mvx_wino_bww *b, const float *GA, const float *VT, long r0, long r1, float *P, float *gw) {
#if MVX_X86
    if (b->isa == MVX_ISA_AVX512) { bww_gemm_avx512(b, GA, VT, r0, r1, P, gw); return; }
    if (b->isa == MVX_ISA_AVX2) { bww_gemm_avx2(b, GA, VT, r0, r1, P, gw); return; }
#endif
    bww_gemm_generic(b, GA, VT, r0, r1, P, gw);
}

static void bww_points_generic(const mvx_wino_bww *b, long xi0, long xi1, float *work, double *dU, int first) {
    bww_points_body(b, xi0, xi1, work, dU, first);
}
#if MVX_X86
__attribute__((target("avx2,fma")))
static void bww_points_avx2(const mvx_wino_bww *b, long xi0, long xi1, float *work, double *dU, int first) {
    bww_points_body(b, xi0, xi1, work, dU, first);
}
__attribute__((target("avx512f,avx512vl,avx512dq,fma")))
static void bww_points_avx512(const mvx_wino_bww *b, long xi0, long xi1, float *work, double *dU, int first) {
    bww_points_body(b, xi0, xi1, work, dU, first);
}
#endif

void mvx_wino_bww_points(const mvx_wino_bww *b, long xi0, long xi1, float *work, double *dU, int first) {
#if MVX_X86
    if (b->isa == MVX_ISA_AVX512) { bww_points_avx512(b, xi0, xi1, work, dU, first); return; }
    if (b->isa == MVX_ISA_AVX2) { bww_points_avx2(b, xi0, xi1, work, dU, first); return; }
#endif
    bww_points_generic(b, xi0, xi1, work, dU, first);
}

static void bww_finish_generic(long M, long C, const double *dU, long m0, long m1, float *gw) {
    bww_finish_body(M, C, dU, m0, m1, gw);
}
#if MVX_X86
__attribute__((target("avx2,fma")))
static void bww_finish_avx2(long M, long C, const double *dU, long m0, long m1, float *gw) {
    bww_finish_body(M, C, dU, m0, m1, gw);
}
__attribute__((target("avx512f,avx512vl,avx512dq,fma")))
static void bww_finish_avx512(long M, long C, const double *dU, long m0, long m1, float *gw) {
    bww_finish_body(M, C, dU, m0, m1, gw);
}
#endif

void mvx_wino_bww_finish(int isa, long M, long C, const double *dU, long m0, long m1, float *gw) {
#if MVX_X86
    if (isa == MVX_ISA_AVX512) { bww_finish_avx512(M, C, dU, m0, m1, gw); return; }
    if (isa == MVX_ISA_AVX2) { bww_finish_avx2(M, C, dU, m0, m1, gw); return; }
#endif
    bww_finish_generic(M, C, dU, m0, m1, gw);
}

// The block with the grid's dimensionality resolved once, outside every loop.
static inline __attribute__((always_inline)) void wino_block_nd(const mvx_fwd_wino *p, long t0, long t1, long nt, long c0, long c1,
                                                                 long m0, long m1, float *V, float *acc, long *offs, float *stage) {
    if (p->two_d)
        wino_block_body(p, 1, t0, t1, nt, c0, c1, m0, m1, V, acc, offs, stage);
    else
        wino_block_body(p, 0, t0, t1, nt, c0, c1, m0, m1, V, acc, offs, stage);
}

static void wino_block_generic(const mvx_fwd_wino *p, long t0, long t1, long nt, long c0, long c1, long m0, long m1, float *V, float *acc, long *offs, float *stage) {
    wino_block_nd(p, t0, t1, nt, c0, c1, m0, m1, V, acc, offs, stage);
}
#if MVX_X86
__attribute__((target("avx2,fma"))) static void wino_block_avx2(const mvx_fwd_wino *p, long t0, long t1, long nt, long c0, long c1, long m0, long m1, float *V, float *acc, long *offs, float *stage) {
    wino_block_nd(p, t0, t1, nt, c0, c1, m0, m1, V, acc, offs, stage);
}
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void wino_block_avx512(const mvx_fwd_wino *p, long t0, long t1, long nt, long c0, long c1, long m0, long m1, float *V, float *acc, long *offs, float *stage) {
    wino_block_nd(p, t0, t1, nt, c0, c1, m0, m1, V, acc, offs, stage);
}
#endif

void mvx_wino_block(const mvx_fwd_wino *p, long t0, long t1, long nt, long c0, long c1, long m0, long m1, float *V, float *acc, long *offs, float *stage) {
#if MVX_X86
    if (p->f.isa == MVX_ISA_AVX512) { wino_block_avx512(p, t0, t1, nt, c0, c1, m0, m1, V, acc, offs, stage); return; }
    if (p->f.isa == MVX_ISA_AVX2) { wino_block_avx2(p, t0, t1, nt, c0, c1, m0, m1, V, acc, offs, stage); return; }
#endif
    wino_block_generic(p, t0, t1, nt, c0, c1, m0, m1, V, acc, offs, stage);
}
