import CMedVoxKernels

/// How the process heap serves the large blocks tensors and volumes need.
public enum HeapPolicy {
    /// Makes large allocations come from the heap rather than fresh mmap pages (glibc maps every
    /// block above 32 MB anew, and the kernel zeroes each page on first touch), and keeps freed
    /// memory for reuse (up to 1 GiB at the top of the heap) instead of returning it after every
    /// layer. With MEDVOX_HEAP=system in `environment`, glibc's defaults stay (for comparison, or
    /// under another allocator). Call once, first thing in a program.
    public static func configure(environment: [String: String]) {
        if environment["MEDVOX_HEAP"] != "system" { mvx_configure_heap(-1) }
    }
}
