#include "mvx_heap.h"

#include <malloc.h>

// glibc serves every block above its mmap threshold (at most 32 MB) with fresh mmap pages, which
// the kernel zeroes on first touch, and unmaps them on free: a network whose activations are
// hundreds of MB pays for page faults and zeroing in every layer. With mmap off, such blocks come
// from the heap and freed ones are reused.
void mvx_configure_heap(long keep_bytes) {
#ifdef M_MMAP_MAX
    mallopt(M_MMAP_MAX, 0);
    // glibc stores the threshold as a size_t: -1 means never trim.
    mallopt(M_TRIM_THRESHOLD, keep_bytes < 0 || keep_bytes > 0x7fffffffL ? -1 : (int)keep_bytes);
#else
    (void)keep_bytes;
#endif
}

#include <stdint.h>
#include <sys/mman.h>

void mvx_advise_huge(void *p, long bytes) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = 2u << 20;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + (uintptr_t)bytes) & ~(huge - 1);
    if (e > a) madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p; (void)bytes;
#endif
}
