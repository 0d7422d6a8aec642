// FFT (fft.c): the batched Stockham stages of MedVoxTransforms' FFTPlan, bit-identical to its
// Swift definition on every instruction set (no FMA contraction).
#ifndef MVX_FFT_H
#define MVX_FFT_H

#include "mvx_isa.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
