import Foundation
import MedVoxCore

// Activation functions as free functions on tensors, each with its backward pass
// (`…Backward(gradOutput, …)` returns the gradient with respect to the input).

/// max(x, 0).
public func relu(_ x: Tensor) -> Tensor { x.map { $0 > 0 ? $0 : 0 } }
public func reluBackward(_ gy: Tensor, input x: Tensor) -> Tensor { gy.zipMap(x) { g, v in v > 0 ? g : 0 } }

/// x for x > 0, `slope`·x otherwise.
public func leakyReLU(_ x: Tensor, slope: Float = 0.01) -> Tensor { x.map { $0 > 0 ? $0 : slope * $0 } }
public func leakyReLUBackward(_ gy: Tensor, input x: Tensor, slope: Float = 0.01) -> Tensor {
    gy.zipMap(x) { g, v in v > 0 ? g : slope * g }
}

/// Exponential linear unit: x for x > 0, α(eˣ − 1) otherwise (Clevert et al. 2016).
public func elu(_ x: Tensor, alpha: Float = 1) -> Tensor { x.map { $0 > 0 ? $0 : alpha * (Foundation.exp($0) - 1) } }
public func eluBackward(_ gy: Tensor, input x: Tensor, alpha: Float = 1) -> Tensor {
    gy.zipMap(x) { g, v in v > 0 ? g : g * alpha * Foundation.exp(v) }
}

/// 1 / (1 + e⁻ˣ), computed without overflow for large |x|.
public func sigmoid(_ x: Tensor) -> Tensor { x.map(sigmoid) }
@inlinable public func sigmoid(_ v: Float) -> Float {
    v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v))
}
/// Takes the forward *output* y: dy/dx = y(1 − y).
public func sigmoidBackward(_ gy: Tensor, output y: Tensor) -> Tensor { gy.zipMap(y) { g, s in g * s * (1 - s) } }

public func tanh(_ x: Tensor) -> Tensor { x.map { Foundation.tanh($0) } }
/// Takes the forward *output* y: dy/dx = 1 − y².
public func tanhBackward(_ gy: Tensor, output y: Tensor) -> Tensor { gy.zipMap(y) { g, t in g * (1 - t * t) } }

/// Parametric ReLU (He et al. 2015): x for x > 0, aᶜ·x otherwise, with one slope per channel
/// (`slopes.count == C`) or one shared slope (`slopes.count == 1`). `x` is `[N, C, …]`.
public func prelu(_ x: Tensor, slopes: Tensor) -> Tensor {
    let (n, c, inner) = channelBlocks(x.shape)
    precondition(slopes.count == 1 || slopes.count == c, "PReLU has \(slopes.count) slopes for \(c) channels")
    var y = x
    for b in 0..<(n * c) {
        let a = slopes.storage[slopes.count == 1 ? 0 : b % c]
        for i in (b * inner)..<((b + 1) * inner) where y.storage[i] < 0 { y.storage[i] *= a }
    }
    return y
}

/// Returns (gradient for x, gradient for the slopes).
public func preluBackward(_ gy: Tensor, input x: Tensor, slopes: Tensor) -> (Tensor, Tensor) {
    let (n, c, inner) = channelBlocks(x.shape)
    var gx = gy
    var ga = slopes.zerosLike()
    for b in 0..<(n * c) {
        let k = slopes.count == 1 ? 0 : b % c
        let a = slopes.storage[k]
        var acc = 0.0
        for i in (b * inner)..<((b + 1) * inner) where x.storage[i] <= 0 {
            acc += Double(gy.storage[i] * x.storage[i])
            gx.storage[i] = gy.storage[i] * a
        }
        ga.storage[k] += Float(acc)
    }
    return (gx, ga)
}

/// (N, C, elements per channel block) of a tensor `[N, C, …]` (rank 2 gives inner = 1).
@inlinable func channelBlocks(_ shape: [Int]) -> (Int, Int, Int) {
    precondition(shape.count >= 2, "expected [N, C, …], got \(shape)")
    return (shape[0], shape[1], shape.dropFirst(2).reduce(1, *))
}
