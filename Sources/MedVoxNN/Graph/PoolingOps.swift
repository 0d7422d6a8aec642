import Foundation
import MedVoxCore
import MedVoxTensor

// Pooling and resizing over 1–3 spatial axes: MaxPool, AveragePool (pads, strides, dilations,
// ceil_mode, count_include_pad), GlobalAveragePool, GlobalMaxPool, Resize (nearest and linear,
// with ONNX's coordinate transformation modes) and Upsample.

extension GraphOps {
    static let poolingOps: [String: Op] = [
        "MaxPool": { node, args, _ in [.float(try pool(node, try node.take(&args, 0), max: true))] },
        "AveragePool": { node, args, _ in [.float(try pool(node, try node.take(&args, 0), max: false))] },
        "GlobalAveragePool": { node, args, _ in
            let x = try node.take(&args, 0)
            guard x.rank >= 3 else { throw node.fail("input \(x.shape) needs spatial axes") }
            return [.float(globalAvgPool(x).reshaped(Array(x.shape[..<2]) + [Int](repeating: 1, count: x.rank - 2)))]
        },
        "GlobalMaxPool": { node, args, _ in
            let x = try node.take(&args, 0)
            guard x.rank >= 3 else { throw node.fail("input \(x.shape) needs spatial axes") }
            let inner = x.shape[2...].reduce(1, *)
            let out = (0..<(x.shape[0] * x.shape[1])).map { b in x.storage[(b * inner)..<((b + 1) * inner)].max() ?? 0 }
            return [.float(Tensor(shape: Array(x.shape[..<2]) + [Int](repeating: 1, count: x.rank - 2), storage: out))]
        },
        "Resize": { node, args, _ in [.float(try resize(node, &args))] },
        "Upsample": { node, args, _ in [.float(try resize(node, &args))] },
    ]

    /// MaxPool or AveragePool.
    static func pool(_ node: GraphNode, _ x: Tensor, max isMax: Bool) throws -> Tensor {
        let r = x.rank - 2
        guard r >= 1 && r <= 3 else { throw node.fail("input \(x.shape) must have 1–3 spatial axes") }
        guard let kernel = node.ints("kernel_shape"), kernel.count == r, kernel.allSatisfy({ $0 >= 1 }) else {
            throw node.fail("kernel_shape must give \(r) positive sizes")
        }
        let size = Array(x.shape[2...])
        let stride = node.ints("strides") ?? [Int](repeating: 1, count: r)
        let dilation = node.ints("dilations") ?? [Int](repeating: 1, count: r)
        var pads = node.ints("pads") ?? [Int](repeating: 0, count: 2 * r)
        let bounded = { (v: [Int], lo: Int) in v.allSatisfy { (lo...(1 << 16)).contains($0) } }
        guard stride.count == r, dilation.count == r, pads.count == 2 * r, bounded(stride, 1), bounded(dilation, 1), bounded(pads, 0),
              bounded(kernel, 1)
        else {
            throw node.fail("strides \(stride), dilations \(dilation), pads \(pads) do not fit \(r) axes")
        }
        let ceil = node.int("ceil_mode", default: 0) != 0
        let auto = node.string("auto_pad", default: "NOTSET")
        var out = [Int](repeating: 0, count: r)
        for a in 0..<r {
            let span = (kernel[a] - 1) * dilation[a] + 1
            switch auto {
            case "VALID":
                pads[a] = 0
                pads[a + r] = 0
            case "SAME_UPPER", "SAME_LOWER":
                let o = (size[a] + stride[a] - 1) / stride[a]
                let total = max(0, (o - 1) * stride[a] + span - size[a])
                pads[a] = auto == "SAME_UPPER" ? total / 2 : total - total / 2
                pads[a + r] = total - pads[a]
            case "NOTSET": break
            default: throw node.fail("auto_pad '\(auto)' is not supported")
            }
            let num = size[a] + pads[a] + pads[a + r] - span
            guard num >= 0 else { throw node.fail("window \(kernel) larger than the padded input \(size)") }
            out[a] = (ceil ? (num + stride[a] - 1) / stride[a] : num / stride[a]) + 1
            if ceil && (out[a] - 1) * stride[a] >= size[a] + pads[a] { out[a] -= 1 }
        }
        try node.checkSize(Array(x.shape[..<2]) + out)
        // Non-overlapping windows that tile the input: the engine's pooling kernel.
        if isMax, r >= 2, kernel == stride, dilation.allSatisfy({ $0 == 1 }), pads.allSatisfy({ $0 == 0 }),
           (0..<r).allSatisfy({ out[$0] * stride[$0] <= size[$0] }) {
            return maxPoolValues(x, PoolGeometry(inputShape: x.shape, kernel: kernel))
        }
        let countPad = node.int("count_include_pad", default: 0) != 0
        let lift = { (v: [Int], f: Int) in [Int](repeating: f, count: 3 - r) + v }
        let (k3, s3, d3, i3, o3) = (lift(kernel, 1), lift(stride, 1), lift(dilation, 1), lift(size, 1), lift(out, 1))
        let pb = lift(Array(pads[..<r]), 0), pe = lift(Array(pads[r...]), 0)
        let inPlane = i3.reduce(1, *), outPlane = o3.reduce(1, *)
        var y = uninitializedTensor(Array(x.shape[..<2]) + out)
        x.storage.withUnsafeBufferPointer { xp in
            y.storage.withUnsafeMutableBufferPointer { yp in
                let xb = xp.baseAddress!, yb = yp.baseAddress!
                parallelFor(x.shape[0] * x.shape[1]) { b in
                    let src = xb + b * inPlane, dst = yb + b * outPlane
                    var o = 0
                    for od in 0..<o3[0] {
                        for oh in 0..<o3[1] {
                            for ow in 0..<o3[2] {
                                let start = [od * s3[0] - pb[0], oh * s3[1] - pb[1], ow * s3[2] - pb[2]]
                                var acc: Float = isMax ? -.infinity : 0
                                var n = 0
                                for kd in 0..<k3[0] {
                                    let z = start[0] + kd * d3[0]
                                    if z < 0 || z >= i3[0] { continue }
                                    for kh in 0..<k3[1] {
                                        let yy = start[1] + kh * d3[1]
                                        if yy < 0 || yy >= i3[1] { continue }
                                        for kw in 0..<k3[2] {
                                            let xx = start[2] + kw * d3[2]
                                            if xx < 0 || xx >= i3[2] { continue }
                                            let v = src[(z * i3[1] + yy) * i3[2] + xx]
                                            if isMax { acc = Swift.max(acc, v) } else { acc += v }
                                            n += 1
                                        }
                                    }
                                }
                                if !isMax {
                                    if countPad {
                                        // Taps inside the padded extent.
                                        var m = 1
                                        for a in 0..<3 {
                                            let lo = Swift.max(start[a], -pb[a]), hi = Swift.min(start[a] + (k3[a] - 1) * d3[a] + 1, i3[a] + pe[a])
                                            m *= Swift.max(0, (hi - lo + d3[a] - 1) / d3[a])
                                        }
                                        n = m
                                    }
                                    acc = n > 0 ? acc / Float(n) : 0
                                }
                                dst[o] = acc
                                o += 1
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Resize (opsets 13–19; Upsample's scales input is the same): output sizes from `sizes` or
    /// floor(size·scale), source coordinates by `coordinate_transformation_mode`, nearest
    /// (`nearest_mode`) or linear interpolation, separable over the resized axes.
    static func resize(_ node: GraphNode, _ args: inout [GraphValue?]) throws -> Tensor {
        let x = try node.take(&args, 0)
        let r = x.rank
        let upsample = node.op == "Upsample"
        let scalesIn = upsample ? (args.count > 1 ? args[1]?.tensor.storage : nil) : (args.count > 2 ? args[2]?.tensor.storage : nil)
        let sizesIn = upsample ? nil : node.optionalInts(args, 3)
        let axes = try (node.ints("axes") ?? Array(0..<r)).map { try node.axis($0, rank: r) }
        var scales = [Float](repeating: 1, count: r)
        var out = x.shape
        if let sizes = sizesIn, !sizes.isEmpty {
            guard sizes.count == axes.count, sizes.allSatisfy({ $0 >= 1 }) else { throw node.fail("sizes \(sizes) for axes \(axes)") }
            for (k, a) in axes.enumerated() {
                out[a] = sizes[k]
                scales[a] = Float(sizes[k]) / Float(x.shape[a])
            }
        } else if let s = scalesIn, !s.isEmpty {
            guard s.count == axes.count, s.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw node.fail("scales \(s) for axes \(axes)") }
            for (k, a) in axes.enumerated() {
                scales[a] = s[k]
                let o = (Double(x.shape[a]) * Double(s[k])).rounded(.down)
                guard o < 1e12 else { throw node.fail("scales \(s) give an output too large") }
                out[a] = Int(o)
            }
        } else {
            throw node.fail("neither scales nor sizes given")
        }
        guard out.allSatisfy({ $0 >= 1 }) else { throw node.fail("output size \(out) is empty") }
        try node.checkSize(out)
        let mode = node.string("mode", default: "nearest")
        let transform = node.string("coordinate_transformation_mode", default: upsample ? "asymmetric" : "half_pixel")
        let nearestMode = node.string("nearest_mode", default: "round_prefer_floor")
        guard mode == "nearest" || mode == "linear" else { throw node.fail("mode '\(mode)' is not supported") }
        // Per axis: for each output index, two source indices and the weight of the second.
        var lo: [[Int]] = [], hi: [[Int]] = [], wt: [[Float]] = []
        for a in 0..<r {
            let n = x.shape[a], m = out[a], s = scales[a]
            var l = [Int](repeating: 0, count: m), h = l, w = [Float](repeating: 0, count: m)
            for o in 0..<m {
                if n == m && s == 1 {
                    l[o] = o
                    h[o] = o
                    continue
                }
                let c: Float
                switch transform {
                case "half_pixel": c = (Float(o) + 0.5) / s - 0.5
                case "pytorch_half_pixel": c = m > 1 ? (Float(o) + 0.5) / s - 0.5 : 0
                case "align_corners": c = m > 1 ? Float(o) * Float(n - 1) / Float(m - 1) : 0
                case "asymmetric": c = Float(o) / s
                case "tf_half_pixel_for_nn": c = (Float(o) + 0.5) / s
                default: throw node.fail("coordinate_transformation_mode '\(transform)' is not supported")
                }
                if mode == "nearest" {
                    var i: Float
                    switch nearestMode {
                    case "round_prefer_floor": i = c == c.rounded(.down) + 0.5 ? c.rounded(.down) : c.rounded()
                    case "round_prefer_ceil": i = c.rounded()
                    case "floor": i = c.rounded(.down)
                    case "ceil": i = c.rounded(.up)
                    default: throw node.fail("nearest_mode '\(nearestMode)' is not supported")
                    }
                    i = min(max(i, 0), Float(n - 1))
                    l[o] = Int(i)
                    h[o] = Int(i)
                } else {
                    let cc = min(max(c, 0), Float(n - 1))
                    let f = cc.rounded(.down)
                    l[o] = Int(f)
                    h[o] = min(Int(f) + 1, n - 1)
                    w[o] = cc - f
                }
            }
            lo.append(l)
            hi.append(h)
            wt.append(w)
        }
        // Axes before the first resized one are a batch of independent blocks.
        let first = (0..<r).first { out[$0] != x.shape[$0] || lo[$0] != Array(0..<out[$0]) } ?? r
        var y = uninitializedTensor(out)
        let batch = x.shape[..<first].reduce(1, *)
        let inBlock = x.shape[first...].reduce(1, *), outBlock = out[first...].reduce(1, *)
        let axesR = Array(first..<r)
        let inStrides = rowMajorStrides(Array(x.shape[first...]))
        let rowLen = axesR.isEmpty ? 1 : out[r - 1]
        x.storage.withUnsafeBufferPointer { xp in
            y.storage.withUnsafeMutableBufferPointer { yp in
                let xb = xp.baseAddress!, yb = yp.baseAddress!
                let rowsPerBlock = outBlock / rowLen
                parallelFor(batch * rowsPerBlock) { job in
                    let b = job / rowsPerBlock, row = job % rowsPerBlock
                    let src = xb + b * inBlock, dst = yb + b * outBlock + row * rowLen
                    guard !axesR.isEmpty else {
                        dst[0] = src[0]
                        return
                    }
                    // The outer (non-last) resized axes' indices of this row.
                    var idx = [Int](repeating: 0, count: axesR.count)
                    var rem = row
                    for k in stride(from: axesR.count - 2, through: 0, by: -1) {
                        idx[k] = rem % out[axesR[k]]
                        rem /= out[axesR[k]]
                    }
                    let last = r - 1
                    let corners = mode == "linear" ? 1 << (axesR.count - 1) : 1
                    for o in 0..<rowLen {
                        var acc: Float = 0
                        for corner in 0..<corners {
                            var off = 0
                            var weight: Float = 1
                            for k in 0..<(axesR.count - 1) {
                                let a = axesR[k], i = idx[k]
                                let up = corner >> k & 1 == 1
                                off += (up ? hi[a][i] : lo[a][i]) * inStrides[k]
                                if mode == "linear" { weight *= up ? wt[a][i] : 1 - wt[a][i] }
                            }
                            if weight == 0 { continue }
                            let v0 = src[off + lo[last][o]]
                            let v = mode == "linear" ? v0 + (src[off + hi[last][o]] - v0) * wt[last][o] : v0
                            acc += weight * v
                        }
                        dst[o] = acc
                    }
                }
            }
        }
        return y
    }
}
