import Foundation

/// `n` floats rounded up to a whole number of 64-byte lines, so slots carved from a pooled buffer
/// one after another all start on a line.
@inline(__always) func alignedFloats(_ n: Int) -> Int { (n + 15) & ~15 }

/// Large temporary buffers shared by all plans (padded sources, per-thread tiles), kept for reuse
/// so a network's layers do not each hold their own.
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()
    private var free: [(UnsafeMutablePointer<Float>, Int)] = []
    private let lock = NSLock()

    /// Makes sure a buffer of at least `count` floats is idle in the pool, allocating it now. A
    /// network calls this before its first layer with the largest request it will make, so that
    /// buffer sits below the activations in the heap instead of being carved out at the peak
    /// between them (where the holes it leaves add to the peak).
    func reserve(_ count: Int) { checkin(checkout(count)) }

    /// Runs `body` with a buffer of at least `count` floats (contents undefined).
    func with<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let buf = checkout(count)
        defer { checkin(buf) }
        return try body(buf.0)
    }

    /// Takes a buffer of at least `count` floats out of the pool (give it back with `checkin`).
    func checkout(_ count: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let need = max(count, 16)
        lock.lock()
        defer { lock.unlock() }
        if let i = free.indices.filter({ free[$0].1 >= need }).min(by: { free[$0].1 < free[$1].1 }) {
            return free.remove(at: i)
        }
        // The idle buffers are all too small: release them before allocating, so they do not
        // add to the peak (the new one serves every smaller request afterwards).
        for b in free { UnsafeMutableRawPointer(b.0).deallocate() }
        free.removeAll()
        // 64-byte aligned, as the kernels' slots within it are: their vector rows then never
        // straddle two cache lines (at a 16-byte offset 256→256 @8³ runs about 40% slower).
        let raw = UnsafeMutableRawPointer.allocate(byteCount: need * MemoryLayout<Float>.stride, alignment: 64)
        let buf = (raw.bindMemory(to: Float.self, capacity: need), need)
        adviseHugePages(buf.0, count: need)
        return buf
    }

    /// Returns a buffer from `checkout`.
    func checkin(_ buf: (UnsafeMutablePointer<Float>, Int)) {
        lock.lock()
        defer { lock.unlock() }
        free.append(buf)
        // Keep a bounded number of buffers: drop the smallest beyond four.
        if free.count > 4 {
            free.sort { $0.1 > $1.1 }
            for b in free[4...] { UnsafeMutableRawPointer(b.0).deallocate() }
            free.removeLast(free.count - 4)
        }
    }
}
