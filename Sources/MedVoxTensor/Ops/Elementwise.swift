import Foundation
import MedVoxCore

/// Element-wise arithmetic on tensors of equal shape, and reductions. Large tensors are processed
/// in parallel chunks (each element is written by exactly one chunk, so results do not depend on
/// the thread count).
extension Tensor {
    /// A tensor of zeros with this tensor's shape.
    public func zerosLike() -> Tensor { Tensor(shape: shape) }

    /// Applies `f` to every element.
    @inlinable public func map(_ f: (Float) -> Float) -> Tensor {
        var out = self
        out.storage.withUnsafeMutableBufferPointer { o in
            for i in o.indices { o[i] = f(o[i]) }
        }
        return out
    }

    /// Combines this tensor with `other` element by element.
    @inlinable public func zipMap(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "shapes differ: \(shape) vs \(other.shape)")
        var out = self
        out.storage.withUnsafeMutableBufferPointer { o in
            other.storage.withUnsafeBufferPointer { b in
                for i in o.indices { o[i] = f(o[i], b[i]) }
            }
        }
        return out
    }

    /// Adds `other` into this tensor in place (`self += alpha · other`).
    public mutating func addInPlace(_ other: Tensor, alpha: Float = 1) {
        precondition(shape == other.shape, "shapes differ: \(shape) vs \(other.shape)")
        let n = count
        storage.withUnsafeMutableBufferPointer { o in
            other.storage.withUnsafeBufferPointer { b in
                let op = o.baseAddress!, bp = b.baseAddress!
                forEachChunk(n) { r in
                    if alpha == 1 {
                        for i in r { op[i] += bp[i] }
                    } else {
                        for i in r { op[i] += alpha * bp[i] }
                    }
                }
            }
        }
    }

    /// Sum of all elements, accumulated in Double in a fixed order.
    public func sum() -> Double {
        storage.withUnsafeBufferPointer { p in
            var s = 0.0
            for v in p { s += Double(v) }
            return s
        }
    }

    /// Mean of all elements.
    public func mean() -> Double { count == 0 ? 0 : sum() / Double(count) }
}

/// Splits `0..<count` into chunks of at least 64 Ki elements and runs them in parallel.
@inlinable func forEachChunk(_ count: Int, _ body: (Range<Int>) -> Void) {
    let parts = Swift.max(1, Swift.min(Runtime.threads * 4, count / 65_536))
    if parts == 1 {
        body(0..<count)
        return
    }
    parallelFor(parts) { p in body(chunkRange(count, part: p, of: parts)) }
}

public func + (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, +) }
public func - (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, -) }
public func * (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, *) }
public func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
