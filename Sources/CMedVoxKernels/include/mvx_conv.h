// Convolution tiles and micro-kernels (conv.c): the forward-type pass (forward, or backward-data
// as a forward of the output gradient) on register-blocked SIMD micro-kernels, the one-output-
// channel row kernel, zero-padded copies of a source, and backward-weights. Called by
// MedVoxTensor/Kernels only; the Swift side owns planning, scratch and threads.
#ifndef MVX_CONV_H
#define MVX_CONV_H

#include "mvx_isa.h"

#ifdef __cplusplus
extern "C" {
#endif

/// What every forward-type pass (forward, or backward-data as a forward of the output gradient)
/// computes and writes, whatever its source:
/// out[m, position] = act(bias[m] + sum over (c, tap) of A[m, c, tap] * source(c, position, tap)).
/// Each pass's descriptor (mvx_fwd_direct, mvx_fwd_gather, mvx_fwd_gather_raw, mvx_fwd_rows,
/// mvx_fwd_wino) adds how it reads the source.
typedef struct {
    int isa, mr, nr;          ///< mr, nr: from mvx_isa_info_for, mvx_isa_info_narrow or mvx_isa_info_short
    int M, C, taps, kcc;      ///< output channels, input channels, taps per channel, channels per K chunk
    const float *A;           ///< packed weights (mvx_pack_weights, mvx_wino_pack_weights)
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
} mvx_fwd;

/// A zero-padded copy of a pass's source (mvx_pad_copy).
typedef struct {
    const float *src;         ///< channel c at src + c*chan_pitch
    long chan_pitch, pp, rp;  ///< channel, plane and row pitch
    const long *tapoff;       ///< [taps] offset of each tap within a padded channel
} mvx_padded;

/// Direct tiles: positions index the padded grid of `s` (stride 1), every tap a shifted view.
typedef struct {
    mvx_fwd f;
    mvx_padded s;
} mvx_fwd_direct;

/// Gathered tiles from the zero-padded copy: column rows read at
/// z*mul[0]*pp + y*mul[1]*rp + x*mul[2] + tapoff[t] within each channel.
typedef struct {
    mvx_fwd f;
    mvx_padded s;
    int mul[3];               ///< stride per axis
} mvx_fwd_gather;

/// Gathered tiles from the raw source [C][sd*sh*sw] through per-axis index maps:
/// source index = (o*mul + t*tmul + off) / div, valid when divisible and in range.
typedef struct {
    mvx_fwd f;
    const float *raw;
    int sd, sh, sw;
    int k[3], mul[3], tmul[3], off[3], div[3];
} mvx_fwd_gather_raw;

/// The one-output-channel row kernel: the source's channels, each [od][oh][ow], where they live.
typedef struct {
    mvx_fwd f;
    const float *const *chan;
} mvx_fwd_rows;

/// Packs weights for the forward-type passes: value(m, c, t) = w[(m*C + c)*taps + t] normally,
/// or with `transpose` w[(c*M + m)*taps + t] (backward-data), with `flip` reading tap taps-1-t.
/// Layout: per K chunk of kcc channels, per block of mr rows (zero-padded): [kc*taps][mr].
/// A holds roundup(M, mr) * C * taps floats.
void mvx_pack_weights(const float *w, int M, int C, int taps, int kcc, int mr, int transpose, int flip, float *A);

/// Each computes positions [t0, t1) (t1 - t0 <= ldacc, ldacc a multiple of nr) for all M
/// channels. Scratch: acc [roundup(M,mr)][ldacc]; offs [kcc*taps]; col [kcc*taps][ldacc]
/// (gathered tiles); runs [3 * (ldacc + ldacc/nr + 2)] (gathered from a padded copy).
void mvx_fwd_direct_tile(const mvx_fwd_direct *p, long t0, long t1, float *acc, long ldacc, long *offs);
void mvx_fwd_gather_tile(const mvx_fwd_gather *p, long t0, long t1, float *acc, long ldacc, float *col, long *offs, long *runs);
void mvx_fwd_gather_raw_tile(const mvx_fwd_gather_raw *p, long t0, long t1, float *acc, long ldacc, float *col, long *offs);

/// acc[l] += v[i] for every i = l mod 8, in double: the bias gradients' sums (both backward-
/// weights paths), the same bits on every instruction set.
void mvx_sum_lanes8(int isa, double *acc, const float *v, long n);

/// A pass with one output channel (M = 1, mr = 1 packed weights) and taps kd x 3 x 3 (taps = 9 kd,
/// kd odd; stride 1, dilation 1) on a "same" grid (padding (kd-1)/2, 1, 1): rows [y0, y1) of
/// output planes [z0, z1) of the od x oh x ow grid (dense `out`, bias, act), reading source channel
/// c at chan[c] (each od x oh x ow), with the bits of mvx_fwd_direct_tile on the padded copy. Register
/// blocks of 4 rows by 32 positions, so y1 - y0 >= 4 (ranges that threads share should start at
/// multiples of 4: a range's last block may recompute rows before its end, within the range).
/// mvx_rows1_fits says where it runs (AVX-512, oh >= 4, ow >= 32).
void mvx_fwd_rows1(const mvx_fwd_rows *p, long z0, long z1, long y0, long y1);
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


/// What every backward-weights pass computes and writes, whatever its source:
/// gw[m][c*taps + t] (+)= sum over positions of g[m, position] * source(c, position, t).
/// Each mode's descriptor (mvx_bww_direct, mvx_bww_gather) adds how it reads the source.
typedef struct {
    int isa, mw, nw;
    int M, C, taps;
    float *gw;                ///< [M][C*taps]
    const float *go;          ///< output gradient [M][od*oh*ow] of one batch item
    long go_plane;
    int od, oh, ow;
    /// When set, the part holding the first K block adds the output gradient of its channels m
    /// (every position, chunks in order) to gbias[m*8 .. m*8+8) as 8 lanes of doubles: the bias
    /// gradient, read with the rows the products read anyway.
    double *gbias;
} mvx_bww;

/// Direct: positions index the padded grid of `s` (stride 1), `span` of them; the output gradient
/// is copied onto that grid, zero outside the output.
typedef struct {
    mvx_bww b;
    mvx_padded s;
    long span;
} mvx_bww_direct;

/// Gathered: column rows read from the zero-padded copy as mvx_fwd_gather reads them; the output
/// gradient is read in place.
typedef struct {
    mvx_bww b;
    mvx_padded s;
    int mul[3];               ///< stride per axis
} mvx_bww_gather;

/// Accumulates (or, with `first`, overwrites) gw rows [m0, m1) (m0 a multiple of mw) and columns of
/// K blocks [kb0, kb1) (blocks of nw (c, tap) pairs) over all positions of one batch item, in
/// chunks of `qc` positions in order. Scratch: gbuf [M][qc + 16] (direct: the gradient rows
/// [m0, m1) on the padded grid), col [(kb1-kb0)*nw + 2*taps][qc + 16] and runs [3 * (qc + 2)]
/// (gathered), offs [(kb1-kb0)*nw].
/// With `vacc` (instruction sets with mvx_bww_lanes > 0), partial sums are kept as vectors in
/// vacc [roundup(M,mw)][roundup(nk,nw)][lanes] across calls (first: start from zero) and
/// mvx_bww_finish writes gw once at the end; without it each chunk is reduced into gw.
void mvx_bww_direct_part(const mvx_bww_direct *p, long kb0, long kb1, long m0, long m1, int first, float *gbuf, long qc,
                         long *offs, float *vacc);
void mvx_bww_gather_part(const mvx_bww_gather *p, long kb0, long kb1, long m0, long m1, int first, float *col, long qc,
                         long *offs, float *vacc, long *runs);
/// Vector lanes of the backward-weights kernels of `isa` (0: no vector accumulation).
long mvx_bww_lanes(int isa);
/// Reduces vacc of K blocks [kb0, kb1) into gw (overwriting).
void mvx_bww_finish(const mvx_bww *p, long kb0, long kb1, long m0, long m1, const float *vacc);

#ifdef __cplusplus
}
#endif
#endif
