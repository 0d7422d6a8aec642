import MedVoxCore
import MedVoxTensor

// Operators that move or select elements, and shape arithmetic: Shape, Reshape, Flatten,
// Squeeze, Unsqueeze, Transpose, Concat, Split, Slice, Pad, Gather, Expand, ConstantOfShape,
// Constant, Range. They work on float and integer values alike.

extension GraphValue {
    /// The elements read through `strides` from `offset`, as a value of `shape` (same kind).
    func relayout(offset: Int = 0, strides: [Int], shape: [Int]) -> GraphValue {
        switch self {
        case .float, .pending:
            return .float(Tensor(shape: shape, storage: gathered(tensor.storage, offset: offset, strides: strides, outShape: shape)))
        case let .int(t): return .int(IntTensor(shape: shape, values: gathered(t.values, offset: offset, strides: strides, outShape: shape)))
        }
    }

    /// The same elements under another shape.
    func reshaped(_ shape: [Int]) -> GraphValue {
        switch self {
        case .float, .pending: return .float(tensor.reshaped(shape))
        case let .int(t): return .int(IntTensor(shape: shape, values: t.values))
        }
    }
}

extension GraphOps {
    static let shapeOps: [String: Op] = [
        "Shape": { node, args, _ in
            let s = try node.value(args, 0).shape
            let r = s.count
            func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + r : v, 0), r) }
            let start = clamp(node.int("start", default: 0)), end = clamp(node.int("end", default: r))
            return [.int(IntTensor(start < end ? Array(s[start..<end]) : []))]
        },
        "Size": { node, args, _ in [.int(IntTensor(shape: [], values: [try node.value(args, 0).count]))] },
        "Reshape": { node, args, _ in
            let v = try node.value(args, 0)
            guard let target = node.optionalInts(args, 1) else { throw node.fail("no shape input") }
            return [v.reshaped(try reshapeTarget(node, v.shape, target, allowZero: node.int("allowzero", default: 0) != 0))]
        },
        "Flatten": { node, args, _ in
            let v = try node.value(args, 0)
            let r = v.shape.count
            let a = node.int("axis", default: 1)
            let axis = a < 0 ? a + r : a
            guard axis >= 0 && axis <= r else { throw node.fail("axis \(a) is out of range for rank \(r)") }
            return [v.reshaped([v.shape[..<axis].reduce(1, *), v.shape[axis...].reduce(1, *)])]
        },
        "Squeeze": { node, args, _ in
            let v = try node.value(args, 0)
            let s = v.shape
            let axes = try node.axesInputOrAttribute(args, 1).map { try $0.map { try node.axis($0, rank: s.count) } }
            for a in axes ?? [] where s[a] != 1 { throw node.fail("cannot squeeze axis \(a) of size \(s[a]) in \(s)") }
            let keep = (0..<s.count).filter { a in axes.map { !$0.contains(a) } ?? (s[a] != 1) }
            return [v.reshaped(keep.map { s[$0] })]
        },
        "Unsqueeze": { node, args, _ in
            let v = try node.value(args, 0)
            guard let raw = node.axesInputOrAttribute(args, 1) else { throw node.fail("no axes") }
            let r = v.shape.count + raw.count
            let axes = Set(try raw.map { try node.axis($0, rank: r) })
            guard axes.count == raw.count else { throw node.fail("repeated axes \(raw)") }
            var it = v.shape.makeIterator()
            return [v.reshaped((0..<r).map { axes.contains($0) ? 1 : it.next()! })]
        },
        "Transpose": { node, args, _ in
            let v = try node.value(args, 0)
            let s = v.shape
            let perm = node.ints("perm") ?? Array((0..<s.count).reversed())
            guard perm.count == s.count, Set(perm) == Set(0..<s.count) else { throw node.fail("perm \(perm) does not permute \(s.count) axes") }
            let st = rowMajorStrides(s)
            return [v.relayout(strides: perm.map { st[$0] }, shape: perm.map { s[$0] })]
        },
        "Concat": { node, args, _ in
            let parts = args.compactMap { $0 }
            guard let first = parts.first else { throw node.fail("no inputs") }
            let r = first.shape.count
            let axis = try node.axis(node.int("axis", default: 0), rank: r)
            var outShape = first.shape
            outShape[axis] = 0
            for p in parts {
                guard p.shape.count == r, (0..<r).allSatisfy({ $0 == axis || p.shape[$0] == first.shape[$0] }) else {
                    throw node.fail("inputs \(parts.map(\.shape)) differ outside axis \(axis)")
                }
                outShape[axis] += p.shape[axis]
            }
            if parts.allSatisfy(\.isInt) {
                let outer = first.shape[..<axis].reduce(1, *)
                var out: [Int] = []
                for o in 0..<outer {
                    for p in parts {
                        let chunk = p.shape[axis...].reduce(1, *)
                        out += p.ints.values[(o * chunk)..<((o + 1) * chunk)]
                    }
                }
                return [.int(IntTensor(shape: outShape, values: out))]
            }
            var tensors = parts.map(\.tensor)
            args = []
            return [.float(concatenate(&tensors, axis: axis, shape: outShape))]
        },
        "Split": { node, args, _ in
            let v = try node.value(args, 0)
            let s = v.shape
            let axis = try node.axis(node.int("axis", default: 0), rank: s.count)
            let n = node.outputs.count
            var sizes = node.optionalInts(args, 1) ?? node.ints("split") ?? []
            if sizes.isEmpty {
                let parts = node.int("num_outputs") ?? n
                guard parts >= 1 else { throw node.fail("num_outputs \(parts)") }
                let each = (s[axis] + parts - 1) / parts
                sizes = (0..<parts).map { min(each, max(0, s[axis] - $0 * each)) }
            }
            guard sizes.count == n, sizes.reduce(0, +) == s[axis], sizes.allSatisfy({ $0 >= 0 }) else {
                throw node.fail("split sizes \(sizes) do not cover axis \(axis) of \(s) in \(n) outputs")
            }
            let st = rowMajorStrides(s)
            var start = 0
            return sizes.map { size in
                var shape = s
                shape[axis] = size
                defer { start += size }
                return v.relayout(offset: start * st[axis], strides: st, shape: shape)
            }
        },
        "Slice": { node, args, _ in
            let v = try node.value(args, 0)
            let s = v.shape
            guard let starts = node.optionalInts(args, 1), let ends = node.optionalInts(args, 2) else { throw node.fail("no starts or ends") }
            let axes = try (node.optionalInts(args, 3) ?? Array(0..<starts.count)).map { try node.axis($0, rank: s.count) }
            let steps = node.optionalInts(args, 4) ?? [Int](repeating: 1, count: starts.count)
            guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count, Set(axes).count == axes.count else {
                throw node.fail("starts \(starts), ends \(ends), axes \(axes), steps \(steps) differ in length")
            }
            let st = rowMajorStrides(s)
            var offset = 0, strides = st, shape = s
            for (k, a) in axes.enumerated() {
                let step = min(max(steps[k], -(1 << 40)), 1 << 40), dim = s[a]
                guard step != 0 else { throw node.fail("step 0 on axis \(a)") }
                func clamp(_ x: Int, _ lo: Int, _ hi: Int) -> Int { min(max(x, lo), hi) }
                var b = starts[k] < 0 ? starts[k] &+ dim : starts[k]
                var e = ends[k] < 0 ? ends[k] &+ dim : ends[k]
                let count: Int
                if step > 0 {
                    b = clamp(b, 0, dim)
                    e = clamp(e, 0, dim)
                    count = e > b ? (e - b + step - 1) / step : 0
                } else {
                    b = clamp(b, -1, dim - 1)
                    e = clamp(e, -1, dim - 1)
                    count = b > e ? (b - e - step - 1) / -step : 0
                }
                shape[a] = count
                if count > 0 { offset += b * st[a] }
                strides[a] = st[a] * step
            }
            return [v.relayout(offset: offset, strides: strides, shape: shape)]
        },
        "Gather": { node, args, _ in
            let v = try node.value(args, 0)
            let idx = try node.value(args, 1).ints
            let s = v.shape
            let axis = try node.axis(node.int("axis", default: 0), rank: s.count)
            let dim = s[axis]
            let outer = s[..<axis].reduce(1, *), inner = s[(axis + 1)...].reduce(1, *)
            var positions: [Int] = []
            for i in idx.values {
                let j = i < 0 ? i + dim : i
                guard j >= 0 && j < dim else { throw node.fail("index \(i) is out of range for axis \(axis) of \(s)") }
                positions.append(j)
            }
            let shape = Array(s[..<axis]) + idx.shape + Array(s[(axis + 1)...])
            func pick<T>(_ x: [T]) -> [T] {
                var out: [T] = []
                out.reserveCapacity(outer * positions.count * inner)
                for o in 0..<outer { for j in positions { out += x[((o * dim + j) * inner)..<((o * dim + j + 1) * inner)] } }
                return out
            }
            switch v {
            case .float, .pending: return [.float(Tensor(shape: shape, storage: pick(v.tensor.storage)))]
            case let .int(t): return [.int(IntTensor(shape: shape, values: pick(t.values)))]
            }
        },
        "Expand": { node, args, _ in
            let v = try node.value(args, 0)
            guard let target = node.optionalInts(args, 1) else { throw node.fail("no shape input") }
            let shape = try broadcastShape(node, v.shape, target)
            try node.checkSize(shape)
            return [v.relayout(strides: broadcastStrides(v.shape, to: shape), shape: shape)]
        },
        "ConstantOfShape": { node, args, _ in
            guard let shape = node.optionalInts(args, 0), shape.allSatisfy({ $0 >= 0 }) else { throw node.fail("no valid shape input") }
            let fill = node.attributes["value"]?.value ?? .float(Tensor(shape: [1], storage: [0]))
            try node.checkSize(shape)
            let n = shape.reduce(1, *)
            switch fill {
            case .float, .pending: return [.float(Tensor(shape: shape, repeating: fill.tensor.storage.first ?? 0))]
            case let .int(t): return [.int(IntTensor(shape: shape, values: [Int](repeating: t.values.first ?? 0, count: n)))]
            }
        },
        "Constant": { node, _, _ in
            if let v = node.attributes["value"]?.value { return [v] }
            if let f = node.attributes["value_float"]?.float { return [.float(Tensor(shape: [], storage: [f]))] }
            if let f = node.attributes["value_floats"]?.floats { return [.float(Tensor(shape: [f.count], storage: f))] }
            if let i = node.attributes["value_int"]?.int { return [.int(IntTensor(shape: [], values: [i]))] }
            if let i = node.attributes["value_ints"]?.ints { return [.int(IntTensor(i))] }
            throw node.fail("no value")
        },
        "Range": { node, args, _ in
            let a = try node.value(args, 0), b = try node.value(args, 1), d = try node.value(args, 2)
            if a.isInt && b.isInt && d.isInt {
                let (s, e, st) = (a.ints.values[0], b.ints.values[0], d.ints.values[0])
                guard st != 0 else { throw node.fail("delta 0") }
                let n = max(0, (e - s + st + (st > 0 ? -1 : 1)) / st)
                guard n <= 1 << 28 else { throw node.fail("\(n) elements") }
                return [.int(IntTensor((0..<n).map { s + $0 * st }))]
            }
            let (s, e, st) = (a.tensor.storage[0], b.tensor.storage[0], d.tensor.storage[0])
            guard st != 0, s.isFinite, e.isFinite else { throw node.fail("delta 0 or infinite bounds") }
            let n = max(0, Int(((e - s) / st).rounded(.up)))
            guard n <= 1 << 28 else { throw node.fail("\(n) elements") }
            return [.float(Tensor(shape: [n], storage: (0..<n).map { s + Float($0) * st }))]
        },
        "Pad": { node, args, _ in
            let v = try node.value(args, 0)
            let s = v.shape
            let r = s.count
            guard let raw = node.optionalInts(args, 1) ?? node.ints("pads") else { throw node.fail("no pads") }
            let axes = try (node.optionalInts(args, 3) ?? Array(0..<r)).map { try node.axis($0, rank: r) }
            guard raw.count == 2 * axes.count else { throw node.fail("\(raw.count) pads for \(axes.count) axes") }
            var begin = [Int](repeating: 0, count: r), end = begin
            for (k, a) in axes.enumerated() {
                begin[a] = raw[k]
                end[a] = raw[k + axes.count]
            }
            let mode = node.string("mode", default: "constant")
            let fill: Float = (args.count > 2 ? args[2]?.tensor.storage.first : nil) ?? node.attributes["value"]?.float ?? 0
            return [try pad(node, v, begin: begin, end: end, mode: mode, value: fill)]
        },
        "Tile": { node, args, _ in
            let v = try node.value(args, 0)
            guard let reps = node.optionalInts(args, 1), reps.count == v.shape.count, reps.allSatisfy({ $0 >= 0 }) else {
                throw node.fail("repeats do not match the rank")
            }
            try node.checkSize(zip(v.shape, reps).map { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 })
            var cur = v
            for (a, n) in reps.enumerated() where n != 1 {
                // Repeat axis a: view as [.., 1, dim, ..] broadcast to [.., n, dim, ..], then merge.
                var s = cur.shape
                let expanded = Array(s[..<a]) + [1] + Array(s[a...])
                var target = expanded
                target[a] = n
                let big = cur.reshaped(expanded).relayout(strides: broadcastStrides(expanded, to: target), shape: target)
                s[a] *= n
                cur = big.reshaped(s)
            }
            return [cur]
        },
    ]

    /// Reshape's target shape: 0 copies the input's size (unless `allowZero`), -1 takes the rest.
    static func reshapeTarget(_ node: GraphNode, _ s: [Int], _ target: [Int], allowZero: Bool) throws -> [Int] {
        var out = target.enumerated().map { i, d in d == 0 && !allowZero && i < s.count ? s[i] : d }
        let total = s.reduce(1, *)
        let minus = out.indices.filter { out[$0] == -1 }
        guard minus.count <= 1, out.allSatisfy({ $0 >= -1 }) else { throw node.fail("cannot reshape \(s) to \(target)") }
        try node.checkSize(out.map { max($0, 1) })
        if let m = minus.first {
            let known = out.enumerated().filter { $0.offset != m }.map(\.element).reduce(1, *)
            guard known > 0, total % known == 0 else { throw node.fail("cannot reshape \(s) to \(target)") }
            out[m] = total / known
        }
        guard out.reduce(1, *) == total else { throw node.fail("cannot reshape \(s) (\(total) elements) to \(target)") }
        return out
    }

    /// Concatenates float tensors along `axis` into `shape`, releasing each once copied.
    static func concatenate(_ parts: inout [Tensor], axis: Int, shape: [Int]) -> Tensor {
        var out = uninitializedTensor(shape)
        let outer = shape[..<axis].reduce(1, *)
        let outChunk = shape[axis...].reduce(1, *)
        var at = 0
        out.storage.withUnsafeMutableBufferPointer { op in
            let o = op.baseAddress!
            for k in parts.indices {
                let chunk = parts[k].shape[axis...].reduce(1, *)
                let base = at
                parts[k].storage.withUnsafeBufferPointer { pp in
                    let p = pp.baseAddress!
                    forChunks(outer * chunk) { r in
                        // Copy the part's rows that fall in r.
                        var i = r.lowerBound
                        while i < r.upperBound {
                            let row = i / chunk, col = i % chunk
                            let n = min(chunk - col, r.upperBound - i)
                            (o + row * outChunk + base + col).update(from: p + i, count: n)
                            i += n
                        }
                    }
                }
                at += chunk
                parts[k] = Tensor(shape: [0])
            }
        }
        return out
    }

    /// `v` padded (or cropped, for negative pads) by `begin` and `end` per axis: constant,
    /// reflect or edge.
    static func pad(_ node: GraphNode, _ v: GraphValue, begin: [Int], end: [Int], mode: String, value: Float) throws -> GraphValue {
        let s = v.shape
        let shape = (0..<s.count).map { s[$0] + begin[$0] + end[$0] }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw node.fail("pads \(begin)/\(end) crop more than \(s)") }
        try node.checkSize(shape)
        // Per axis, the source index of each output index (-1: the fill value).
        var maps: [[Int]] = []
        for a in 0..<s.count {
            let n = s[a]
            guard n > 0 || mode == "constant" || shape[a] == 0 else { throw node.fail("\(mode) padding of an empty axis") }
            maps.append(try (0..<shape[a]).map { o in
                var i = o - begin[a]
                if i >= 0 && i < n { return i }
                switch mode {
                case "constant": return -1
                case "edge": return min(max(i, 0), n - 1)
                case "reflect":
                    guard n > 1 else { return 0 }
                    let period = 2 * (n - 1)
                    i = ((i % period) + period) % period
                    return i < n ? i : period - i
                default: throw node.fail("pad mode '\(mode)' is not supported")
                }
            })
        }
        let st = rowMajorStrides(s)
        let total = shape.reduce(1, *)
        let inner = shape.last ?? 1
        func fill<T>(_ src: [T], _ pad: T) -> [T] {
            guard let lastMap = maps.last else { return src }
            return [T](unsafeUninitializedCapacity: total) { buf, c in
                let rows = inner == 0 ? 0 : total / inner
                src.withUnsafeBufferPointer { sp in
                    forChunks(rows) { r in
                        for row in r {
                            var rem = row, base = 0, inside = true
                            for a in stride(from: s.count - 2, through: 0, by: -1) {
                                let o = rem % shape[a]
                                rem /= shape[a]
                                let i = maps[a][o]
                                if i < 0 { inside = false }
                                base += i * st[a]
                            }
                            let d = buf.baseAddress! + row * inner
                            for k in 0..<inner {
                                let i = lastMap[k]
                                d[k] = inside && i >= 0 ? sp[base + i] : pad
                            }
                        }
                    }
                }
                c = total
            }
        }
        switch v {
        case .float, .pending: return .float(Tensor(shape: shape, storage: fill(v.tensor.storage, value)))
        case let .int(t): return .int(IntTensor(shape: shape, values: fill(t.values, Int(value))))
        }
    }
}
