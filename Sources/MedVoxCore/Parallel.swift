import Dispatch
import Foundation

/// Process-wide execution settings (`--threads`, `--max-memory`), set once by the CLI from its
/// flags before any work starts, read by the libraries.
public enum Runtime {
    /// Worker threads for parallel loops; defaults to the number of active cores.
    nonisolated(unsafe) public static var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Upper bound in bytes for large allocations driven by input sizes (headers, tiles, batches).
    nonisolated(unsafe) public static var maxMemory: Int = Runtime.physicalMemory

    /// Physical memory of the machine in bytes.
    public static var physicalMemory: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory) }
}

/// Runs `body(chunk, chunkCount)` for `chunkCount` chunks on up to `threads` threads and waits.
///
/// Work is split by (index, count) so each kernel decides its own partition; with one thread the
/// body runs inline. Results must not depend on the number of threads: partition the output, and
/// keep each reduction in a fixed order per chunk.
public func parallelFor(_ count: Int, threads: Int = Runtime.threads, _ body: (Int) -> Void) {
    guard count > 0 else { return }
    if threads <= 1 || count == 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        let workers = min(threads, count)
        let next = AtomicCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.increment()
                if i >= count { break }
                body(i)
            }
        }
    }
}

/// A lock-protected counter handing out work items in order.
final class AtomicCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        let v = value
        value += 1
        return v
    }
}

/// Splits `0..<count` into `parts` contiguous ranges of near-equal size; part `p` of them.
@inlinable public func chunkRange(_ count: Int, part p: Int, of parts: Int) -> Range<Int> {
    let base = count / parts, extra = count % parts
    let lo = p * base + min(p, extra)
    return lo..<(lo + base + (p < extra ? 1 : 0))
}
