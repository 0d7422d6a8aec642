import Foundation
import MedVoxCore
import MedVoxTensor

/// The operators a `Graph` runs, by ONNX name (opsets 13–21: where an attribute became an input,
/// both forms are read). Each takes its inputs (nil for omitted optional ones) and returns its
/// outputs; an input the caller no longer holds may be reused in place.
enum GraphOps {
    /// Operators whose results must not be folded even on constant inputs (none draw random
    /// numbers today; the set keeps the folding rule in one place).
    static let neverFolded: Set<String> = []

    typealias Op = (GraphNode, inout [GraphValue?], OpContext) throws -> [GraphValue]

    /// What an operator may need beyond its inputs: the convolution plan cache and its key.
    struct OpContext {
        var convs: ConvCache
        var key: String
    }

    static func evaluate(_ node: GraphNode, _ args: inout [GraphValue?], convs: ConvCache, key: String) throws -> [GraphValue] {
        guard let op = table[node.op] else {
            throw GraphError.node(name: node.name, op: node.op, reason: "operator not supported")
        }
        return try op(node, &args, OpContext(convs: convs, key: key))
    }

    /// Operators by name.
    static let table: [String: Op] = {
        var t: [String: Op] = [:]
        for (k, v) in elementwiseOps { t[k] = v }
        for (k, v) in shapeOps { t[k] = v }
        for (k, v) in convOps { t[k] = v }
        for (k, v) in normalizationOps { t[k] = v }
        for (k, v) in poolingOps { t[k] = v }
        for (k, v) in matrixOps { t[k] = v }
        return t
    }()

    /// The ONNX operators supported (internal fused ones excluded).
    static var supported: Set<String> { Set(table.keys.filter { !$0.hasPrefix("MedVox") }) }
}

/// Argument access with errors that name the node.
extension GraphNode {
    func fail(_ reason: String) -> GraphError { .node(name: name, op: op, reason: reason) }

    /// The required input `i`.
    func value(_ args: [GraphValue?], _ i: Int) throws -> GraphValue {
        guard i < args.count, let v = args[i] else { throw fail("input \(i) is missing") }
        return v
    }

    /// Input `i` as a float tensor, moved out of `args` (so that it may be reused in place).
    func take(_ args: inout [GraphValue?], _ i: Int) throws -> Tensor {
        let v = try value(args, i)
        args[i] = nil
        return v.takeTensor()
    }

    /// Input `i` as a float tensor (the caller keeps its reference).
    func tensor(_ args: [GraphValue?], _ i: Int) throws -> Tensor { try value(args, i).tensor }

    /// Optional input `i` as integers, nil when omitted.
    func optionalInts(_ args: [GraphValue?], _ i: Int) -> [Int]? {
        guard i < args.count, let v = args[i] else { return nil }
        return v.ints.values
    }

    /// `axis` (possibly negative) resolved for `rank` axes.
    func axis(_ a: Int, rank: Int) throws -> Int {
        let r = a < 0 ? a + rank : a
        guard r >= 0 && r < max(rank, 1) else { throw fail("axis \(a) is out of range for rank \(rank)") }
        return r
    }

    /// Throws unless a tensor of `shape` fits the memory cap (`Runtime.maxMemory`): a graph's
    /// shapes come from its file and its input, neither trusted.
    func checkSize(_ shape: [Int]) throws {
        var n = 1
        for d in shape {
            let (p, o) = n.multipliedReportingOverflow(by: Swift.max(d, 0))
            guard !o, p <= Runtime.maxMemory / 4 else { throw fail("a tensor of shape \(shape) exceeds the memory cap") }
            n = p
        }
    }

    /// Axes from input `i` (opset ≥ 13 forms) or else from the `axes` attribute.
    func axesInputOrAttribute(_ args: [GraphValue?], _ i: Int) -> [Int]? {
        optionalInts(args, i) ?? ints("axes")
    }
}

/// Copies elements of `src` read at `offset + Σ index[a]·strides[a]` for every index of `shape`
/// (row-major) into `dst`: transposes, slices, broadcasts (stride 0) and crops in one loop.
func stridedCopy<T>(_ src: UnsafePointer<T>, offset: Int, strides: [Int], shape: [Int], into dst: UnsafeMutablePointer<T>) {
    let total = shape.reduce(1, *)
    guard total > 0 else { return }
    guard let inner = shape.last else {
        dst[0] = src[offset]
        return
    }
    let innerStride = strides.last!
    let rows = total / inner
    let outer = Array(shape.dropLast()), outerStrides = Array(strides.dropLast())
    func work(_ r: Range<Int>) {
        var idx = [Int](repeating: 0, count: outer.count)
        var rem = r.lowerBound
        for a in stride(from: outer.count - 1, through: 0, by: -1) {
            idx[a] = rem % outer[a]
            rem /= outer[a]
        }
        var base = offset
        for a in 0..<outer.count { base += idx[a] * outerStrides[a] }
        for row in r {
            let d = dst + row * inner
            if innerStride == 1 {
                (d).update(from: src + base, count: inner)
            } else {
                var s = base
                for i in 0..<inner {
                    d[i] = src[s]
                    s += innerStride
                }
            }
            var a = outer.count - 1
            while a >= 0 {
                idx[a] += 1
                base += outerStrides[a]
                if idx[a] < outer[a] { break }
                base -= outerStrides[a] * outer[a]
                idx[a] = 0
                a -= 1
            }
        }
    }
    if total < 1 << 16 {
        work(0..<rows)
    } else {
        let parts = min(rows, 4 * Runtime.threads)
        parallelFor(parts) { p in work(chunkRange(rows, part: p, of: parts)) }
    }
}

/// The elements of `values` (shape `shape`) read through `strides` from `offset` into a new array
/// of `outShape`.
func gathered<T>(_ values: [T], offset: Int = 0, strides: [Int], outShape: [Int]) -> [T] {
    let n = outShape.reduce(1, *)
    return [T](unsafeUninitializedCapacity: n) { buf, c in
        values.withUnsafeBufferPointer { stridedCopy($0.baseAddress!, offset: offset, strides: strides, shape: outShape, into: buf.baseAddress!) }
        c = n
    }
}

/// A float tensor of `shape` whose elements the caller overwrites.
func uninitializedTensor(_ shape: [Int]) -> Tensor { Tensor(overwrittenShape: shape) }

/// Runs `body` on chunks of `0..<count` in parallel when there is enough work.
func forChunks(_ count: Int, _ body: (Range<Int>) -> Void) {
    if count < 1 << 15 {
        body(0..<count)
        return
    }
    let parts = min(count >> 12, 8 * Runtime.threads)
    parallelFor(parts) { p in body(chunkRange(count, part: p, of: parts)) }
}
