// Process memory settings (heap.c): large blocks from the heap, transparent huge pages.
#ifndef MVX_HEAP_H
#define MVX_HEAP_H

#ifdef __cplusplus
extern "C" {
#endif

/// Makes the process's large allocations come from the heap and keeps freed memory for reuse
/// (glibc: M_MMAP_MAX 0, M_TRIM_THRESHOLD `keep_bytes`). Call once, first thing in main.
void mvx_configure_heap(long keep_bytes);
/// Asks the kernel to back the whole 2 MB pages inside [p, p + bytes) with transparent huge pages
/// (Linux madvise MADV_HUGEPAGE; a no-op elsewhere): one fault per 2 MB instead of per 4 KB when a
/// large buffer is first touched.
void mvx_advise_huge(void *p, long bytes);

#ifdef __cplusplus
}
#endif
#endif
