import MedVoxCore

/// The plain definition of convolution forward, backward-data and backward-weights: direct loops,
/// one output element at a time, accumulated in `Acc` (Double for the reference the fast kernels
/// are tested against). Each output element is reduced by one thread in a fixed order, so results
/// do not depend on `threads`.
public enum ConvReference {
    /// See `Conv.forward`.
    public static func forward(
        _ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, activation: FusedActivation = .none, threads: Int = 1
    ) {
        ReferenceLoops<Double>.forward(g.as3D, input: input, weight: weight, bias: bias, output: output, activation: activation, threads: threads)
    }

    /// See `Conv.backwardData`.
    public static func backwardData(
        _ g: ConvGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>, threads: Int = 1
    ) {
        ReferenceLoops<Double>.backwardData(g.as3D, gradOutput: gradOutput, weight: weight, gradInput: gradInput, threads: threads)
    }

    /// See `Conv.backwardWeights`.
    public static func backwardWeights(
        _ g: ConvGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
        gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?, threads: Int = 1
    ) {
        ReferenceLoops<Double>.backwardWeights(
            g.as3D, input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, threads: threads)
    }
}

/// The plain fallback used when no fast kernel takes a shape: the reference loops in Float.
enum PlainConv {
    static func forward(
        _ s: Conv3DShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, activation: FusedActivation, threads: Int
    ) {
        ReferenceLoops<Float>.forward(s, input: input, weight: weight, bias: bias, output: output, activation: activation, threads: threads)
    }
    static func backwardData(
        _ s: Conv3DShape, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>, threads: Int
    ) {
        ReferenceLoops<Float>.backwardData(s, gradOutput: gradOutput, weight: weight, gradInput: gradInput, threads: threads)
    }
    static func backwardWeights(
        _ s: Conv3DShape, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
        gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?, threads: Int
    ) {
        ReferenceLoops<Float>.backwardWeights(s, input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, threads: threads)
    }
}

/// Direct loops over the 3D view of a convolution (2D has depth 1), accumulating in `Acc`.
enum ReferenceLoops<Acc: BinaryFloatingPoint> {
    /// Input coordinate of output coordinate `o` and tap `t` on axis `a`, or nil in the padding.
    @inline(__always) static func source(_ s: Conv3DShape, _ a: Int, _ o: Int, _ t: Int) -> Int? {
        let i = o * s.stride[a] + t * s.dilation[a] - s.padding[a]
        return i >= 0 && i < s.input[a] ? i : nil
    }

    static func forward(
        _ s: Conv3DShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, activation: FusedActivation, threads: Int
    ) {
        let (ih, iw) = (s.input[1], s.input[2])
        let (od, oh, ow) = (s.output[0], s.output[1], s.output[2])
        let (kd, kh, kw) = (s.kernel[0], s.kernel[1], s.kernel[2])
        parallelFor(s.n * s.co, threads: threads) { job in
            let n = job / s.co, co = job % s.co
            let out = output + job * s.outPlane
            for z in 0..<od { for y in 0..<oh { for x in 0..<ow {
                var acc: Acc = bias.map { Acc($0[co]) } ?? 0
                for ci in 0..<s.ci {
                    let inp = input + (n * s.ci + ci) * s.inPlane
                    let w = weight + (co * s.ci + ci) * s.taps
                    for a in 0..<kd {
                        guard let iz = source(s, 0, z, a) else { continue }
                        for b in 0..<kh {
                            guard let iy = source(s, 1, y, b) else { continue }
                            for c in 0..<kw {
                                guard let ix = source(s, 2, x, c) else { continue }
                                acc += Acc(w[(a * kh + b) * kw + c]) * Acc(inp[(iz * ih + iy) * iw + ix])
                            }
                        }
                    }
                }
                out[(z * oh + y) * ow + x] = activation.apply(Float(acc))
            } } }
        }
    }

    static func backwardData(
        _ s: Conv3DShape, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let (id, ih, iw) = (s.input[0], s.input[1], s.input[2])
        let (oh, ow) = (s.output[1], s.output[2])
        let (kd, kh, kw) = (s.kernel[0], s.kernel[1], s.kernel[2])
        // Output coordinate that reads input coordinate `i` through tap `t` on axis `a`, or nil.
        func target(_ a: Int, _ i: Int, _ t: Int) -> Int? {
            let num = i + s.padding[a] - t * s.dilation[a]
            guard num >= 0, num % s.stride[a] == 0 else { return nil }
            let o = num / s.stride[a]
            return o < s.output[a] ? o : nil
        }
        parallelFor(s.n * s.ci, threads: threads) { job in
            let n = job / s.ci, ci = job % s.ci
            let gin = gradInput + job * s.inPlane
            for z in 0..<id { for y in 0..<ih { for x in 0..<iw {
                var acc: Acc = 0
                for co in 0..<s.co {
                    let go = gradOutput + (n * s.co + co) * s.outPlane
                    let w = weight + (co * s.ci + ci) * s.taps
                    for a in 0..<kd {
                        guard let oz = target(0, z, a) else { continue }
                        for b in 0..<kh {
                            guard let oy = target(1, y, b) else { continue }
                            for c in 0..<kw {
                                guard let ox = target(2, x, c) else { continue }
                                acc += Acc(w[(a * kh + b) * kw + c]) * Acc(go[(oz * oh + oy) * ow + ox])
                            }
                        }
                    }
                }
                gin[(z * ih + y) * iw + x] = Float(acc)
            } } }
        }
    }

    static func backwardWeights(
        _ s: Conv3DShape, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
        gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?, threads: Int
    ) {
        let (ih, iw) = (s.input[1], s.input[2])
        let (od, oh, ow) = (s.output[0], s.output[1], s.output[2])
        let (kh, kw) = (s.kernel[1], s.kernel[2])
        parallelFor(s.co * s.ci * s.taps, threads: threads) { job in
            let co = job / (s.ci * s.taps), ci = (job / s.taps) % s.ci, t = job % s.taps
            let (a, b, c) = (t / (kh * kw), (t / kw) % kh, t % kw)
            var acc: Acc = 0
            for n in 0..<s.n {
                let inp = input + (n * s.ci + ci) * s.inPlane
                let go = gradOutput + (n * s.co + co) * s.outPlane
                for z in 0..<od {
                    guard let iz = source(s, 0, z, a) else { continue }
                    for y in 0..<oh {
                        guard let iy = source(s, 1, y, b) else { continue }
                        for x in 0..<ow {
                            guard let ix = source(s, 2, x, c) else { continue }
                            acc += Acc(go[(z * oh + y) * ow + x]) * Acc(inp[(iz * ih + iy) * iw + ix])
                        }
                    }
                }
            }
            gradWeight[job] = Float(acc)
        }
        if let gradBias {
            parallelFor(s.co, threads: threads) { co in
                var acc: Acc = 0
                for n in 0..<s.n {
                    let go = gradOutput + (n * s.co + co) * s.outPlane
                    for i in 0..<s.outPlane { acc += Acc(go[i]) }
                }
                gradBias[co] = Float(acc)
            }
        }
    }
}
