// Shared between the convolution files of this target; not part of the module's interface.
#pragma once

/// Forward micro-kernel: C[mr][nr] (+)= sum_{k<K} a[k*mr .. +mr) (x) (b + offs[k])[0..nr).
typedef void (*mvx_fwd_kernel)(long K, const float *a, const float *b, const long *offs, float *c, long ldc, int accum);

/// The kernel for an instruction set and row count (mr = 1: the one-row kernel).
mvx_fwd_kernel mvx_fwd_kernel_for(int isa, int mr);

/// Backward-weights micro-kernel: out[i][j] = sum_{l<L} g[i][l] * b[j][l] for mw x nw rows (vacc:
/// keep lane sums there instead, see conv.c).
typedef void (*mvx_bww_kernel)(long L, const float *const *g, const float *const *b, float *out, float *vacc, long vstride, int vinit);

mvx_bww_kernel mvx_bww_kernel_for(int isa);
