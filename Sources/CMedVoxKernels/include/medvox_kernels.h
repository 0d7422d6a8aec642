// MedVox convolution kernels in C: register-blocked SIMD micro-kernels (AVX-512, AVX2+FMA, and a
// plain fallback), chosen at run time from CPUID, plus the tile loops that feed them. Called by
// MedVoxTensor/Kernels/Conv*.swift only; the Swift side owns planning, scratch and threads.
//
// Every function here works on preallocated memory, never allocates, never fails.
#ifndef MEDVOX_KERNELS_H
#define MEDVOX_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction sets with their own kernels, in increasing order of preference.
enum { MVX_ISA_GENERIC = 0, MVX_ISA_AVX2 = 1, MVX_ISA_AVX512 = 2 };

/// Register-block sizes of one instruction set's kernels.
typedef struct {
    int isa;
    int mr;   ///< forward: output channels per micro-tile (packed weight block height)
    int nr;   ///< forward: positions per micro-tile (a multiple of the vector width)
    int mw;   ///< backward-weights: output channels per micro-tile
    int nw;   ///< backward-weights: (input channel, tap) pairs per micro-tile
} mvx_isa_info;

/// The best instruction set this CPU runs (from CPUID on x86-64; generic elsewhere).
int mvx_isa_best(void);
/// Block sizes for `isa`.
mvx_isa_info mvx_isa_info_for(int isa);
/// Block sizes of `isa`'s one-row forward kernels (mr = 1, wider nr), for passes with 1–2 output
/// channels.
mvx_isa_info mvx_isa_info_narrow(int isa);

/// Blocks of 12 output channels by 32 positions where the ISA has them (AVX-512), for Winograd
/// passes over few tiles; mvx_isa_info_for otherwise. Only mvx_wino_block uses them.
mvx_isa_info mvx_isa_info_short(int isa);

/// Forward-type pass (forward, or backward-data as a forward of the output gradient):
/// out[m, position] = act(bias[m] + sum over (c, tap) of A[m, c, tap] * source(c, position, tap)).
typedef struct {
    int isa, mr, nr;          ///< mr, nr: from mvx_isa_info_for or mvx_isa_info_narrow
    int direct;               ///< 1: positions index the padded grid of `src`; 0: gathered from `raw`
    int M, C, taps, kcc;      ///< output channels, input channels, taps per channel, channels per K chunk
    const float *A;           ///< packed weights (mvx_pack_weights)
    const float *bias;        ///< [M] or NULL
    int act;                  ///< 0 none, 1 relu, 2 leaky relu with `slope`
    float slope;
    float *out;               ///< [M][od*oh*ow] of one batch item
    long out_plane;
    int od, oh, ow;           ///< the grid of positions computed
    /// Strided output (one phase of a stride-s transposed convolution): when ostride[0] > 0,
    /// grid position (z, y, x) is written at ((z*s0 + ph0)*F1 + y*s1 + ph1)*F2 + x*s2 + ph2
    /// with F = ofull (then out_plane = F0*F1*F2); all zero for a dense output.
    int ostride[3], ophase[3], ofull[3];
    // direct mode, and gather mode when src is set: zero-padded copy of the source, channel pitch,
    // plane and row pitch; gather mode reads it at z*mul[0]*pp + y*mul[1]*rp + x*mul[2] + tapoff[t]
    const float *src;
    long chan_pitch, pp, rp;
    const long *tapoff;       ///< [taps] offset of each tap within a padded channel
    // gather mode: the raw source [C][sd*sh*sw] and per-axis index maps:
    // source index = (o*mul + t*tmul + off) / div, valid when divisible and in range.
    const float *raw;
    int sd, sh, sw;
    int k[3], mul[3], tmul[3], off[3], div[3];
    // Winograd: the source's channels, each [od][oh][ow] (wherever they live), and an optional
    // transform of source values, v -> v*in_scale[c] + in_shift[c], then v > 0 ? v : v*in_slope
    // when in_leaky (a normalisation and activation not yet applied); zero padding stays zero.
    const float *const *chan;
    const float *in_scale, *in_shift;
    int in_leaky;
    float in_slope;
    /// Winograd: when set, each block (tiles [t0, t0 + nt)) writes the sum and the sum of squares
    /// of the values it stores per output channel at ostats[((t0 / nt) * M + m) * 2 + {0, 1}].
    double *ostats;
} mvx_fwd;

/// Packs weights for mvx_fwd: value(m, c, t) = w[(m*C + c)*taps + t] normally, or with
/// `transpose` w[(c*M + m)*taps + t] (backward-data), with `flip` reading tap taps-1-t.
/// Layout: per K chunk of kcc channels, per block of mr rows (zero-padded): [kc*taps][mr].
/// A holds roundup(M, mr) * C * taps floats.
void mvx_pack_weights(const float *w, int M, int C, int taps, int kcc, int mr, int transpose, int flip, float *A);

/// Computes positions [t0, t1) (t1 - t0 <= ldacc, ldacc a multiple of nr) for all M channels.
/// Scratch: acc [roundup(M,mr)][ldacc]; col [kcc*taps][ldacc] (gather mode); offs [kcc*taps];
/// runs [3 * (ldacc + ldacc/nr + 2)] (gather mode from a padded source).
void mvx_fwd_tile(const mvx_fwd *p, long t0, long t1, float *acc, long ldacc, float *col, long *offs, long *runs);

/// acc[l] += v[i] for every i = l mod 8, in double: the bias gradients' sums (both backward-
/// weights paths), the same bits on every instruction set.
void mvx_sum_lanes8(int isa, double *acc, const float *v, long n);

/// Softmax over c channels `inner` apart, for positions [s0, s1): y[k*inner + s] = exp(x - m) /
/// sum over channels, m the channels' maximum; 16 positions per vector, a vectorised exponential
/// (within 2 ulp), the same bits on every instruction set. y may be x. A NaN among a position's
/// inputs makes all its outputs NaN (as does +inf, or -inf in every channel).
void mvx_softmax(int isa, const float *x, float *y, long c, long inner, long s0, long s1);

/// A pass with one output channel (M = 1, mr = 1 packed weights) and taps kd x 3 x 3 (taps = 9 kd,
/// kd odd; stride 1, dilation 1) on a "same" grid (padding (kd-1)/2, 1, 1): rows [y0, y1) of
/// output planes [z0, z1) of the od x oh x ow grid (dense `out`, bias, act), reading source channel
/// c at chan[c] (each od x oh x ow), with the bits of mvx_fwd_tile on the padded copy. Register
/// blocks of 4 rows by 32 positions, so y1 - y0 >= 4 (ranges that threads share should start at
/// multiples of 4: a range's last block may recompute rows before its end, within the range).
/// mvx_rows1_fits says where it runs (AVX-512, oh >= 4, ow >= 32).
void mvx_fwd_rows1(const mvx_fwd *p, long z0, long z1, long y0, long y1);
int mvx_rows1_fits(int isa, int oh, int ow);

/// Copies channels [c0, c1) of x [C][d][h][w] into dst with zero borders pd/ph/pw on each side;
/// dst channel pitch `chan_pitch` >= (d+2pd)(h+2ph)(w+2pw); the rest of each channel is zeroed.
void mvx_pad_copy(const float *x, int c0, int c1, int d, int h, int w, int pd, int ph, int pw,
                  float *dst, long chan_pitch);
/// Padded planes [p0, p1) of channels [c0, c1) (as mvx_pad_copy lays them out, plane p at
/// (p - p0) * (h+2ph)(w+2pw) within each channel of dst); planes outside the data are zero, as is
/// the rest of each channel pitch.
void mvx_pad_copy_planes(const float *x, int c0, int c1, int d, int h, int w, int pd, int ph, int pw, int p0, int p1,
                         float *dst, long chan_pitch);

/// Winograd F(2x2x2, 3x3x3) for 3x3x3 convolutions with stride 1, dilation 1 and padding 1.
/// Weights: U[xi][mb][c][mr] for the 64 transform points xi, xi = (4*az + ay)*4 + ax, each a
/// packed [roundup(M, mr)][C] matrix as mvx_pack_weights lays it out (taps 1, one K chunk);
/// `transpose` and `flip` as there. U holds 64 * roundup(M, mr) * C floats.
void mvx_wino_pack_weights(const float *w, int M, int C, int mr, int transpose, int flip, float *U);
/// F(2x2, 3x3) for 2D 3x3 convolutions (stride 1, dilation 1, padding 1; the 3D view's kernel
/// 1x3x3, k[0] = 1 in mvx_fwd): 16 points xi = ay*4 + ax, weights [9 taps] per (m, c).
void mvx_wino_pack_weights_2d(const float *w, int M, int C, int mr, int transpose, int flip, float *U);

/// Output tiles per axis (2x2x2 outputs each) and in all, for an od x oh x ow output.
long mvx_wino_tiles(int od, int oh, int ow);

/// Up to this many input channels, transformed inputs are stored channel-major.
#define MVX_WINO_CHANNEL_MAJOR 32

/// Computes output tiles [t0, t1) (raster order, t1 - t0 <= nt <= 256, nt a multiple of p->nr and of 16)
/// for output channels [m0, m1) (m0 a multiple of p->mr), transforming input channels [c0, c1) into
/// V first (threads sharing one block: each transforms some channels into a shared V, then, after
/// all have, computes some output channels; c0 == c1 skips the transform, m0 == m1 the rest). p: as for mvx_fwd_tile with A = U, the source in chan (and in_*), od/oh/ow the output
/// (and source) grid; 2D when k[0] == 1 (16 points instead of 64 below). Scratch: V
/// max(64*(C*nt + 16), C*(64*nt + 16)) floats, acc [roundup(M, mr)][64*nt + 16], offs [C].
void mvx_wino_block(const mvx_fwd *p, long t0, long t1, long nt, long c0, long c1, long m0, long m1, float *V, float *acc,
                    long *offs);

/// Winograd backward-weights, the adjoint of the forward: dU[xi][m][c] = sum over tiles of
/// GY[xi][m][tile] * V[xi][c][tile], with V the forward's input transform of the layer input and
/// GY = A dY A^T the transform of the output gradient's 2x2x2 tiles; then dW = G^T dU G.
///
/// mvx_wino_bww_transform: tiles [t0, t0 + n) (n <= 256) into lanes 0..roundup(n, 16) of V
/// (input channels [c0, c1); point xi, channel c at V[xi*vx + c*vc]) and GY (output channels
/// [m0, m1); point xi, channel m at GY[xi*gx + m*gm]); lanes past n are zero in GY. p: the
/// forward's (chan = the layer input, od/oh/ow, C, M, isa); gy: [M][od*oh*ow].
void mvx_wino_bww_transform(const mvx_fwd *p, const float *gy, long t0, long n, long c0, long c1, long m0, long m1, float *V,
                            long vx, long vc, float *GY, long gx, long gm);
/// Tiles per chunk of the Winograd backward-weights (the most one product sums at a time).
#define MVX_WINO_BWW_CHUNK 256

/// The products run on the forward micro-kernel of `isa` with mr x nr blocks, as matrix products
/// over the chunk's L tiles (L a multiple of 16, summed in order): A panels GA[m / mr][tile][mr]
/// packed from GY (roundup(M, mr) rows, zero past M) and rows of tiles VT[tile][Cpad] packed from V
/// (Cpad: C rounded up to nr, zero past C).
///
/// A single chunk (every tile at once): mvx_wino_bww_pack packs points [xi0, xi1) into GA
/// (64 * roundup(M, mr) * L floats) and VT (64 * L * Cpad); then mvx_wino_bww_gemm computes, for
/// output channels [r0, r1) (multiples of mr; r1 up to roundup(M, mr)), every point's products into
/// P (64 * (r1 - r0) * Cpad floats of scratch) and gw[m][c][27] = G^T dU[m][c] G from them.
void mvx_wino_bww_pack(int isa, long M, long C, long L, int mr, long Cpad, const float *GY, long gx, long gm, const float *V,
                       long vx, long vc, long xi0, long xi1, float *GA, float *VT);
void mvx_wino_bww_gemm(int isa, int mr, int nr, long M, long C, long L, long Cpad, const float *GA, const float *VT, long r0,
                       long r1, float *P, float *gw);
/// Several chunks: mvx_wino_bww_points packs and multiplies points [xi0, xi1) of one chunk in
/// `work` (roundup(M, mr) * (L + Cpad) + L * Cpad floats) and stores (`first`) or adds the products
/// in dU [64][M][roundup(C, 8)] (doubles); after the last chunk, mvx_wino_bww_finish computes
/// gw[m][c][27] for output channels [m0, m1).
void mvx_wino_bww_points(int isa, int mr, int nr, long M, long C, long L, long Cpad, const float *GY, long gx, long gm,
                         const float *V, long vx, long vc, long xi0, long xi1, float *work, double *dU, int first);
void mvx_wino_bww_finish(int isa, long M, long C, const double *dU, long m0, long m1, float *gw);

/// Backward-weights: gw[m][c*taps + t] (+)= sum over positions of g[m, position] * source(c, position, t).
typedef struct {
    int isa, mw, nw;
    int direct;
    int M, C, taps;
    float *gw;                ///< [M][C*taps]
    const float *go;          ///< output gradient [M][od*oh*ow] of one batch item
    long go_plane;
    int od, oh, ow;
    const float *src;         ///< padded input; direct: positions index its padded grid; gather: read as in mvx_fwd
    long chan_pitch, pp, rp, span;
    const long *tapoff;
    const float *raw;         ///< gather mode without src: raw input, forward index maps
    int sd, sh, sw;
    int k[3], mul[3], tmul[3], off[3], div[3];
    /// When set, the part holding the first K block adds the output gradient of its channels m
    /// (every position, chunks in order) to gbias[m*8 .. m*8+8) as 8 lanes of doubles: the bias
    /// gradient, read with the rows the products read anyway.
    double *gbias;
} mvx_bww;

/// Accumulates (or, with `first`, overwrites) gw rows [m0, m1) (m0 a multiple of mw) and columns of
/// K blocks [kb0, kb1) (blocks of nw (c, tap) pairs) over all positions of one batch item, in
/// chunks of `qc` positions in order (direct mode copies only rows [m0, m1) of the gradient).
/// Scratch: gbuf [M][qc + 16] (direct mode), col [(kb1-kb0)*nw][qc + 16] (gather mode),
/// offs [(kb1-kb0)*nw].
/// With `vacc` (instruction sets with mvx_bww_lanes > 0), partial sums are kept as vectors in
/// vacc [roundup(M,mw)][roundup(nk,nw)][lanes] across calls (first: start from zero) and
/// mvx_bww_finish writes gw once at the end; without it each chunk is reduced into gw.
/// runs: 3 * (qc + 2) longs (gather mode from a padded source).
void mvx_bww_part(const mvx_bww *p, long kb0, long kb1, long m0, long m1, int first, float *gbuf, float *col, long qc,
                  long *offs, float *vacc, long *runs);
/// Vector lanes of the backward-weights kernels of `isa` (0: no vector accumulation).
long mvx_bww_lanes(int isa);
/// Reduces vacc of K blocks [kb0, kb1) into gw (overwriting).
void mvx_bww_finish(const mvx_bww *p, long kb0, long kb1, long m0, long m1, const float *vacc);

/// Measured peak: runs `iters` iterations of an independent-accumulator FMA loop; returns a sum
/// that depends on every result. FLOPs = iters * mvx_peak_flops_per_iter(isa).
float mvx_peak_loop(int isa, long iters);
double mvx_peak_flops_per_iter(int isa);

/// Makes the process's large allocations come from the heap and keeps freed memory for reuse
/// (glibc: M_MMAP_MAX 0, M_TRIM_THRESHOLD `keep_bytes`). Call once, first thing in main.
void mvx_configure_heap(long keep_bytes);
/// Asks the kernel to back the whole 2 MB pages inside [p, p + bytes) with transparent huge pages
/// (Linux madvise MADV_HUGEPAGE; a no-op elsewhere): one fault per 2 MB instead of per 4 KB when a
/// large buffer is first touched.
void mvx_advise_huge(void *p, long bytes);

// ---------------------------------------------------------------------------------------------
// Resampling (resample.c): the kernels behind MedVoxTransforms' Resample.swift, bit-identical to
// its Swift definitions (same operations in the same order and precision, no FMA contraction).

/// Sampling of `src` [nz][ny][nx] at map · (i, j, k) (+ displacement) for every output voxel.
typedef struct {
    const float *src;
    int nx, ny, nz;            ///< source size; nx*ny*nz < 2^31
    float *out;                ///< [oz][oy][ox]
    int ox, oy, oz;
    double m[12];              ///< output index -> source index, row-major 3x4
    const float *dx, *dy, *dz; ///< displacement in source voxels per output voxel, or all NULL
    int interp;                ///< 0 nearest, 1 linear
    int constant;              ///< 1: positions beyond the extent take `fill`; 0: edge clamp
    float fill;
} mvx_warp;

/// Computes the output box [x0, x1) x [y0, y1) x [z0, z1), row by row.
void mvx_warp_box(const mvx_warp *p, int isa, int x0, int x1, int y0, int y1, int z0, int z1);

/// Axis-aligned resampling from per-axis tap tables (k taps per output index, k <= 4):
/// out = z pass of the y pass of the x pass, with the y and z passes skipping zero weights.
typedef struct {
    const float *src;
    int nx, ny, nz;
    float *out;
    int ox, oy, oz;
    int k;
    const int *xi; const float *xw;   ///< [ox*k]
    const int *yi; const float *yw;   ///< [oy*k]
    const int *zi; const float *zw;   ///< [oz*k]
} mvx_separable;

/// Floats of scratch one mvx_separable_slices call needs.
long mvx_separable_scratch(const mvx_separable *p);
/// Computes output slices [z0, z1) (x passes of the source slices they need are cached in scratch).
void mvx_separable_slices(const mvx_separable *p, int isa, int z0, int z1, float *scratch);

/// The minimum of the finite values of v[0..<n] in *out (+inf if none); returns how many are finite.
long mvx_min_finite(const float *v, long n, int isa, float *out);

// ---------------------------------------------------------------------------------------------
// FFT (fft.c): the batched Stockham stages of MedVoxTransforms' FFTPlan, bit-identical to its
// Swift definition on every instruction set (no FMA contraction).

enum { MVX_FFT_MAX_STAGES = 40 };

/// A smooth length's stages: radix per stage (4, 2, 3, 5, 7, ... 13), the stage twiddles
/// W_L^{p·u} at twr/twi + tw_off[stage] (index p·radix + u) and the radix's roots cos/−sin(2πj/r)
/// at rr/ri + root_off[stage].
typedef struct {
    long n;
    int nstages;
    int radix[MVX_FFT_MAX_STAGES];
    long tw_off[MVX_FFT_MAX_STAGES];
    long root_off[MVX_FFT_MAX_STAGES];
    const float *twr, *twi, *rr, *ri;
} mvx_fft_plan;

/// Transforms sequences b in [b0, b1), element t of sequence b at x[b + B*t], in place (y: scratch
/// of the same layout); `inverse` conjugates around the transform and divides by n (numpy.fft.ifft).
void mvx_fft_batch(const mvx_fft_plan *p, int isa, float *xr, float *xi, float *yr, float *yi, long B, long b0, long b1, int inverse);
/// Transforms contiguous lines l in [l0, l1) (line l at x + l*n) in place, 16 at a time through a
/// transposed batch; `scratch` holds 64*n floats.
void mvx_fft_lines(const mvx_fft_plan *p, int isa, float *xr, float *xi, long l0, long l1, int inverse, float *scratch);
/// max(re² + im²) over n values (0 for n = 0).
float mvx_max_abs2(const float *re, const float *im, long n, int isa);
/// out[i] = sqrt(re[i]² + im[i]²).
void mvx_magnitude(const float *re, const float *im, float *out, long n, int isa);

// ---------------------------------------------------------------------------------------------
// Statistics (stats.c): double-precision sums over Float32 data in 16 lanes (element i in lane
// i mod 16) folded in a fixed order — the same bits on every instruction set.

/// Σ x[i] and Σ x[i]² in one pass.
void mvx_sum_and_squares(const float *x, long n, double *sum, double *squares, int isa);

/// One output plane of a max pooling with kernel = stride = (kd, 2, 2), kd 1 or 2, no padding:
/// `x` at the plane's first input plane (ih × iw each), `y` an oh × ow plane; taps compared in
/// order with b = t > b ? t : b.
void mvx_maxpool2_plane(const float *x, float *y, int kd, long ih, long iw, long oh, long ow, int isa);

#ifdef __cplusplus
}
#endif
#endif
