// Winograd convolutions (winograd.c): F(2x2x2, 3x3x3) and F(2x2, 3x3) forward passes and
// backward-weights, on the forward micro-kernel of conv.c. Called by MedVoxTensor/Kernels only.
#ifndef MVX_WINOGRAD_H
#define MVX_WINOGRAD_H

#include "mvx_conv.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Winograd F(2x2x2, 3x3x3) for 3x3x3 convolutions with stride 1, dilation 1 and padding 1, and
/// F(2x2, 3x3) for 2D 3x3 ones (`two_d`; the 3D view's kernel 1x3x3).
/// Weights: U[xi][mb][c][mr] for the 64 transform points xi = (4*az + ay)*4 + ax (2D: 16 points
/// xi = ay*4 + ax), each a packed [roundup(M, mr)][C] matrix as mvx_pack_weights lays it out (taps 1,
/// one K chunk); `transpose` and `flip` as there. U holds 64 (2D: 16) * roundup(M, mr) * C floats.
void mvx_wino_pack_weights(const float *w, int M, int C, int mr, int two_d, int transpose, int flip, float *U);

/// Output tiles per axis (2x2x2 outputs each) and in all, for an od x oh x ow output.
long mvx_wino_tiles(int od, int oh, int ow);

/// A Winograd pass: the source's channels, each [od][oh][ow] (the output grid; wherever they
/// live), and an optional transform of source values, v -> v*in_scale[c] + in_shift[c], then
/// v > 0 ? v : v*in_slope when in_leaky (a normalisation and activation not yet applied); zero
/// padding stays zero. f.A: the weights of mvx_wino_pack_weights (with the same two_d).
typedef struct {
    mvx_fwd f;
    int two_d;                ///< 1: F(2x2, 3x3) over a 2D grid (od = 1), 16 points instead of 64
    const float *const *chan;
    const float *in_scale, *in_shift;
    int in_leaky;
    float in_slope;
    /// When set, each block (tiles [t0, t0 + nt)) writes the sum and the sum of squares of the
    /// values it stores per output channel at ostats[((t0 / nt) * M + m) * 2 + {0, 1}].
    double *ostats;
} mvx_fwd_wino;

/// Floats of per-thread staging scratch mvx_wino_block and mvx_wino_bww_transform take (a small
/// grid padded whole, staged rows or windows, the lanes' tile coordinates), 64-byte aligned.
#define MVX_WINO_STAGE_FLOATS 9216

/// Up to this many input channels, transformed inputs are stored channel-major.
#define MVX_WINO_CHANNEL_MAJOR 32

/// Computes output tiles [t0, t1) (raster order, t1 - t0 <= nt <= 256, nt a multiple of p->nr and of 16)
/// for output channels [m0, m1) (m0 a multiple of p->mr), transforming input channels [c0, c1) into
/// V first (threads sharing one block: each transforms some channels into a shared V, then, after
/// all have, computes some output channels; c0 == c1 skips the transform, m0 == m1 the rest);
/// 16 points instead of 64 below when p->two_d. Scratch: V
/// max(64*(C*nt + 16), C*(64*nt + 16)) floats, acc [roundup(M, mr)][64*nt + 16], offs [C],
/// stage [MVX_WINO_STAGE_FLOATS] (the thread's own).
void mvx_wino_block(const mvx_fwd_wino *p, long t0, long t1, long nt, long c0, long c1, long m0, long m1, float *V, float *acc,
                    long *offs, float *stage);

/// Winograd backward-weights, the adjoint of the forward: dU[xi][m][c] = sum over tiles of
/// GY[xi][m][tile] * V[xi][c][tile], with V the forward's input transform of the layer input and
/// GY = A dY A^T the transform of the output gradient's 2x2x2 tiles; then dW = G^T dU G.
///
/// mvx_wino_bww_transform: tiles [t0, t0 + n) (n <= 256) into lanes 0..roundup(n, 16) of V
/// (input channels [c0, c1); point xi, channel c at V[xi*vx + c*vc]) and GY (output channels
/// [m0, m1); point xi, channel m at GY[xi*gx + m*gm]); lanes past n are zero in GY. p: the
/// forward's (chan = the layer input; f.od/oh/ow, f.C, f.M, f.isa); gy: [M][od*oh*ow]; stage: the
/// thread's [MVX_WINO_STAGE_FLOATS].
void mvx_wino_bww_transform(const mvx_fwd_wino *p, const float *gy, long t0, long n, long c0, long c1, long m0, long m1, float *V,
                            long vx, long vc, float *GY, long gx, long gm, float *stage);
/// Tiles per chunk of the Winograd backward-weights (the most one product sums at a time).
#define MVX_WINO_BWW_CHUNK 256

/// The products run on the forward micro-kernel of `isa` with mr x nr blocks, as matrix products
/// over the chunk's L tiles (L a multiple of 16, summed in order): A panels GA[m / mr][tile][mr]
/// packed from GY (roundup(M, mr) rows, zero past M) and rows of tiles VT[tile][Cpad] packed from V
/// (Cpad: C rounded up to nr, zero past C).
typedef struct {
    int isa, mr, nr;          ///< the forward micro-kernel's instruction set and register blocks
    long M, C;                ///< output and input channels
    long L, Cpad;             ///< tiles in the chunk (a multiple of 16); C rounded up to nr
    const float *GY;          ///< transformed output gradient: point xi, channel m at GY[xi*gx + m*gm]
    long gx, gm;
    const float *V;           ///< transformed input: point xi, channel c at V[xi*vx + c*vc]
    long vx, vc;
    const long *offs;         ///< [MVX_WINO_BWW_CHUNK] the kernel's row offsets, offs[t] = t * Cpad
} mvx_wino_bww;

/// A single chunk (every tile at once): mvx_wino_bww_pack packs points [xi0, xi1) into GA
/// (64 * roundup(M, mr) * L floats) and VT (64 * L * Cpad); then mvx_wino_bww_gemm computes, for
/// output channels [r0, r1) (multiples of mr; r1 up to roundup(M, mr)), every point's products into
/// P (64 * (r1 - r0) * Cpad floats of scratch) and gw[m][c][27] = G^T dU[m][c] G from them.
void mvx_wino_bww_pack(const mvx_wino_bww *b, long xi0, long xi1, float *GA, float *VT);
void mvx_wino_bww_gemm(const mvx_wino_bww *b, const float *GA, const float *VT, long r0, long r1, float *P, float *gw);
/// Several chunks: mvx_wino_bww_points packs and multiplies points [xi0, xi1) of one chunk in
/// `work` (roundup(M, mr) * (L + Cpad) + L * Cpad floats) and stores (`first`) or adds the products
/// in dU [64][M][roundup(C, 8)] (doubles); after the last chunk, mvx_wino_bww_finish computes
/// gw[m][c][27] for output channels [m0, m1).
void mvx_wino_bww_points(const mvx_wino_bww *b, long xi0, long xi1, float *work, double *dU, int first);
void mvx_wino_bww_finish(int isa, long M, long C, const double *dU, long m0, long m1, float *gw);

#ifdef __cplusplus
}
#endif
#endif
