import Foundation
import MedVoxCore
import MedVoxTensor

// Normalisations, softmax and reductions: BatchNormalization (inference), InstanceNormalization,
// GroupNormalization, LayerNormalization, Softmax, LogSoftmax, ReduceMean/Sum/Max/Min.

extension GraphOps {
    static let normalizationOps: [String: Op] = {
        var t: [String: Op] = [:]
        t["BatchNormalization"] = { node, args, _ in
            let x = try node.take(&args, 0)
            guard x.rank >= 2 else { throw node.fail("input \(x.shape) needs N and C axes") }
            let c = x.shape[1]
            let p = try (1...4).map { try node.tensor(args, $0) }
            guard p.allSatisfy({ $0.count == c }) else { throw node.fail("parameters \(p.map(\.shape)) for \(c) channels") }
            return [.float(batchNormInference(x, runningMean: p[2], runningVar: p[3], gamma: p[0], beta: p[1], eps: node.float("epsilon", default: 1e-5)))]
        }
        t["InstanceNormalization"] = { node, args, _ in
            var x = try node.take(&args, 0)
            guard x.rank >= 3 else { throw node.fail("input \(x.shape) needs N, C and spatial axes") }
            let c = x.shape[1]
            let gamma = try node.tensor(args, 1), beta = try node.tensor(args, 2)
            guard gamma.count == c, beta.count == c else { throw node.fail("scale/bias \(gamma.shape)/\(beta.shape) for \(c) channels") }
            normalizeInPlace(&x, .groups(c), gamma: gamma, beta: beta, eps: node.float("epsilon", default: 1e-5))
            return [.float(x)]
        }
        t["GroupNormalization"] = { node, args, _ in
            var x = try node.take(&args, 0)
            guard x.rank >= 3 else { throw node.fail("input \(x.shape) needs N, C and spatial axes") }
            let c = x.shape[1]
            let groups = node.int("num_groups", default: 1)
            guard groups >= 1, c % groups == 0 else { throw node.fail("\(c) channels do not split into \(groups) groups") }
            var gamma = try node.tensor(args, 1), beta = try node.tensor(args, 2)
            // Opset 18 takes one scale and bias per group, opset 21 one per channel.
            if gamma.count == groups && groups != c {
                gamma = Tensor(shape: [c], storage: (0..<c).map { gamma.storage[$0 / (c / groups)] })
                beta = Tensor(shape: [c], storage: (0..<c).map { beta.storage[$0 / (c / groups)] })
            }
            guard gamma.count == c, beta.count == c else { throw node.fail("scale/bias \(gamma.shape)/\(beta.shape) for \(c) channels") }
            normalizeInPlace(&x, .groups(groups), gamma: gamma, beta: beta, eps: node.float("epsilon", default: 1e-5))
            return [.float(x)]
        }
        t["LayerNormalization"] = { node, args, _ in
            var x = try node.take(&args, 0)
            let axis = try node.axis(node.int("axis", default: -1), rank: x.rank)
            let normShape = Array(x.shape[axis...])
            let inner = normShape.reduce(1, *), outer = x.count / max(inner, 1)
            func param(_ i: Int) throws -> Tensor {
                let t = try node.tensor(args, i)
                guard try broadcastShape(node, t.shape, normShape) == normShape else { throw node.fail("scale/bias \(t.shape) for \(normShape)") }
                return broadcast(t, to: normShape)
            }
            let scale = try param(1)
            let bias = args.count > 2 && args[2] != nil ? try param(2) : nil
            let eps = node.float("epsilon", default: 1e-5)
            x.storage.withUnsafeMutableBufferPointer { xp in
                let xb = xp.baseAddress!
                parallelFor(outer) { o in
                    let row = xb + o * inner
                    var s = 0.0
                    for i in 0..<inner { s += Double(row[i]) }
                    let mean = s / Double(inner)
                    var q = 0.0
                    for i in 0..<inner {
                        let d = Double(row[i]) - mean
                        q += d * d
                    }
                    let inv = Float(1 / (q / Double(inner) + Double(eps)).squareRoot()), m = Float(mean)
                    for i in 0..<inner { row[i] = (row[i] - m) * inv * scale.storage[i] + (bias?.storage[i] ?? 0) }
                }
            }
            return [.float(x)]
        }
        for (name, log) in [("Softmax", false), ("LogSoftmax", true)] {
            t[name] = { node, args, _ in
                var x = try node.take(&args, 0)
                let axis = try node.axis(node.int("axis", default: -1), rank: x.rank)
                let len = x.rank == 0 ? 1 : x.shape[axis]
                let inner = x.shape[(axis + 1)...].reduce(1, *), outer = x.count / max(len * inner, 1)
                x.storage.withUnsafeMutableBufferPointer { xp in
                    let xb = xp.baseAddress!
                    // Blocks of positions in parallel (a segmentation's outer count is the batch).
                    let chunks = max(1, min(inner / 4096, 8 * Runtime.threads))
                    parallelFor(outer * chunks) { job in
                        let base = xb + (job / chunks) * len * inner
                        let r = chunkRange(inner, part: job % chunks, of: chunks)
                        softmaxChannels(base, channels: len, stride: inner, positions: r)
                        if log { for c in 0..<len { for i in r { base[c * inner + i] = Foundation.log(base[c * inner + i]) } } }
                    }
                }
                return [.float(x)]
            }
        }
        let reductions: [String: (Double, Double) -> Double] = ["ReduceMean": { $0 + $1 }, "ReduceSum": { $0 + $1 },
                                                                 "ReduceMax": { max($0, $1) }, "ReduceMin": { min($0, $1) }]
        for (name, f) in reductions {
            t[name] = { node, args, _ in
                let v = try node.value(args, 0)
                let x = v.tensor
                let r = x.rank
                var axes = try node.axesInputOrAttribute(args, 1).map { try $0.map { try node.axis($0, rank: r) } } ?? []
                if axes.isEmpty {
                    if node.int("noop_with_empty_axes", default: 0) != 0 { return [v] }
                    axes = Array(0..<r)
                }
                let keep = node.int("keepdims", default: 1) != 0
                let outKeep = (0..<r).map { axes.contains($0) ? 1 : x.shape[$0] }
                let outStrides = broadcastStrides(outKeep, to: x.shape)
                let start: Double = name == "ReduceMax" ? -.infinity : (name == "ReduceMin" ? .infinity : 0)
                var acc = [Double](repeating: start, count: outKeep.reduce(1, *))
                let inStrides = rowMajorStrides(x.shape)
                for i in 0..<x.count {
                    var rem = i, o = 0
                    for a in 0..<r {
                        o += (rem / inStrides[a]) * outStrides[a]
                        rem %= inStrides[a]
                    }
                    acc[o] = f(acc[o], Double(x.storage[i]))
                }
                if name == "ReduceMean" {
                    let n = Double(axes.reduce(1) { $0 * x.shape[$1] })
                    acc = acc.map { $0 / n }
                }
                let shape = keep ? outKeep : (0..<r).filter { !axes.contains($0) }.map { x.shape[$0] }
                if v.isInt { return [.int(IntTensor(shape: shape, values: acc.map { Int($0) }))] }
                return [.float(Tensor(shape: shape, storage: acc.map { Float($0) }))]
            }
        }
        return t
    }()
}
