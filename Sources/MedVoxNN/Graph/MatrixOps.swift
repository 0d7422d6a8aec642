import MedVoxCore
import MedVoxTensor

// Matrix products: Gemm, MatMul (numpy semantics: batched, broadcast, 1-D operands promoted) and
// Einsum in the forms attention uses (batch, contracted and free indices of two operands, or a
// permutation of one), all on the engine's `gemm`.

extension GraphOps {
    static let matrixOps: [String: Op] = [
        "Gemm": { node, args, _ in
            let a = try node.tensor(args, 0), b = try node.tensor(args, 1)
            guard a.rank == 2, b.rank == 2 else { throw node.fail("operands \(a.shape) and \(b.shape) must be matrices") }
            let ta = node.int("transA", default: 0) != 0, tb = node.int("transB", default: 0) != 0
            let (m, k) = ta ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
            let (k2, n) = tb ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
            guard k == k2 else { throw node.fail("operands \(a.shape) and \(b.shape) do not multiply (transA \(ta), transB \(tb))") }
            let alpha = node.float("alpha", default: 1), beta = node.float("beta", default: 1)
            var y = Tensor(shape: [m, n])
            var betaUsed: Float = 0
            if args.count > 2, let c = args[2]?.tensor {
                y = broadcast(c, to: try broadcastShape(node, c.shape, [m, n]))
                guard y.shape == [m, n] else { throw node.fail("C \(c.shape) does not broadcast to [\(m), \(n)]") }
                betaUsed = beta
            }
            a.storage.withUnsafeBufferPointer { ap in
                b.storage.withUnsafeBufferPointer { bp in
                    y.storage.withUnsafeMutableBufferPointer { yp in
                        gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: a.shape[1],
                             b: bp.baseAddress!, ldb: b.shape[1], beta: betaUsed, c: yp.baseAddress!, ldc: n)
                    }
                }
            }
            return [.float(y)]
        },
        "MatMul": { node, args, _ in [.float(try matmul(node, try node.tensor(args, 0), try node.tensor(args, 1)))] },
        "Einsum": { node, args, _ in [.float(try einsum(node, args.compactMap { $0?.tensor }))] },
    ]

    /// numpy matmul: `[..., m, k] × [..., k, n]` with the batch axes broadcast.
    static func matmul(_ node: GraphNode, _ a0: Tensor, _ b0: Tensor) throws -> Tensor {
        guard a0.rank >= 1, b0.rank >= 1 else { throw node.fail("scalar operands \(a0.shape), \(b0.shape)") }
        let a = a0.rank == 1 ? a0.reshaped([1, a0.count]) : a0
        let b = b0.rank == 1 ? b0.reshaped([b0.count, 1]) : b0
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        guard b.shape[b.rank - 2] == k else { throw node.fail("operands \(a0.shape) and \(b0.shape) do not multiply") }
        if b0.rank == 2 && a0.rank > 2 {
            // One product over all rows of the batch: [B·m, k] × [k, n].
            let rows = a.count / k
            return try matmul(node, a.reshaped([rows, k]), b).reshaped(Array(a.shape.dropLast()) + [n])
        }
        let batch = try broadcastShape(node, Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
        let aFull = broadcast(a, to: batch + [m, k]), bFull = broadcast(b, to: batch + [k, n])
        let count = batch.reduce(1, *)
        var y = Tensor(shape: batch + [m, n])
        aFull.storage.withUnsafeBufferPointer { ap in
            bFull.storage.withUnsafeBufferPointer { bp in
                y.storage.withUnsafeMutableBufferPointer { yp in
                    for i in 0..<count {
                        gemm(transA: false, transB: false, m: m, n: n, k: k, a: ap.baseAddress! + i * m * k, lda: k,
                             b: bp.baseAddress! + i * k * n, ldb: n, c: yp.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        var shape = batch
        if a0.rank > 1 { shape.append(m) }
        if b0.rank > 1 { shape.append(n) }
        return y.reshaped(shape)
    }

    /// The terms of an Einsum equation ("bhid,bhjd->bhij"): input subscripts and the output's;
    /// nil when the equation uses a form this engine does not run (ellipsis, repeated indices
    /// within a term, an implicit output, or an index summed away that appears in one input only).
    static func einsumTerms(_ equation: String, inputs: Int) -> (inputs: [[Character]], output: [Character])? {
        let eq = equation.filter { $0 != " " }
        let sides = eq.components(separatedBy: "->")
        guard sides.count == 2, !eq.contains(".") else { return nil }
        let ins = sides[0].split(separator: ",", omittingEmptySubsequences: false).map { Array($0) }
        let out = Array(sides[1])
        guard ins.count == inputs, (1...2).contains(inputs), ins.allSatisfy({ Set($0).count == $0.count && $0.allSatisfy(\.isLetter) }),
              Set(out).count == out.count, out.allSatisfy({ c in ins.contains { $0.contains(c) } })
        else { return nil }
        if inputs == 1 { return ins[0].count == out.count ? (ins, out) : nil }
        for c in Set(ins[0]).union(ins[1]) where !out.contains(c) && !(ins[0].contains(c) && ins[1].contains(c)) { return nil }
        return (ins, out)
    }

    /// Einsum as a transpose, or as a batched matrix product between transposes.
    static func einsum(_ node: GraphNode, _ xs: [Tensor]) throws -> Tensor {
        let equation = node.string("equation", default: "")
        guard let (ins, out) = einsumTerms(equation, inputs: xs.count) else { throw node.fail("equation '\(equation)' is not supported") }
        for (t, sub) in zip(xs, ins) where t.rank != sub.count {
            throw node.fail("operand \(t.shape) does not match '\(String(sub))'")
        }
        var size: [Character: Int] = [:]
        for (t, sub) in zip(xs, ins) {
            for (c, d) in zip(sub, t.shape) {
                if let s = size[c], s != d { throw node.fail("index \(c) has sizes \(s) and \(d)") }
                size[c] = d
            }
        }
        func permuted(_ t: Tensor, _ sub: [Character], _ order: [Character]) -> Tensor {
            let st = rowMajorStrides(t.shape)
            let perm = order.map { sub.firstIndex(of: $0)! }
            if perm == Array(0..<perm.count) { return t }
            return Tensor(shape: perm.map { t.shape[$0] }, storage: gathered(t.storage, strides: perm.map { st[$0] }, outShape: perm.map { t.shape[$0] }))
        }
        if xs.count == 1 { return permuted(xs[0], ins[0], out) }
        let (a, b) = (ins[0], ins[1])
        let batch = out.filter { a.contains($0) && b.contains($0) }
        let left = out.filter { a.contains($0) && !b.contains($0) }
        let right = out.filter { b.contains($0) && !a.contains($0) }
        let contracted = a.filter { b.contains($0) && !out.contains($0) }
        let nb = batch.reduce(1) { $0 * size[$1]! }, nl = left.reduce(1) { $0 * size[$1]! }
        let nr = right.reduce(1) { $0 * size[$1]! }, nk = contracted.reduce(1) { $0 * size[$1]! }
        let am = permuted(xs[0], a, batch + left + contracted).reshaped([nb, nl, nk])
        let bm = permuted(xs[1], b, batch + contracted + right).reshaped([nb, nk, nr])
        let y = try matmul(node, am, bm).reshaped((batch + left + right).map { size[$0]! })
        return permuted(y, batch + left + right, out)
    }
}
