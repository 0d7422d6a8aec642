import CMedVoxKernels
import Foundation

extension Runtime {
    /// Makes large tensors and volumes come from the heap, not fresh mmap pages: glibc maps every
    /// block above its mmap threshold (at most 32 MB) anew and the kernel zeroes each page on first
    /// touch, in every layer of a network. Freed memory is kept at the top of the heap for reuse
    /// (never trimmed). Environment `MEDVOX_HEAP=system` leaves glibc's defaults (for comparison,
    /// or with another allocator). Call once, first thing in main.
    public static func configureHeap(environment: [String: String] = ProcessInfo.processInfo.environment) {
        if environment["MEDVOX_HEAP"] != "system" { mvx_configure_heap(-1) }
    }
}
