// Inference-only convolutions (no graph) over a channel concatenation given as parts, as a
// U-Net decoder feeds its skip and up-sampled maps: without building the concatenation, with a
// pending normalisation applied as the kernel reads, releasing the parts early, and returning
// the output's per-channel sums where the pass computes them.

/// Inference (no graph) like `convConcatenated`, releasing the parts (`parts` becomes nil) as soon
/// as the kernel's padded copy holds them, before the output is allocated, so the output can
/// reuse their memory (passes without a padded copy release them after). Same bits as
/// `convConcatenated`. `pending`: a normalisation the parts have not had yet (see
/// `convConcatenated`).
public func convConsuming(_ parts: inout [Tensor]?, pending: PendingNormalization? = nil, bias: Tensor?, plan: ConvPlan,
                          activation: FusedActivation = .none) -> Tensor {
    let g = plan.geometry
    let ps = parts!
    checkParts(ps, g)
    var padded: ConvPlan.PaddedInput?
    if pending == nil { withParts(ps[...], []) { padded = plan.padInput(parts: $0) } }
    guard let padded else {
        let y = convConcatenated(ps, pending: pending, bias: bias, plan: plan, activation: activation)
        parts = nil
        return y
    }
    parts = nil
    _ = consume ps
    var y = Tensor(overwrittenShape: [g.batch, g.outChannels] + g.outputSize)  // forward overwrites the output
    y.storage.withUnsafeMutableBufferPointer { yp in
        withOptionalPointer(bias) { bp in plan.forward(padded: padded, bias: bp, output: yp.baseAddress!, activation: activation) }
    }
    return y
}

/// `convConsuming` that also returns each output channel's sum and sum of squares (`[N][Cout][2]`,
/// in double) where the pass computes them as it writes (`plan.writesStatistics`), saving a
/// normalisation's read of the output; nil statistics otherwise.
public func convConsumingWithStatistics(_ parts: inout [Tensor]?, pending: PendingNormalization? = nil, bias: Tensor?, plan: ConvPlan,
                                        activation: FusedActivation = .none) -> (Tensor, [Double]?) {
    guard plan.writesStatistics else { return (convConsuming(&parts, pending: pending, bias: bias, plan: plan, activation: activation), nil) }
    var stats = [Double](repeating: 0, count: plan.geometry.batch * plan.geometry.outChannels * 2)
    let y = stats.withUnsafeMutableBufferPointer { sp in
        concatenated(parts!, pending: pending, bias: bias, plan: plan, activation: activation, statistics: sp.baseAddress!)
    }
    parts = nil
    return (y, stats)
}

/// Parts of a convolution's input: same batch and spatial size, channels adding up.
private func checkParts(_ parts: [Tensor], _ g: ConvGeometry) {
    precondition(!parts.isEmpty && parts.allSatisfy { $0.shape[0] == g.batch && Array($0.shape.dropFirst(2)) == g.inputSize }
                 && parts.reduce(0) { $0 + $1.shape[1] } == g.inChannels, "conv parts \(parts.map(\.shape)) do not match \(g)")
}

/// Calls `body` with (pointer, channels) of each tensor in `rest`, in order.
private func withParts(_ rest: ArraySlice<Tensor>, _ got: [(UnsafePointer<Float>, Int)], _ body: ([(UnsafePointer<Float>, Int)]) -> Void) {
    guard let first = rest.first else { return body(got) }
    first.storage.withUnsafeBufferPointer { withParts(rest.dropFirst(), got + [($0.baseAddress!, first.shape[1])], body) }
}

/// Inference (no graph): the convolution of the channel concatenation of `parts` (each
/// `[N, c_k, s…]`), without building the concatenation where the kernel reads a padded copy of its
/// input or reads the parts in place — a U-Net decoder's skip and up-sampled maps go straight in.
/// `pending` (only where `plan.readsPendingNormalization`): a normalisation of the concatenation
/// not yet applied, which the kernel applies as it reads — the same bits as applying it first.
public func convConcatenated(_ parts: [Tensor], pending: PendingNormalization? = nil, bias: Tensor?, plan: ConvPlan,
                             activation: FusedActivation = .none) -> Tensor {
    concatenated(parts, pending: pending, bias: bias, plan: plan, activation: activation, statistics: nil)
}

/// `convConcatenated`, also writing the output's per-channel sums when `statistics` is given.
private func concatenated(_ parts: [Tensor], pending: PendingNormalization?, bias: Tensor?, plan: ConvPlan,
                          activation: FusedActivation, statistics: UnsafeMutablePointer<Double>?) -> Tensor {
    let g = plan.geometry
    checkParts(parts, g)
    var y = Tensor(overwrittenShape: [g.batch, g.outChannels] + g.outputSize)  // forward overwrites the output
    withParts(parts[...], []) { groups in
        y.storage.withUnsafeMutableBufferPointer { yp in
            withOptionalPointer(bias) { bp in
                plan.forward(parts: groups, pending: pending, bias: bp, output: yp.baseAddress!, activation: activation,
                             statistics: statistics)
            }
        }
    }
    return y
}
