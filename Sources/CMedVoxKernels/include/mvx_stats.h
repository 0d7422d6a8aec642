// Statistics (stats.c, resample.c): sums and minima over Float32 data in double-precision or
// vector lanes folded in a fixed order, the same bits on every instruction set.
#ifndef MVX_STATS_H
#define MVX_STATS_H

#include "mvx_isa.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Σ x[i] and Σ x[i]² in one pass.
void mvx_sum_and_squares(const float *x, long n, double *sum, double *squares, int isa);

/// The minimum of the finite values of v[0..<n] in *out (+inf if none); returns how many are finite.
long mvx_min_finite(const float *v, long n, int isa, float *out);

#ifdef __cplusplus
}
#endif
#endif
