// Shared between the convolution files of this target; not part of the module's interface.
#pragma once

/// Forward micro-kernel: C[mr][nr] (+)= sum_{k<K} a[k*mr .. +mr) (x) (b + offs[k])[0..nr).
typedef void (*mvx_fwd_kernel)(long K, const float *a, const float *b, const long *offs, float *c, long ldc, int accum);

/// The kernel for an instruction set and row count (mr = 1: the one-row kernel).
mvx_fwd_kernel mvx_fwd_kernel_for(int isa, int mr);
