// Tensor-layer kernels beside the convolution (softmax.c, stats.c): softmax over channels and the
// U-Net's 2x2(x2) max pooling, the same bits on every instruction set.
#ifndef MVX_LAYERS_H
#define MVX_LAYERS_H

#include "mvx_isa.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Softmax over c channels `inner` apart, for positions [s0, s1): y[k*inner + s] = exp(x - m) /
/// sum over channels, m the channels' maximum; 16 positions per vector, a vectorised exponential
/// (within 2 ulp), the same bits on every instruction set. y may be x. A NaN among a position's
/// inputs makes all its outputs NaN (as does +inf, or -inf in every channel).
void mvx_softmax(int isa, const float *x, float *y, long c, long inner, long s0, long s1);

/// One output plane of a max pooling with kernel = stride = (kd, 2, 2), kd 1 or 2, no padding:
/// `x` at the plane's first input plane (ih × iw each), `y` an oh × ow plane; taps compared in
/// order with b = t > b ? t : b.
void mvx_maxpool2_plane(const float *x, float *y, int kd, long ih, long iw, long oh, long ow, int isa);

#ifdef __cplusplus
}
#endif
#endif
