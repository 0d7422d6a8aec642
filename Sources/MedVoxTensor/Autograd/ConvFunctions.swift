/// Convolution of `x` with the weights packed in `plan` (which must hold `weight.value`), plus
/// an optional bias `[Cout]`. The backward pass runs the plan's backward-data and
/// backward-weights kernels.
public func conv(_ x: Variable, weight: Variable, bias: Variable?, plan: ConvPlan, activation: FusedActivation = .none) -> Variable {
    let g = plan.geometry
    precondition(x.shape == [g.batch, g.inChannels] + g.inputSize, "conv input \(x.shape) does not match \(g)")
    precondition(activation == .none || !(GradientRecording.isEnabled && (x.requiresGrad || weight.requiresGrad)),
                 "a fused activation has no backward pass; apply it as its own operation when training")
    let xv = x.value
    var y = Tensor(overwrittenShape: [g.batch, g.outChannels] + g.outputSize)  // forward overwrites the output
    xv.storage.withUnsafeBufferPointer { xp in
        y.storage.withUnsafeMutableBufferPointer { yp in
            withOptionalPointer(bias?.value) { bp in
                plan.forward(input: xp.baseAddress!, bias: bp, output: yp.baseAddress!, activation: activation)
            }
        }
    }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    let hasBias = bias != nil
    return Variable.result(y, inputs: inputs) { gy in
        var gx = Tensor(shape: xv.shape), gw = Tensor(shape: weight.shape), gb = Tensor(shape: [g.outChannels])
        gy.storage.withUnsafeBufferPointer { gp in
            if x.requiresGrad {
                gx.storage.withUnsafeMutableBufferPointer { plan.backwardData(gradOutput: gp.baseAddress!, gradInput: $0.baseAddress!) }
            }
            xv.storage.withUnsafeBufferPointer { xp in
                gw.storage.withUnsafeMutableBufferPointer { wp in
                    gb.storage.withUnsafeMutableBufferPointer { bp in
                        plan.backwardWeights(input: xp.baseAddress!, gradOutput: gp.baseAddress!, gradWeight: wp.baseAddress!,
                                             gradBias: bp.baseAddress!)
                    }
                }
            }
        }
        return hasBias ? [gx, gw, gb] : [gx, gw]
    }
}

/// Transposed convolution (the adjoint of a convolution; "deconvolution" in U-Nets) of `x`
/// `[N, Cin, in…]` with weights `[Cin, Cout, k…]` (PyTorch's ConvTranspose layout) and an
/// optional bias `[Cout]`.
///
/// `plan` describes the *forward* convolution this one is the adjoint of: input `[N, Cout, out…]`,
/// output `[N, Cin, in…]`, with `weight.value` packed. So the forward pass is that convolution's
/// backward-data, the input gradient is its forward, and the weight gradient its backward-weights
/// with the roles of input and output swapped.
public func convTranspose(_ x: Variable, weight: Variable, bias: Variable?, plan: ConvPlan) -> Variable {
    let g = plan.geometry
    precondition(x.shape == [g.batch, g.outChannels] + g.outputSize, "transposed-conv input \(x.shape) does not match \(g)")
    let xv = x.value
    var y = Tensor(shape: [g.batch, g.inChannels] + g.inputSize)
    xv.storage.withUnsafeBufferPointer { xp in
        y.storage.withUnsafeMutableBufferPointer { plan.backwardData(gradOutput: xp.baseAddress!, gradInput: $0.baseAddress!) }
    }
    if let b = bias?.value { addChannelBias(&y, b) }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    let hasBias = bias != nil
    return Variable.result(y, inputs: inputs) { gy in
        var gx = Tensor(shape: xv.shape), gw = Tensor(shape: weight.shape)
        gy.storage.withUnsafeBufferPointer { gp in
            if x.requiresGrad {
                gx.storage.withUnsafeMutableBufferPointer { plan.forward(input: gp.baseAddress!, bias: nil, output: $0.baseAddress!) }
            }
            xv.storage.withUnsafeBufferPointer { xp in
                gw.storage.withUnsafeMutableBufferPointer { wp in
                    plan.backwardWeights(input: gp.baseAddress!, gradOutput: xp.baseAddress!, gradWeight: wp.baseAddress!, gradBias: nil)
                }
            }
        }
        return hasBias ? [gx, gw, channelSums(gy)] : [gx, gw]
    }
}

/// Adds `bias[c]` to every element of channel c of `[N, C, …]`.
public func addChannelBias(_ y: inout Tensor, _ bias: Tensor) {
    let (n, c, inner) = channelBlocks(y.shape)
    precondition(bias.count == c, "bias has \(bias.count) values for \(c) channels")
    y.storage.withUnsafeMutableBufferPointer { yp in
        for b in 0..<(n * c) {
            let v = bias.storage[b % c]
            for i in (b * inner)..<((b + 1) * inner) { yp[i] += v }
        }
    }
}

/// Per-channel sums of `[N, C, …]` over batch and space: `[C]`.
public func channelSums(_ x: Tensor) -> Tensor {
    let (n, c, inner) = channelBlocks(x.shape)
    var s = [Double](repeating: 0, count: c)
    for b in 0..<(n * c) { for i in (b * inner)..<((b + 1) * inner) { s[b % c] += Double(x.storage[i]) } }
    return Tensor(shape: [c], storage: s.map { Float($0) })
}

@inline(__always) func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.storage.withUnsafeBufferPointer { body($0.baseAddress!) }
}

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
