import CMedVoxKernels
import MedVoxCore

/// Errors from convolution shapes that come from users (model files, CLI sizes).
public enum ConvError: MedVoxError, Equatable {
    /// The geometry is not a valid 2D or 3D convolution; `reason` says which field is wrong.
    case invalidGeometry(reason: String)

    public var description: String {
        switch self {
        case let .invalidGeometry(reason): return "convolution: invalid geometry: \(reason)"
        }
    }
}

/// The shape of one N-d convolution (N = 2 or 3), in PyTorch's conventions.
///
/// Tensors are contiguous Float32: input `[batch, inChannels, inputSize...]`, output
/// `[batch, outChannels, outputSize...]` (NCHW or NCDHW, last axis fastest), weights
/// `[outChannels, inChannels, kernel...]`, bias `[outChannels]`. Padding is zero padding on both
/// sides of each spatial axis.
///
/// ```swift
/// let g = try ConvGeometry(batch: 1, inChannels: 16, outChannels: 16, inputSize: [64, 64, 64],
///                          kernel: [3, 3, 3], stride: [1, 1, 1], padding: [1, 1, 1], dilation: [1, 1, 1])
/// g.outputSize  // [64, 64, 64]
/// ```
public struct ConvGeometry: Equatable, Sendable, CustomStringConvertible {
    public var batch: Int, inChannels: Int, outChannels: Int
    /// Spatial sizes: (H, W) or (D, H, W).
    public var inputSize: [Int]
    /// Per spatial axis, in the order of `inputSize`.
    public var kernel: [Int], stride: [Int], padding: [Int], dilation: [Int]

    /// Output spatial sizes: `(in + 2p - d(k-1) - 1) / s + 1` per axis.
    public var outputSize: [Int] {
        (0..<inputSize.count).map { a in
            (inputSize[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) / stride[a] + 1
        }
    }

    /// Spatial rank: 2 or 3.
    public var spatialRank: Int { inputSize.count }
    /// Taps per filter: the product of `kernel`.
    public var taps: Int { kernel.reduce(1, *) }
    public var inputCount: Int { batch * inChannels * inputSize.reduce(1, *) }
    public var outputCount: Int { batch * outChannels * outputSize.reduce(1, *) }
    public var weightCount: Int { outChannels * inChannels * taps }
    /// Multiply-adds × 2 of the forward pass, padding taps included.
    public var flops: Double {
        2 * Double(batch) * Double(outChannels) * Double(inChannels) * Double(taps)
            * Double(outputSize.reduce(1, *))
    }

    /// Checks and builds a geometry; throws `ConvError.invalidGeometry` for shapes that cannot be
    /// convolved (wrong rank, non-positive sizes, a kernel larger than the padded input, or
    /// sizes whose element counts overflow).
    public init(
        batch: Int, inChannels: Int, outChannels: Int, inputSize: [Int],
        kernel: [Int], stride: [Int], padding: [Int], dilation: [Int]
    ) throws {
        self.batch = batch
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.inputSize = inputSize
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        try validate()
    }

    func validate() throws {
        func fail(_ r: String) -> ConvError { .invalidGeometry(reason: r) }
        let r = inputSize.count
        guard r == 2 || r == 3 else { throw fail("\(r) spatial axes; expected 2 or 3") }
        for (name, v) in [("kernel", kernel), ("stride", stride), ("padding", padding), ("dilation", dilation)]
        where v.count != r {
            throw fail("\(name) has \(v.count) entries for \(r) spatial axes")
        }
        guard batch >= 1, inChannels >= 1, outChannels >= 1 else {
            throw fail("batch \(batch), channels \(inChannels)->\(outChannels) must be positive")
        }
        guard inputSize.allSatisfy({ $0 >= 1 }) else { throw fail("input size \(inputSize) must be positive") }
        guard kernel.allSatisfy({ $0 >= 1 }), stride.allSatisfy({ $0 >= 1 }), dilation.allSatisfy({ $0 >= 1 }),
            padding.allSatisfy({ $0 >= 0 })
        else { throw fail("kernel \(kernel), stride \(stride), dilation \(dilation) must be ≥ 1 and padding \(padding) ≥ 0") }
        for a in 0..<r {
            let (span, o1) = dilation[a].multipliedReportingOverflow(by: kernel[a] - 1)
            guard !o1, span < inputSize[a] + 2 * padding[a] else {
                throw fail("kernel \(kernel) with dilation \(dilation) exceeds the padded input \(inputSize) + 2×\(padding)")
            }
            guard padding[a] < 1 << 20, inputSize[a] < 1 << 30 else { throw fail("size \(inputSize) or padding \(padding) too large") }
        }
        // Element counts (with padding) must fit comfortably in Int.
        var total = 1.0
        for v in [Double(batch), Double(max(inChannels, outChannels))] + inputSize.indices.map({ Double(inputSize[$0] + 2 * padding[$0]) }) {
            total *= v
        }
        guard total < 1e15, Double(outChannels) * Double(inChannels) * Double(taps) < 1e12 else {
            throw fail("tensor sizes overflow (batch \(batch), channels \(inChannels)->\(outChannels), size \(inputSize))")
        }
    }

    public var description: String {
        "conv\(spatialRank)d \(inChannels)->\(outChannels) k\(kernel) s\(stride) p\(padding) d\(dilation) in \(batch)x\(inputSize)"
    }

    /// The same convolution viewed as 3D (a 2D one gets a leading depth axis of size 1).
    var as3D: Conv3DShape {
        let pad = { (v: [Int], f: Int) in self.spatialRank == 3 ? v : [f] + v }
        return Conv3DShape(
            n: batch, ci: inChannels, co: outChannels, input: pad(inputSize, 1), kernel: pad(kernel, 1),
            stride: pad(stride, 1), padding: pad(padding, 0), dilation: pad(dilation, 1), output: pad(outputSize, 1))
    }
}

/// A convolution as 3D (D, H, W); 2D convolutions have D = 1. Internal to the kernels.
struct Conv3DShape {
    var n, ci, co: Int
    var input, kernel, stride, padding, dilation, output: [Int]
    var inPlane: Int { input[0] * input[1] * input[2] }
    var outPlane: Int { output[0] * output[1] * output[2] }
    var taps: Int { kernel[0] * kernel[1] * kernel[2] }
}

/// An activation applied to the convolution's output in the same pass as the bias.
public enum FusedActivation: Sendable, Equatable {
    case none, relu
    /// `x < 0 ? slope * x : x`.
    case leakyReLU(Float)

    @inlinable public func apply(_ x: Float) -> Float {
        switch self {
        case .none: return x
        case .relu: return x > 0 ? x : 0
        case let .leakyReLU(a): return x < 0 ? a * x : x
        }
    }
}

/// Convolution forward, backward-data and backward-weights on contiguous Float32 tensors.
///
/// Results are identical for every `threads` value (each output element is reduced in a fixed
/// order by one thread).
public enum Conv {
    /// `output = act(conv(input, weight) + bias)`; input `[N, Cin, in...]`, weight
    /// `[Cout, Cin, k...]`, bias `[Cout]` or nil, output `[N, Cout, out...]` (overwritten).
    public static func forward(
        _ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, activation: FusedActivation = .none, threads: Int = Runtime.threads
    ) {
        let plan = ConvPlan(g)
        plan.pack(weight: weight)
        plan.forward(input: input, bias: bias, output: output, activation: activation, threads: threads)
    }

    /// `gradInput = ∂L/∂input` from `gradOutput = ∂L/∂output` (overwritten, not accumulated).
    public static func backwardData(
        _ g: ConvGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>, threads: Int = Runtime.threads
    ) {
        let plan = ConvPlan(g)
        plan.pack(weight: weight)
        plan.backwardData(gradOutput: gradOutput, gradInput: gradInput, threads: threads)
    }

    /// `gradWeight = ∂L/∂weight` `[Cout, Cin, k...]` and `gradBias = ∂L/∂bias` `[Cout]`, summed over
    /// the batch; both overwritten (the caller accumulates).
    public static func backwardWeights(
        _ g: ConvGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
        gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?, threads: Int = Runtime.threads
    ) {
        let plan = ConvPlan(g)
        plan.backwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, threads: threads)
    }
}

/// A convolution layer's plan: its geometry, its weights packed once for the fast kernels, and how
/// each pass runs. Create one per layer; call `pack(weight:)` after the weights change (each
/// optimizer step when training). A plan may be used from one thread at a time.
///
/// Workspace (shared between plans through a pool, allocated on first use):
/// - direct passes (stride 1, chosen when the padded grid wastes little): a zero-padded copy of the
///   source, `C × (D+2p)(H+2p)(W+2p)` floats (the input, not 27 copies of it);
/// - per thread: an accumulator tile `roundup(Cout, mr) × nt` (≤ 32 K floats), and in gathered
///   passes a column tile `kcc·taps × nt` (≤ 512 × 384 floats) — no full im2col;
/// - backward-weights per thread: `Cout × qc` (direct) or `(Cin·taps + 2·taps) × qc` (gathered)
///   floats, qc ≤ 4096 positions;
/// - Winograd F(2³, 3³) passes (3×3×3, stride 1, padding 1, ≥ 16 channels each way; they read the
///   source in place, no padded copy): per thread the transformed inputs and the products of one
///   block of 48 tiles, `64·48·(Cin + roundup(Cout, mr))` floats (6 MB at 256 channels each way);
///   Winograd backward-weights: `64·256·(Cin + Cout)` floats of transformed tiles, twice for a
///   grid of one 256-tile chunk (plus ≤ 1.5 MB of products per thread), or with several chunks
///   `64·Cout·roundup(Cin, 8)` doubles of sums (34 MB at 256 channels each way);
/// - the one-output-channel row kernel reads the source in place: no workspace.
/// All of it comes from one pool of 64-byte aligned buffers, every slot a whole number of lines.
/// Packed weights: `roundup(Cout, mr)·Cin·taps` floats per pass, 64 transform points instead of
/// the taps in Winograd passes.
public final class ConvPlan {
    public let geometry: ConvGeometry
    /// The kernel settings this plan was made with.
    public let settings: KernelSettings
    let s: Conv3DShape
    let info: mvx_isa_info
    let forwardPass: FastPass
    let backwardDataPass: FastPass
    /// Packed weights for the forward and backward-data passes.
    var forwardPacked: [Float] = []
    var backwardPacked: [Float] = []
    /// Weights as given, for the plain path.
    var weights: [Float] = []

    public init(_ g: ConvGeometry, settings: KernelSettings = .current) {
        geometry = g
        self.settings = settings
        s = g.as3D
        info = mvx_isa_info_for(settings.isa.rawValue)
        forwardPass = Self.forwardPass(s, info: info, settings: settings)
        backwardDataPass = Self.backwardDataPass(s, info: info, settings: settings)
    }

    /// The instruction set this plan's kernels use.
    public var isa: KernelSettings.ISA { KernelSettings.ISA(rawValue: info.isa) ?? .generic }
    /// "direct", "gather", "gatherRaw", "winograd", "rows" or "phases" for the forward and
    /// backward-data passes (for benchmarks and tests).
    public var modes: (forward: String, backwardData: String) {
        ("\(forwardPass.mode)", backwardDataPass.outStride == nil ? "\(backwardDataPass.mode)" : "phases")
    }

    /// Packs the weights `[Cout, Cin, k...]` for later calls.
    public func pack(weight: UnsafePointer<Float>) {
        guard !settings.reference else {
            weights = Array(UnsafeBufferPointer(start: weight, count: geometry.weightCount))
            return
        }
        weights = []
        let f = forwardPass, b = backwardDataPass
        forwardPacked = [Float](unsafeUninitializedCapacity: f.packedCount) { buf, n in
            if f.mode == .winograd {
                let pack = f.points == 16 ? mvx_wino_pack_weights_2d : mvx_wino_pack_weights
                pack(weight, Int32(f.M), Int32(f.C), f.info.mr, 0, 0, buf.baseAddress!)
            } else {
                mvx_pack_weights(weight, Int32(f.M), Int32(f.C), Int32(f.taps), Int32(f.kcc), f.info.mr, 0, 0, buf.baseAddress!)
            }
            n = f.packedCount
        }
        let phases = b.phases
        backwardPacked = [Float](unsafeUninitializedCapacity: b.packedCount * phases.count) { buf, n in
            if b.mode == .winograd {
                let pack = b.points == 16 ? mvx_wino_pack_weights_2d : mvx_wino_pack_weights
                pack(weight, Int32(b.M), Int32(b.C), b.info.mr, 1, 1, buf.baseAddress!)
            } else if b.outStride == nil {
                // Passes on the padded grid and the row kernel correlate with the flipped kernel.
                mvx_pack_weights(weight, Int32(b.M), Int32(b.C), Int32(b.taps), Int32(b.kcc), b.info.mr, 1,
                                 b.usesPadded || b.mode == .rows ? 1 : 0, buf.baseAddress!)
            } else {
                // Per phase (a, b, c): the [Cin][Cout] matrix of tap (a, b, c).
                let (ci, co, taps, k) = (s.ci, s.co, s.taps, s.kernel)
                var tap = [Float](repeating: 0, count: ci * co)
                for (i, ph) in phases.enumerated() {
                    let t = (ph[0] * k[1] + ph[1]) * k[2] + ph[2]
                    for m in 0..<ci { for c in 0..<co { tap[m * co + c] = weight[(c * ci + m) * taps + t] } }
                    mvx_pack_weights(tap, Int32(ci), Int32(co), 1, Int32(b.kcc), b.info.mr, 0, 0,
                                     buf.baseAddress! + i * b.packedCount)
                }
            }
            n = b.packedCount * phases.count
        }
    }

    /// Floats of shared scratch one forward pass on a batch item takes (the padded copy of the
    /// input and the per-thread tiles), at most.
    public var forwardScratchCount: Int { weights.isEmpty ? forwardPass.scratchCount(threads: Runtime.threads) : 0 }

    /// Reserves shared scratch of `count` floats before a network's first layer (see
    /// `forwardScratchCount`), so the largest buffer is not carved out between activations.
    public static func reserveScratch(_ count: Int) { ScratchPool.shared.reserve(count) }

    /// Forward pass with the packed weights; see `Conv.forward`.
    public func forward(
        input: UnsafePointer<Float>, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
        activation: FusedActivation = .none, threads: Int = Runtime.threads
    ) {
        if !weights.isEmpty {
            weights.withUnsafeBufferPointer { w in
                PlainConv.forward(s, input: input, weight: w.baseAddress!, bias: bias, output: output, activation: activation, threads: threads)
            }
            return
        }
        precondition(forwardPacked.count == forwardPass.packedCount, "ConvPlan.forward before pack(weight:)")
        forwardPacked.withUnsafeBufferPointer { a in
            for n in 0..<s.n {
                forwardPass.run(source: input + n * s.ci * s.inPlane, packed: a.baseAddress!, bias: bias,
                                output: output + n * s.co * s.outPlane, activation: activation, threads: threads)
            }
        }
    }

    /// Whether `forward(parts:pending:)` takes a pending normalisation of its input (applied as
    /// the Winograd pass reads it); otherwise apply it to the input first.
    public var readsPendingNormalization: Bool { weights.isEmpty && forwardPass.mode == .winograd }

    /// Whether `forward(parts:…statistics:)` returns its output's per-channel sums as it writes
    /// them (Winograd passes).
    public var writesStatistics: Bool { weights.isEmpty && forwardPass.mode == .winograd }

    /// Forward pass over the channel concatenation of `parts` (pointer, channels per sample; each
    /// part holds `[N, channels, s…]`) without building it when the pass reads a padded copy of
    /// its input (filled from each part in turn) or reads it in place (Winograd); otherwise the
    /// concatenation is assembled in a temporary buffer. The same bits as `forward` on the
    /// concatenated input — with `pending` (only where `readsPendingNormalization`), on the
    /// concatenated input with `pending` applied.
    /// `statistics` (only where `writesStatistics`): `[N][Cout][2]` doubles, the sum and the sum of
    /// squares of each output channel's values.
    public func forward(
        parts: [(UnsafePointer<Float>, Int)], pending: PendingNormalization? = nil, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, activation: FusedActivation = .none, threads: Int = Runtime.threads,
        statistics: UnsafeMutablePointer<Double>? = nil
    ) {
        precondition(statistics == nil || writesStatistics, "output statistics need a Winograd pass")
        precondition(parts.reduce(0) { $0 + $1.1 } == s.ci, "channel groups must add up to \(s.ci) input channels")
        precondition(pending == nil || (readsPendingNormalization && pending!.scale.count == s.n * s.ci),
                     "a pending normalisation needs a Winograd pass and one coefficient per input channel block")
        if weights.isEmpty && forwardPass.readsParts {
            precondition(forwardPacked.count == forwardPass.packedCount, "ConvPlan.forward before pack(weight:)")
            forwardPacked.withUnsafeBufferPointer { a in
                for n in 0..<s.n {
                    let groups = parts.map { (UnsafePointer($0.0 + n * $0.1 * s.inPlane), $0.1) }
                    forwardPass.run(source: groups[0].0, parts: groups, inputTransform: pending?.item(n, channels: s.ci),
                                    outputStatistics: statistics.map { $0 + n * s.co * 2 },
                                    packed: a.baseAddress!, bias: bias, output: output + n * s.co * s.outPlane,
                                    activation: activation, threads: threads)
                }
            }
            return
        }
        let joined = UnsafeMutablePointer<Float>.allocate(capacity: s.n * s.ci * s.inPlane)
        defer { joined.deallocate() }
        var o = 0
        for n in 0..<s.n {
            for (pointer, count) in parts {
                (joined + o).update(from: pointer + n * count * s.inPlane, count: count * s.inPlane)
                o += count * s.inPlane
            }
        }
        forward(input: joined, bias: bias, output: output, activation: activation, threads: threads)
    }

    /// The padded copy of a forward pass's input, made by `padInput` and consumed by
    /// `forward(padded:)`: in between, the caller may release the input, so the output can reuse
    /// its memory. The scratch returns to the shared pool when this is released.
    public final class PaddedInput {
        let buffer: (UnsafeMutablePointer<Float>, Int)
        let threads: Int
        init(_ buffer: (UnsafeMutablePointer<Float>, Int), threads: Int) {
            self.buffer = buffer
            self.threads = threads
        }
        deinit { ScratchPool.shared.checkin(buffer) }
    }

    /// Makes the padded copy of the input given as channel groups (pointer, channels) for
    /// `forward(padded:)`; nil where this pass reads no padded copy (plain kernels, gathered
    /// passes on the raw input, Winograd and row-kernel passes, which read the parts in place) or
    /// the batch has more than one item — then use `forward(parts:)`.
    public func padInput(parts: [(UnsafePointer<Float>, Int)], threads: Int = Runtime.threads) -> PaddedInput? {
        precondition(parts.reduce(0) { $0 + $1.1 } == s.ci, "channel groups must add up to \(s.ci) input channels")
        guard weights.isEmpty, forwardPass.usesPadded, s.n == 1 else { return nil }
        let T = max(1, threads)
        let buffer = ScratchPool.shared.checkout(forwardPass.scratchCount(threads: T))
        forwardPass.padCopy(parts, into: buffer.0, threads: T)
        return PaddedInput(buffer, threads: T)
    }

    /// Forward pass from a padded copy made by `padInput`; the same bits as `forward(input:)`.
    public func forward(padded: PaddedInput, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, activation: FusedActivation = .none) {
        precondition(forwardPacked.count == forwardPass.packedCount, "ConvPlan.forward before pack(weight:)")
        forwardPacked.withUnsafeBufferPointer { a in
            forwardPass.run(source: UnsafePointer(padded.buffer.0), prefilled: padded.buffer.0, packed: a.baseAddress!, bias: bias,
                            output: output, activation: activation, threads: padded.threads)
        }
    }

    /// Backward-data pass with the packed weights; see `Conv.backwardData`.
    public func backwardData(gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>, threads: Int = Runtime.threads) {
        if !weights.isEmpty {
            weights.withUnsafeBufferPointer { w in
                PlainConv.backwardData(s, gradOutput: gradOutput, weight: w.baseAddress!, gradInput: gradInput, threads: threads)
            }
            return
        }
        precondition(backwardPacked.count == backwardDataPass.packedCount * backwardDataPass.phases.count,
                     "ConvPlan.backwardData before pack(weight:)")
        if backwardDataPass.outStride != nil, (0..<3).contains(where: { s.input[$0] != s.output[$0] * s.stride[$0] }) {
            // Input elements past the last stride block get no gradient; the phases skip them.
            gradInput.update(repeating: 0, count: geometry.inputCount)
        }
        backwardPacked.withUnsafeBufferPointer { a in
            for n in 0..<s.n {
                backwardDataPass.run(source: gradOutput + n * s.co * s.outPlane, packed: a.baseAddress!, bias: nil,
                                     output: gradInput + n * s.ci * s.inPlane, activation: .none, threads: threads)
            }
        }
    }

    /// Backward-weights pass (needs no packed weights); see `Conv.backwardWeights`.
    public func backwardWeights(
        input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
        gradBias: UnsafeMutablePointer<Float>?, threads: Int = Runtime.threads
    ) {
        guard !settings.reference else {
            PlainConv.backwardWeights(s, input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, threads: threads)
            return
        }
        fastBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, threads: threads)
    }
}
