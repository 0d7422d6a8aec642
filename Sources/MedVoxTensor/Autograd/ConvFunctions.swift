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
