import Foundation
import MedVoxCore
import MedVoxTensor

// Element-wise operators: activations, arithmetic with numpy broadcasting (ONNX's
// multidirectional broadcasting), comparisons, Where, Cast, Identity and Dropout (inference: the
// identity).

extension GraphOps {
    static let elementwiseOps: [String: Op] = {
        var t: [String: Op] = [:]
        let unary: [String: (GraphNode) -> (Float) -> Float] = [
            "Relu": { _ in { $0 > 0 ? $0 : 0 } },
            "LeakyRelu": { n in let a = n.float("alpha", default: 0.01); return { $0 < 0 ? a * $0 : $0 } },
            "Elu": { n in let a = n.float("alpha", default: 1); return { $0 < 0 ? a * (Foundation.exp($0) - 1) : $0 } },
            "Sigmoid": { _ in { MedVoxTensor.sigmoid($0) } },
            "Tanh": { _ in { Foundation.tanh($0) } },
            "Erf": { _ in { Foundation.erf($0) } },
            "Gelu": { n in
                if n.string("approximate", default: "none") == "tanh" {
                    let c = Float((2 / Double.pi).squareRoot())
                    return { 0.5 * $0 * (1 + Foundation.tanh(c * ($0 + 0.044715 * $0 * $0 * $0))) }
                }
                return { 0.5 * $0 * (1 + Foundation.erf($0 / Float(2).squareRoot())) }
            },
            "Sqrt": { _ in { $0.squareRoot() } },
            "Exp": { _ in { Foundation.exp($0) } },
            "Log": { _ in { Foundation.log($0) } },
            "Reciprocal": { _ in { 1 / $0 } },
            "Floor": { _ in { $0.rounded(.down) } },
            "Ceil": { _ in { $0.rounded(.up) } },
            "Softplus": { _ in { $0 > 20 ? $0 : Foundation.log1p(Foundation.exp($0)) } },
            "HardSigmoid": { n in
                let a = n.float("alpha", default: 0.2), b = n.float("beta", default: 0.5)
                return { max(0, min(1, a * $0 + b)) }
            },
        ]
        for (name, make) in unary {
            t[name] = { node, args, _ in
                var x = try node.take(&args, 0)
                mapInPlace(&x, make(node))
                return [.float(x)]
            }
        }
        // Negation and absolute value keep integers integers (shape arithmetic).
        for (name, f, g) in [("Neg", { (v: Float) in -v }, { (v: Int) in -v }), ("Abs", { (v: Float) in abs(v) }, { (v: Int) in abs(v) })] {
            t[name] = { node, args, _ in
                let v = try node.value(args, 0)
                if case let .int(i) = v { return [.int(IntTensor(shape: i.shape, values: i.values.map(g)))] }
                var x = try node.take(&args, 0)
                mapInPlace(&x, f)
                return [.float(x)]
            }
        }
        t["Identity"] = { node, args, _ in [try node.value(args, 0)] }
        t["Dropout"] = { node, args, _ in
            let v = try node.value(args, 0)
            return [v, .int(IntTensor(shape: v.shape, values: [Int](repeating: 1, count: v.count)))]
        }
        t["Clip"] = { node, args, _ in
            let lo = args.count > 1 ? args[1]?.tensor.storage.first : nil
            let hi = args.count > 2 ? args[2]?.tensor.storage.first : nil
            let a = lo ?? node.attributes["min"]?.float ?? -Float.greatestFiniteMagnitude
            let b = hi ?? node.attributes["max"]?.float ?? Float.greatestFiniteMagnitude
            var x = try node.take(&args, 0)
            mapInPlace(&x) { min(max($0, a), b) }
            return [.float(x)]
        }
        t["Cast"] = { node, args, _ in
            let v = try node.value(args, 0)
            let to = node.int("to", default: 1)
            switch to {
            case 1, 10, 11, 16: return [.float(v.tensor)]
            case 9:
                let i = v.ints
                let bools = v.isInt ? i.values.map { $0 != 0 ? 1 : 0 } : v.tensor.storage.map { $0 != 0 ? 1 : 0 }
                return [.int(IntTensor(shape: i.shape, values: bools))]
            case 2, 3, 4, 5, 6, 7, 12, 13: return [.int(v.ints)]
            default: throw node.fail("Cast to data type \(to) is not supported")
            }
        }
        let arithmetic: [String: (Float, Float) -> Float] = [
            "Add": { $0 + $1 }, "Sub": { $0 - $1 }, "Mul": { $0 * $1 }, "Div": { $0 / $1 },
            "Pow": { b, e in e == 2 ? b * b : (e == 0.5 ? b.squareRoot() : Foundation.pow(b, e)) },
            "PRelu": { x, s in x < 0 ? x * s : x },
            "Max": { max($0, $1) }, "Min": { min($0, $1) },
        ]
        let integer: [String: (Int, Int) -> Int] = [
            "Add": { $0 &+ $1 }, "Sub": { $0 &- $1 }, "Mul": { $0 &* $1 }, "Div": { $1 == 0 ? 0 : $0 / $1 },
            "Max": { max($0, $1) }, "Min": { min($0, $1) },
        ]
        for (name, f) in arithmetic {
            t[name] = { node, args, _ in
                guard args.count >= 2 else { return [try node.value(args, 0)] }  // Max/Min of one input
                var acc = try binary(node, &args, 0, 1, f, integer[name])
                for i in 2..<args.count where args[i] != nil {  // variadic Max/Min
                    var pair: [GraphValue?] = [acc, args[i]]
                    acc = try binary(node, &pair, 0, 1, f, integer[name])
                }
                return [acc]
            }
        }
        let comparisons: [String: (Float, Float) -> Bool] = ["Equal": { $0 == $1 }, "Less": { $0 < $1 }, "Greater": { $0 > $1 },
                                                              "LessOrEqual": { $0 <= $1 }, "GreaterOrEqual": { $0 >= $1 }]
        for (name, f) in comparisons {
            t[name] = { node, args, _ in
                let a = try node.value(args, 0), b = try node.value(args, 1)
                let shape = try broadcastShape(node, a.shape, b.shape)
                let x = broadcast(a.tensor, to: shape), y = broadcast(b.tensor, to: shape)
                return [.int(IntTensor(shape: shape, values: zip(x.storage, y.storage).map { f($0, $1) ? 1 : 0 }))]
            }
        }
        t["Not"] = { node, args, _ in
            let a = try node.value(args, 0).ints
            return [.int(IntTensor(shape: a.shape, values: a.values.map { $0 == 0 ? 1 : 0 }))]
        }
        t["Where"] = { node, args, _ in
            let c = try node.value(args, 0), a = try node.value(args, 1), b = try node.value(args, 2)
            let shape = try broadcastShape(node, try broadcastShape(node, c.shape, a.shape), b.shape)
            let cond = broadcast(c.ints, to: shape).values
            if a.isInt && b.isInt {
                let x = broadcast(a.ints, to: shape).values, y = broadcast(b.ints, to: shape).values
                return [.int(IntTensor(shape: shape, values: cond.indices.map { cond[$0] != 0 ? x[$0] : y[$0] }))]
            }
            let x = broadcast(a.tensor, to: shape).storage, y = broadcast(b.tensor, to: shape).storage
            return [.float(Tensor(shape: shape, storage: cond.indices.map { cond[$0] != 0 ? x[$0] : y[$0] }))]
        }
        return t
    }()

    /// `f` applied to every element of `x`, in place (in parallel for large tensors).
    @inline(__always) static func mapInPlace(_ x: inout Tensor, _ f: (Float) -> Float) {
        let n = x.count
        x.storage.withUnsafeMutableBufferPointer { p in
            let b = p.baseAddress!
            forChunks(n) { r in for i in r { b[i] = f(b[i]) } }
        }
    }

    /// A binary operator with broadcasting on inputs `i` and `j`: on integers when both are
    /// integers and `g` is given, else on floats (written in place over the first input when it
    /// already has the output's shape).
    static func binary(_ node: GraphNode, _ args: inout [GraphValue?], _ i: Int, _ j: Int, _ f: (Float, Float) -> Float,
                       _ g: ((Int, Int) -> Int)?) throws -> GraphValue {
        let a = try node.value(args, i), b = try node.value(args, j)
        let shape = try broadcastShape(node, a.shape, b.shape)
        if let g, a.isInt, b.isInt {
            let x = broadcast(a.ints, to: shape).values, y = broadcast(b.ints, to: shape).values
            return .int(IntTensor(shape: shape, values: zip(x, y).map(g)))
        }
        var x = try node.take(&args, i)
        let y = node.j(args, j)
        if x.shape == shape {
            x.storage.withUnsafeMutableBufferPointer { xp in
                y.storage.withUnsafeBufferPointer { yp in
                    broadcastKernel(UnsafePointer(xp.baseAddress!), rowMajorStrides(shape), yp.baseAddress!,
                                    broadcastStrides(y.shape, to: shape), xp.baseAddress!, shape, f)
                }
            }
            return .float(x)
        }
        var out = uninitializedTensor(shape)
        out.storage.withUnsafeMutableBufferPointer { op in
            x.storage.withUnsafeBufferPointer { xp in
                y.storage.withUnsafeBufferPointer { yp in
                    broadcastKernel(xp.baseAddress!, broadcastStrides(x.shape, to: shape), yp.baseAddress!,
                                    broadcastStrides(y.shape, to: shape), op.baseAddress!, shape, f)
                }
            }
        }
        return .float(out)
    }
}

extension GraphNode {
    /// Input `j` as floats (the second operand of a binary operator).
    fileprivate func j(_ args: [GraphValue?], _ j: Int) -> Tensor { args[j]!.tensor }
}

/// numpy's broadcast of two shapes, or an error naming the node.
func broadcastShape(_ node: GraphNode, _ a: [Int], _ b: [Int]) throws -> [Int] {
    let r = max(a.count, b.count)
    let pa = [Int](repeating: 1, count: r - a.count) + a, pb = [Int](repeating: 1, count: r - b.count) + b
    var out: [Int] = []
    for (x, y) in zip(pa, pb) {
        guard x == y || x == 1 || y == 1 else { throw node.fail("shapes \(a) and \(b) do not broadcast") }
        out.append(x == 1 ? y : x)
    }
    return out
}

/// Strides that read `shape` (right-aligned) as `out`, 0 on broadcast axes.
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    let pad = out.count - shape.count
    let s = rowMajorStrides(shape)
    return (0..<out.count).map { a in a < pad || shape[a - pad] == 1 ? 0 : s[a - pad] }
}

/// `t` broadcast to `shape` (a copy).
func broadcast(_ t: Tensor, to shape: [Int]) -> Tensor {
    t.shape == shape ? t : Tensor(shape: shape, storage: gathered(t.storage, strides: broadcastStrides(t.shape, to: shape), outShape: shape))
}

func broadcast(_ t: IntTensor, to shape: [Int]) -> IntTensor {
    t.shape == shape ? t : IntTensor(shape: shape, values: gathered(t.values, strides: broadcastStrides(t.shape, to: shape), outShape: shape))
}

/// `out[idx] = f(a[idx·sa], b[idx·sb])` over every index of `shape`, rows in parallel.
@inline(__always) func broadcastKernel(_ a: UnsafePointer<Float>, _ sa: [Int], _ b: UnsafePointer<Float>, _ sb: [Int],
                                       _ out: UnsafeMutablePointer<Float>, _ shape: [Int], _ f: (Float, Float) -> Float) {
    let total = shape.reduce(1, *)
    guard total > 0 else { return }
    guard let inner = shape.last else {
        out[0] = f(a[0], b[0])
        return
    }
    let ia = sa.last!, ib = sb.last!
    let rows = total / inner
    let outer = Array(shape.dropLast())
    let oa = Array(sa.dropLast()), ob = Array(sb.dropLast())
    func work(_ r: Range<Int>) {
        for row in r {
            var rem = row, pa = 0, pb = 0
            for ax in stride(from: outer.count - 1, through: 0, by: -1) {
                let i = rem % outer[ax]
                rem /= outer[ax]
                pa += i * oa[ax]
                pb += i * ob[ax]
            }
            let o = out + row * inner, x = a + pa, y = b + pb
            if ia == 1 && ib == 1 {
                for i in 0..<inner { o[i] = f(x[i], y[i]) }
            } else if ia == 1 && ib == 0 {
                let v = y[0]
                for i in 0..<inner { o[i] = f(x[i], v) }
            } else if ia == 0 && ib == 1 {
                let v = x[0]
                for i in 0..<inner { o[i] = f(v, y[i]) }
            } else {
                for i in 0..<inner { o[i] = f(x[i * ia], y[i * ib]) }
            }
        }
    }
    if total < 1 << 15 {
        work(0..<rows)
    } else {
        let parts = min(rows, 8 * Runtime.threads)
        parallelFor(parts) { p in work(chunkRange(rows, part: p, of: parts)) }
    }
}
