import CMedVoxKernels
import MedVoxCore

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
///   block of 48 tiles, `64·48·(Cin + roundup(Cout, mr))` floats (6 MB at 256 channels each way),
///   and 36 KB of transform staging;
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
    /// The fast passes serving the forward and backward-data passes; nil where the settings ask
    /// for the reference loops or every fast pass declined the shape (then `PlainConv` runs).
    let forwardPass: FastPass?
    let backwardDataPass: FastPass?
    /// Packed weights for the forward and backward-data passes.
    var forwardPacked: [Float] = []
    var backwardPacked: [Float] = []
    /// Weights as given, for the reference loops.
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
    /// "direct", "gather", "gatherRaw", "winograd", "rows", "phases" or "reference" for the
    /// forward and backward-data passes (for benchmarks and tests).
    public var modes: (forward: String, backwardData: String) {
        let b = backwardDataPass.map { $0.outStride == nil ? "\($0.mode)" : "phases" } ?? "reference"
        return (forwardPass.map { "\($0.mode)" } ?? "reference", b)
    }

    /// Packs the weights `[Cout, Cin, k...]` for later calls.
    public func pack(weight: UnsafePointer<Float>) {
        let reference = forwardPass == nil || backwardDataPass == nil
        weights = reference ? Array(UnsafeBufferPointer(start: weight, count: geometry.weightCount)) : []
        if let f = forwardPass { forwardPacked = Self.packForward(f, weight) }
        if let b = backwardDataPass { backwardPacked = packBackwardData(b, weight) }
    }

    /// The forward pass's packed weights.
    static func packForward(_ f: FastPass, _ weight: UnsafePointer<Float>) -> [Float] {
        [Float](unsafeUninitializedCapacity: f.packedCount) { buf, n in
            if f.mode == .winograd {
                mvx_wino_pack_weights(weight, Int32(f.M), Int32(f.C), f.info.mr, f.points == 16 ? 1 : 0, 0, 0, buf.baseAddress!)
            } else {
                mvx_pack_weights(weight, Int32(f.M), Int32(f.C), Int32(f.taps), Int32(f.kcc), f.info.mr, 0, 0, buf.baseAddress!)
            }
            n = f.packedCount
        }
    }

    /// Backward-data's packed weights: transposed, and flipped for passes that correlate; per
    /// phase for a transposed convolution's phases.
    func packBackwardData(_ b: FastPass, _ weight: UnsafePointer<Float>) -> [Float] {
        let phases = b.phases
        return [Float](unsafeUninitializedCapacity: b.packedCount * phases.count) { buf, n in
            if b.mode == .winograd {
                mvx_wino_pack_weights(weight, Int32(b.M), Int32(b.C), b.info.mr, b.points == 16 ? 1 : 0, 1, 1, buf.baseAddress!)
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
    public var forwardScratchCount: Int { forwardPass?.scratchCount(threads: Runtime.threads) ?? 0 }

    /// Reserves shared scratch of `count` floats before a network's first layer (see
    /// `forwardScratchCount`), so the largest buffer is not carved out between activations.
    public static func reserveScratch(_ count: Int) { ScratchPool.shared.reserve(count) }

    /// Forward pass with the packed weights; see `Conv.forward`.
    public func forward(
        input: UnsafePointer<Float>, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
        activation: FusedActivation = .none, threads: Int = Runtime.threads
    ) {
        guard let forwardPass else {
            precondition(weights.count == geometry.weightCount, "ConvPlan.forward before pack(weight:)")
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
    public var readsPendingNormalization: Bool { forwardPass?.mode == .winograd }

    /// Whether `forward(parts:…statistics:)` returns its output's per-channel sums as it writes
    /// them (Winograd passes).
    public var writesStatistics: Bool { forwardPass?.mode == .winograd }

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
        if let forwardPass, forwardPass.readsParts {
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
        guard let forwardPass, forwardPass.usesPadded, s.n == 1 else { return nil }
        let T = max(1, threads)
        let buffer = ScratchPool.shared.checkout(forwardPass.scratchCount(threads: T))
        forwardPass.padCopy(parts, into: buffer.0, threads: T)
        return PaddedInput(buffer, threads: T)
    }

    /// Forward pass from a padded copy made by `padInput`; the same bits as `forward(input:)`.
    public func forward(padded: PaddedInput, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, activation: FusedActivation = .none) {
        guard let forwardPass else { preconditionFailure("a padded input comes from a fast forward pass (padInput)") }
        precondition(forwardPacked.count == forwardPass.packedCount, "ConvPlan.forward before pack(weight:)")
        forwardPacked.withUnsafeBufferPointer { a in
            forwardPass.run(source: UnsafePointer(padded.buffer.0), prefilled: padded.buffer.0, packed: a.baseAddress!, bias: bias,
                            output: output, activation: activation, threads: padded.threads)
        }
    }

    /// Backward-data pass with the packed weights; see `Conv.backwardData`.
    public func backwardData(gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>, threads: Int = Runtime.threads) {
        guard let backwardDataPass else {
            precondition(weights.count == geometry.weightCount, "ConvPlan.backwardData before pack(weight:)")
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
        guard forwardPass != nil else {
            PlainConv.backwardWeights(s, input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, threads: threads)
            return
        }
        if winogradWeights {
            winogradBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, threads: threads)
            if let gradBias { biasGradient(gradOutput, gradBias, threads: threads) }
        } else {
            directBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias, threads: threads)
        }
    }
}

/// Which pass serves each direction: the fast passes in order of preference, each declining the
/// shapes it does not serve (nil), the gathered tiles taking the rest; the reference loops when
/// the settings ask for them or the kernels cannot address the shape.
extension ConvPlan {
    /// One-row kernels for passes with very few output channels, where mr-row blocks would
    /// mostly compute zeros.
    static func kernelInfo(_ info: mvx_isa_info, outputChannels M: Int) -> mvx_isa_info {
        M * 4 <= Int(info.mr) ? mvx_isa_info_narrow(info.isa) : info
    }

    /// Whether the C kernels can address this convolution: their K extents (channels × taps) are
    /// 32-bit (the grid sizes always are, `ConvGeometry.validate`).
    static func kernelsAddress(_ s: Conv3DShape) -> Bool {
        s.ci * s.taps <= Int(Int32.max) && s.co * s.taps <= Int(Int32.max)
    }

    /// The forward pass: Winograd, the row kernel, direct tiles, then gathered tiles.
    static func forwardPass(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass? {
        guard !settings.reference, kernelsAddress(s) else { return nil }
        let info = kernelInfo(info, outputChannels: s.co)
        return FastPass.winogradForward(s, info: info, settings: settings)
            ?? FastPass.rowsForward(s, info: info, settings: settings)
            ?? tiledForwardPass(s, info: info, settings: settings)
    }

    /// The forward pass as direct or gathered tiles (whose source geometry backward-weights
    /// reads); `info` already narrowed by `kernelInfo`.
    static func tiledForwardPass(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass {
        FastPass.directForward(s, info: info, settings: settings) ?? FastPass.gatheredForward(s, info: info, settings: settings)
    }

    /// Backward-data as a forward-type pass over the output gradient: a transposed convolution's
    /// phases, Winograd, the row kernel, direct tiles, then gathered tiles.
    static func backwardDataPass(_ s: Conv3DShape, info: mvx_isa_info, settings: KernelSettings) -> FastPass? {
        guard !settings.reference, kernelsAddress(s) else { return nil }
        let info = kernelInfo(info, outputChannels: s.ci)
        return FastPass.transposedPhases(s, info: info, settings: settings)
            ?? FastPass.winogradBackwardData(s, info: info, settings: settings)
            ?? FastPass.rowsBackwardData(s, info: info, settings: settings)
            ?? FastPass.directBackwardData(s, info: info, settings: settings)
            ?? FastPass.gatheredBackwardData(s, info: info, settings: settings)
    }
}
