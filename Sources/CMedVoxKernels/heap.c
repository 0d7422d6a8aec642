#include "medvox_kernels.h"

#include <malloc.h>

// glibc serves every block above its mmap threshold (at most 32 MB) with fresh mmap pages, which
// the kernel zeroes on first touch, and unmaps them on free: a network whose activations are
// hundreds of MB pays for page faults and zeroing in every layer. With mmap off, such blocks come
// from the heap and freed ones are reused.
void mvx_configure_heap(long keep_bytes) {
#ifdef M_MMAP_MAX
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, (int)(keep_bytes > 0x7fffffffL ? 0x7fffffffL : keep_bytes));
#else
    (void)keep_bytes;
#endif
}
