import MedVoxCore
import MedVoxTensor

// Conv and ConvTranspose over 1–3 spatial axes on the engine's `ConvPlan`s. What the kernels do
// not take directly is lowered: 1D as 2D with a height of 1, groups as one convolution per group,
// asymmetric or SAME padding as an explicit zero pad followed by a symmetric one. The fused
// `MedVoxConv` variant (see `GraphFusion`) adds an instance norm and/or a (leaky) ReLU applied as
// the native U-Net applies them.

/// A convolution's attributes resolved for one input: per spatial axis.
struct ConvSpec {
    var kernel: [Int], stride: [Int], dilation: [Int], padBegin: [Int], padEnd: [Int], group: Int

    /// The same convolution with a leading spatial axis of size 1 (1D run as 2D).
    var lifted: ConvSpec {
        var s = self
        s.kernel = [1] + kernel
        s.stride = [1] + stride
        s.dilation = [1] + dilation
        s.padBegin = [0] + padBegin
        s.padEnd = [0] + padEnd
        return s
    }

    /// Resolves Conv attributes (`auto_pad`, `pads`, `strides`, `dilations`, `kernel_shape`,
    /// `group`) for spatial sizes `size` and weight spatial sizes `wk`.
    init(_ node: GraphNode, size: [Int], wk: [Int], transposed: Bool) throws {
        let r = size.count
        kernel = node.ints("kernel_shape") ?? wk
        stride = node.ints("strides") ?? [Int](repeating: 1, count: r)
        dilation = node.ints("dilations") ?? [Int](repeating: 1, count: r)
        group = node.int("group", default: 1)
        let pads = node.ints("pads") ?? [Int](repeating: 0, count: 2 * r)
        guard kernel == wk, stride.count == r, dilation.count == r, pads.count == 2 * r, group >= 1,
              stride.allSatisfy({ (1...(1 << 16)).contains($0) }), dilation.allSatisfy({ (1...(1 << 16)).contains($0) }),
              pads.allSatisfy({ (0...(1 << 16)).contains($0) }), kernel.allSatisfy({ (1...(1 << 16)).contains($0) })
        else {
            throw node.fail("kernel \(kernel) (weights \(wk)), strides \(stride), dilations \(dilation), pads \(pads), group \(group) do not fit \(r) spatial axes")
        }
        padBegin = Array(pads[..<r])
        padEnd = Array(pads[r...])
        let auto = node.string("auto_pad", default: "NOTSET")
        switch auto {
        case "NOTSET": break
        case "VALID":
            padBegin = [Int](repeating: 0, count: r)
            padEnd = padBegin
        case "SAME_UPPER", "SAME_LOWER":
            guard !transposed else { throw node.fail("auto_pad \(auto) on ConvTranspose is not supported") }
            for a in 0..<r {
                let out = (size[a] + stride[a] - 1) / stride[a]
                let total = max(0, (out - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1 - size[a])
                padBegin[a] = auto == "SAME_UPPER" ? total / 2 : total - total / 2
                padEnd[a] = total - padBegin[a]
            }
        default: throw node.fail("auto_pad '\(auto)' is not supported")
        }
    }
}

extension GraphOps {
    static let convOps: [String: Op] = [
        "Conv": { node, args, ctx in [try conv(node, &args, ctx)] },
        "MedVoxConv": { node, args, ctx in [try conv(node, &args, ctx)] },
        "ConvTranspose": { node, args, ctx in [.float(try convTranspose(node, &args, ctx))] },
    ]

    /// Conv, and the fused MedVoxConv: its first `medvox.parts` inputs (default 1) are a channel
    /// concatenation read in place, then weights and bias; an instance norm from the next two
    /// inputs with `epsilon`; then the activation `medvox.slope` (0 for ReLU).
    static func conv(_ node: GraphNode, _ args: inout [GraphValue?], _ ctx: OpContext) throws -> GraphValue {
        let k = node.int("medvox.parts", default: 1)
        guard k >= 1, args.count >= k + 1 else { throw node.fail("expected \(k) data inputs and weights") }
        // A pending normalisation of a single input: applied by a Winograd pass as it reads.
        var pending: PendingNormalization?
        var parts: [Tensor]
        if k == 1, case let .pending(t, p)? = args[0] {
            args[0] = nil
            parts = [t]
            pending = p
        } else {
            parts = try (0..<k).map { try node.take(&args, $0) }
        }
        args = [nil] + Array(args[k...])  // weights at 1, bias at 2, norm scale and bias at 3 and 4
        let w = try node.tensor(args, 1)
        let bias = args.count > 2 ? args[2]?.tensor : nil
        let first = parts[0].shape
        guard first.count >= 3 && first.count <= 5, w.rank == first.count,
              parts.allSatisfy({ $0.rank == first.count && $0.shape[0] == first[0] && Array($0.shape[2...]) == Array(first[2...]) })
        else {
            throw node.fail("inputs \(parts.map(\.shape)) and weights \(w.shape) must be N, C and the same 1–3 spatial axes")
        }
        var spec = try ConvSpec(node, size: Array(first[2...]), wk: Array(w.shape[2...]), transposed: false)
        let g = spec.group
        let cin = parts.reduce(0) { $0 + $1.shape[1] }
        guard cin == w.shape[1] * g, w.shape[0] % g == 0, bias.map({ $0.count == w.shape[0] }) ?? true else {
            throw node.fail("input has \(cin) channels; weights \(w.shape) with group \(g) take \(w.shape[1] * g)")
        }
        let oneD = first.count == 3
        let symmetric = spec.padBegin == spec.padEnd
        if pending != nil && (g > 1 || oneD || !symmetric) {
            pending!.apply(to: &parts[0])
            pending = nil
        }
        if parts.count > 1 && (g > 1 || oneD || !symmetric) {
            parts = [concatenate(&parts, axis: 1, shape: [first[0], cin] + Array(first[2...]))]
        }
        var weight = w
        if oneD {
            parts = parts.map { $0.reshaped([$0.shape[0], $0.shape[1], 1, $0.shape[2]]) }
            weight = w.reshaped([w.shape[0], w.shape[1], 1, w.shape[2]])
            spec = spec.lifted
        }
        // Asymmetric padding: the excess as an explicit zero pad.
        let common = zip(spec.padBegin, spec.padEnd).map { min($0, $1) }
        if !symmetric {
            let extraB = [0, 0] + zip(spec.padBegin, common).map { $0 - $1 }, extraE = [0, 0] + zip(spec.padEnd, common).map { $0 - $1 }
            parts = [try pad(node, .float(parts[0]), begin: extraB, end: extraE, mode: "constant", value: 0).tensor]
        }
        let size = Array(parts[0].shape[2...]), batch = parts[0].shape[0]
        let slope: Float? = node.attributes["medvox.slope"]?.float
        let norm = node.op == "MedVoxConv" && args.count > 4 && args[3] != nil
        let outChannels = w.shape[0] / g
        var outputs: [Tensor] = []
        let inPer = cin / g
        func slice(_ t: Tensor, _ k: Int) -> Tensor {
            g == 1 ? t : Tensor(shape: [outChannels], storage: Array(t.storage[(k * outChannels)..<((k + 1) * outChannels)]))
        }
        for k in 0..<g {
            let geometry: ConvGeometry
            do {
                geometry = try ConvGeometry(batch: batch, inChannels: inPer, outChannels: outChannels, inputSize: size,
                                            kernel: spec.kernel, stride: spec.stride, padding: common, dilation: spec.dilation)
            } catch { throw node.fail("\(error)") }
            let plan = ctx.convs.plan("\(ctx.key)#\(k)", geometry) {
                g == 1 ? weight : Tensor(shape: [outChannels] + Array(weight.shape[1...]),
                                         storage: Array(weight.storage[(k * weight.count / g)..<((k + 1) * weight.count / g)]))
            }
            if let p = pending, !plan.readsPendingNormalization {
                p.apply(to: &parts[0])
                pending = nil
            }
            var input: [Tensor]? = g == 1 ? parts : [channels(parts[0], k * inPer, inPer)]
            if g == 1 { parts = [] }  // the convolution releases them once read
            let b = bias.map { slice($0, k) }
            let act: FusedActivation = norm ? .none : slope.map { $0 == 0 ? .relu : .leakyReLU($0) } ?? .none
            let (y, sums) = norm ? convConsumingWithStatistics(&input, pending: pending, bias: b, plan: plan)
                : (convConsuming(&input, pending: pending, bias: b, plan: plan, activation: act), nil)
            if norm {
                let gamma = try node.tensor(args, 3), beta = try node.tensor(args, 4)
                let p = pendingNormalization(of: y, .groups(outChannels), gamma: slice(gamma, k), beta: slice(beta, k),
                                             eps: node.float("epsilon", default: 1e-5), leakySlope: slope, channelSums: sums).0
                // Left for the next convolution to apply as it reads (see GraphFusion), or applied here.
                if g == 1 && node.attributes["medvox.pendingOutput"] != nil { return .pending(y, p) }
                var out = y
                p.apply(to: &out)
                outputs.append(out)
            } else {
                outputs.append(y)
            }
        }
        var y = outputs.count == 1 ? outputs[0] : concatenate(&outputs, axis: 1, shape: [batch, w.shape[0]] + Array(outputs[0].shape[2...]))
        if oneD { y = y.reshaped([y.shape[0], y.shape[1], y.shape[3]]) }
        return .float(y)
    }

    /// Input, weights, bias and resolved attributes of a Conv or ConvTranspose node.
    static func convOperands(_ node: GraphNode, _ args: inout [GraphValue?], transposed: Bool) throws -> (Tensor, Tensor, Tensor?, ConvSpec) {
        let x = try node.take(&args, 0)
        let w = try node.tensor(args, 1)
        let bias = args.count > 2 ? args[2]?.tensor : nil
        guard x.rank >= 3 && x.rank <= 5, w.rank == x.rank else {
            throw node.fail("input \(x.shape) and weights \(w.shape) must both be N, C and 1–3 spatial axes")
        }
        return (x, w, bias, try ConvSpec(node, size: Array(x.shape[2...]), wk: Array(w.shape[2...]), transposed: transposed))
    }

    /// Channels `start..<start+count` of `[N, C, …]`.
    static func channels(_ x: Tensor, _ start: Int, _ count: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], inner = x.shape[2...].reduce(1, *)
        var out: [Float] = []
        out.reserveCapacity(n * count * inner)
        for b in 0..<n { out += x.storage[((b * c + start) * inner)..<((b * c + start + count) * inner)] }
        return Tensor(shape: [n, count] + Array(x.shape[2...]), storage: out)
    }

    /// ConvTranspose: the adjoint of the convolution with the same weights (its backward-data
    /// pass, `ConvPlan.backwardData`), on the full output grid, then cropped by `pads`, extended
    /// by `output_padding` (or sized by `output_shape`), plus the bias.
    static func convTranspose(_ node: GraphNode, _ args: inout [GraphValue?], _ ctx: OpContext) throws -> Tensor {
        var (x, w, bias, spec) = try convOperands(node, &args, transposed: true)
        let g = spec.group
        let r = x.rank - 2
        guard x.shape[1] == w.shape[0], w.shape[0] % g == 0 else {
            throw node.fail("input \(x.shape) has \(x.shape[1]) channels; weights \(w.shape) take \(w.shape[0])")
        }
        let outPer = w.shape[1], outChannels = outPer * g
        guard bias.map({ $0.count == outChannels }) ?? true else { throw node.fail("bias does not have \(outChannels) values") }
        var outputPadding = node.ints("output_padding") ?? [Int](repeating: 0, count: r)
        guard outputPadding.count == r, outputPadding.allSatisfy({ (0...(1 << 16)).contains($0) }) else { throw node.fail("output_padding \(outputPadding) for \(r) axes") }
        let oneD = r == 1
        if oneD {
            x = x.reshaped([x.shape[0], x.shape[1], 1, x.shape[2]])
            w = w.reshaped([w.shape[0], w.shape[1], 1, w.shape[2]])
            spec = spec.lifted
            outputPadding = [0] + outputPadding
        }
        let inSize = Array(x.shape[2...])
        var full: [Int] = [], outSize: [Int] = []
        for a in 0..<inSize.count {
            let f: Int = (inSize[a] - 1) * spec.stride[a] + spec.dilation[a] * (spec.kernel[a] - 1) + 1
            full.append(f)
            outSize.append(f + outputPadding[a] - spec.padBegin[a] - spec.padEnd[a])
        }
        if let os = node.ints("output_shape") {
            let target = oneD ? [1] + os : os
            guard target.count == inSize.count else { throw node.fail("output_shape \(os) for \(r) axes") }
            // pads from output_shape: total = full − out, split as SAME_UPPER (extra at the end).
            for a in 0..<target.count {
                let total = full[a] - target[a]
                spec.padBegin[a] = total >= 0 ? total / 2 : 0
                outSize[a] = target[a]
            }
        }
        guard outSize.allSatisfy({ $0 >= 1 }) else { throw node.fail("output size \(outSize) is empty") }
        try node.checkSize([x.shape[0], outChannels] + full)
        let n = x.shape[0], inPer = x.shape[1] / g
        let fullCount = full.reduce(1, *), outCount = outSize.reduce(1, *)
        var y = Tensor(shape: [n, outChannels] + outSize)
        let direct = full == outSize && spec.padBegin.allSatisfy { $0 == 0 }
        for k in 0..<g {
            let geometry: ConvGeometry
            do {
                geometry = try ConvGeometry(batch: n, inChannels: outPer, outChannels: inPer, inputSize: full, kernel: spec.kernel,
                                            stride: spec.stride, padding: [Int](repeating: 0, count: full.count), dilation: spec.dilation)
            } catch { throw node.fail("\(error)") }
            let plan = ctx.convs.plan("\(ctx.key)#\(k)", geometry) {
                g == 1 ? w : Tensor(shape: [inPer] + Array(w.shape[1...]),
                                    storage: Array(w.storage[(k * w.count / g)..<((k + 1) * w.count / g)]))
            }
            let xk = g == 1 ? x : channels(x, k * inPer, inPer)
            var fk = direct && g == 1 ? uninitializedTensor([n, outPer] + full) : Tensor(shape: [n, outPer] + full)
            xk.storage.withUnsafeBufferPointer { xp in
                fk.storage.withUnsafeMutableBufferPointer { plan.backwardData(gradOutput: xp.baseAddress!, gradInput: $0.baseAddress!) }
            }
            if direct && g == 1 {
                y = fk
                break
            }
            // Crop/extend the full grid into the output's channels k·outPer ..< (k+1)·outPer.
            let fullStrides = rowMajorStrides(full)
            y.storage.withUnsafeMutableBufferPointer { yp in
                fk.storage.withUnsafeBufferPointer { fp in
                    for b in 0..<n {
                        for c in 0..<outPer {
                            let src = fp.baseAddress! + (b * outPer + c) * fullCount
                            let dst = yp.baseAddress! + (b * outChannels + k * outPer + c) * outCount
                            // Output positions inside the full grid; the rest stay 0.
                            let inside = (0..<outSize.count).map { a in max(0, min(outSize[a], full[a] - spec.padBegin[a])) }
                            guard inside.allSatisfy({ $0 > 0 }) else { continue }
                            var tmp = [Float](repeating: 0, count: inside.reduce(1, *))
                            let offset = zip(spec.padBegin, fullStrides).map { $0 * $1 }.reduce(0, +)
                            tmp.withUnsafeMutableBufferPointer { stridedCopy(src, offset: offset, strides: fullStrides, shape: inside, into: $0.baseAddress!) }
                            // Scatter rows of tmp into dst.
                            let outStrides = rowMajorStrides(outSize)
                            let innerLen = inside.last!
                            let rows = tmp.count / innerLen
                            for row in 0..<rows {
                                var rem = row, o = 0
                                for a in stride(from: inside.count - 2, through: 0, by: -1) {
                                    o += (rem % inside[a]) * outStrides[a]
                                    rem /= inside[a]
                                }
                                for i in 0..<innerLen { dst[o + i] = tmp[row * innerLen + i] }
                            }
                        }
                    }
                }
            }
        }
        if let bias { addChannelBias(&y, bias) }
        if oneD { y = y.reshaped([y.shape[0], y.shape[1], y.shape[3]]) }
        return y
    }
}
