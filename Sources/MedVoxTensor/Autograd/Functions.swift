import MedVoxCore

// Differentiable operations on `Variable`s: each calls the tensor forward and records the
// matching tensor backward. Convolutions are in Autograd/ConvFunctions.swift.

public func + (a: Variable, b: Variable) -> Variable {
    Variable.result(a.value + b.value, inputs: [a, b]) { g in [g, g] }
}

public func - (a: Variable, b: Variable) -> Variable {
    Variable.result(a.value - b.value, inputs: [a, b]) { g in [g, g * Float(-1)] }
}

public func * (a: Variable, b: Variable) -> Variable {
    let av = a.value, bv = b.value
    return Variable.result(av * bv, inputs: [a, b]) { g in [g * bv, g * av] }
}

public func * (a: Variable, s: Float) -> Variable {
    Variable.result(a.value * s, inputs: [a]) { g in [g * s] }
}

/// Sum of all elements, as a one-element tensor of shape [1].
public func sum(_ x: Variable) -> Variable {
    let shape = x.shape
    return Variable.result(Tensor(shape: [1], storage: [Float(x.value.sum())]), inputs: [x]) { g in
        [Tensor(shape: shape, repeating: g.storage[0])]
    }
}

/// Mean of all elements, as a one-element tensor of shape [1].
public func mean(_ x: Variable) -> Variable { sum(x) * (1 / Float(x.value.count)) }

public func relu(_ x: Variable) -> Variable {
    let xv = x.value
    return Variable.result(relu(xv), inputs: [x]) { g in [reluBackward(g, input: xv)] }
}

public func leakyReLU(_ x: Variable, slope: Float = 0.01) -> Variable {
    let xv = x.value
    return Variable.result(leakyReLU(xv, slope: slope), inputs: [x]) { g in [leakyReLUBackward(g, input: xv, slope: slope)] }
}

public func elu(_ x: Variable, alpha: Float = 1) -> Variable {
    let xv = x.value
    return Variable.result(elu(xv, alpha: alpha), inputs: [x]) { g in [eluBackward(g, input: xv, alpha: alpha)] }
}

public func prelu(_ x: Variable, slopes: Variable) -> Variable {
    let xv = x.value, av = slopes.value
    return Variable.result(prelu(xv, slopes: av), inputs: [x, slopes]) { g in
        let (gx, ga) = preluBackward(g, input: xv, slopes: av)
        return [gx, ga]
    }
}

public func sigmoid(_ x: Variable) -> Variable {
    let y = sigmoid(x.value)
    return Variable.result(y, inputs: [x]) { g in [sigmoidBackward(g, output: y)] }
}

public func tanh(_ x: Variable) -> Variable {
    let y = tanh(x.value)
    return Variable.result(y, inputs: [x]) { g in [tanhBackward(g, output: y)] }
}

/// Softmax over channels (axis 1).
public func softmax(_ x: Variable) -> Variable {
    let y = softmax(x.value)
    return Variable.result(y, inputs: [x]) { g in [softmaxBackward(g, output: y)] }
}

/// Log-softmax over channels (axis 1).
public func logSoftmax(_ x: Variable) -> Variable {
    let y = logSoftmax(x.value)
    return Variable.result(y, inputs: [x]) { g in [logSoftmaxBackward(g, output: y)] }
}

public func maxPool(_ x: Variable, _ geometry: PoolGeometry) -> Variable {
    let (y, arg) = maxPool(x.value, geometry)
    return Variable.result(y, inputs: [x]) { g in [maxPoolBackward(g, argmax: arg, geometry)] }
}

public func avgPool(_ x: Variable, _ geometry: PoolGeometry) -> Variable {
    Variable.result(avgPool(x.value, geometry), inputs: [x]) { g in [avgPoolBackward(g, geometry)] }
}

/// `[N, C, …]` → `[N, C]`.
public func globalAvgPool(_ x: Variable) -> Variable {
    let shape = x.shape
    return Variable.result(globalAvgPool(x.value), inputs: [x]) { g in [globalAvgPoolBackward(g, inputShape: shape)] }
}

/// Normalisation with statistics from the input (training-mode batch norm, group norm, instance
/// norm); `gamma`/`beta` are `[C]` or nil. Returns the output and the statistics (batch norm
/// updates its running averages from them).
public func normalize(_ x: Variable, _ grouping: NormGrouping, gamma: Variable?, beta: Variable?, eps: Float = 1e-5)
    -> (Variable, NormStats)
{
    let xv = x.value, gv = gamma?.value
    let (y, stats) = normalize(xv, grouping, gamma: gv, beta: beta?.value, eps: eps)
    var inputs = [x]
    if let gamma { inputs.append(gamma) }
    if let beta { inputs.append(beta) }
    let hasGamma = gamma != nil, hasBeta = beta != nil
    let out = Variable.result(y, inputs: inputs) { g in
        let (gx, gg, gb) = normalizeBackward(g, input: xv, grouping, stats: stats, gamma: gv)
        var r: [Tensor?] = [gx]
        if hasGamma { r.append(gg) }
        if hasBeta { r.append(gb) }
        return r
    }
    return (out, stats)
}

public func upsample(_ x: Variable, scale: [Int], mode: UpsampleMode) -> Variable {
    let shape = x.shape
    return Variable.result(upsample(x.value, scale: scale, mode: mode), inputs: [x]) { g in
        [upsampleBackward(g, inputShape: shape, scale: scale, mode: mode)]
    }
}

/// Concatenation along channels.
public func concatChannels(_ xs: [Variable]) -> Variable {
    let cs = xs.map { $0.shape[1] }
    return Variable.result(concatChannels(xs.map(\.value)), inputs: xs) { g in splitChannels(g, channels: cs) }
}

/// Inverted dropout: in training, zeroes each element with probability `p` (mask drawn from
/// `rng`) and scales the rest by 1/(1 − p); identity otherwise.
public func dropout(_ x: Variable, p: Double, training: Bool, rng: inout SeededGenerator) -> Variable {
    guard training, p > 0 else { return x }
    let mask = dropoutMask(shape: x.shape, p: p, rng: &rng)
    return Variable.result(x.value * mask, inputs: [x]) { g in [g * mask] }
}

/// y = x·Wᵀ + b.
public func linear(_ x: Variable, weight: Variable, bias: Variable?) -> Variable {
    let xv = x.value, wv = weight.value
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    let hasBias = bias != nil
    return Variable.result(linear(xv, weight: wv, bias: bias?.value), inputs: inputs) { g in
        let (gx, gw, gb) = linearBackward(g, input: xv, weight: wv)
        return hasBias ? [gx, gw, gb] : [gx, gw]
    }
}

/// The same elements under a new shape.
public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
    let old = x.shape
    return Variable.result(x.value.reshaped(shape), inputs: [x]) { g in [g.reshaped(old)] }
}

/// `[N, …]` → `[N, rest]`.
public func flatten(_ x: Variable) -> Variable { reshape(x, [x.shape[0], x.shape.dropFirst().reduce(1, *)]) }
