import CMedVoxKernels
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

// MARK: Softmax over channels

/// Softmax over the channel axis (axis 1) of `[N, C, …]`, per batch item and position: 16
/// positions at a time with a vectorised exponential (`mvx_softmax`; within 2 ulp of exp, the same
/// bits on every instruction set and thread count).
public func softmax(_ x: Tensor) -> Tensor { softmaxCore(x, log: false) }

/// log(softmax(x)) over the channel axis, computed stably as x − max − log Σ exp(x − max).
public func logSoftmax(_ x: Tensor) -> Tensor { softmaxCore(x, log: true) }

func softmaxCore(_ x: Tensor, log: Bool) -> Tensor {
    let (n, c, inner) = channelBlocks(x.shape)
    var y = x
    y.storage.withUnsafeMutableBufferPointer { yp in
        x.storage.withUnsafeBufferPointer { xp in
            let yb = yp.baseAddress!, xb = xp.baseAddress!
            for b in 0..<n {
                let base = b * c * inner
                forEachChunk(inner) { r in
                    if !log {
                        mvx_softmax(KernelSettings.current.isa.rawValue, xb + base, yb + base, c, inner, r.lowerBound, r.upperBound)
                        return
                    }
                    for s in r {
                        var m = -Float.infinity
                        for k in 0..<c { m = max(m, xb[base + k * inner + s]) }
                        var z: Float = 0
                        for k in 0..<c { z += Foundation.exp(xb[base + k * inner + s] - m) }
                        if log {
                            let lz = m + Foundation.log(z)
                            for k in 0..<c { yb[base + k * inner + s] = xb[base + k * inner + s] - lz }
                        } else {
                            let inv = 1 / z
                            for k in 0..<c { yb[base + k * inner + s] = Foundation.exp(xb[base + k * inner + s] - m) * inv }
                        }
                    }
                }
            }
        }
    }
    return y
}

/// Takes the forward output y = softmax(x): dx = y ⊙ (dy − Σ_c dy·y).
public func softmaxBackward(_ gy: Tensor, output y: Tensor) -> Tensor {
    let (n, c, inner) = channelBlocks(y.shape)
    var gx = gy
    for b in 0..<n {
        let base = b * c * inner
        for s in 0..<inner {
            var dot: Float = 0
            for k in 0..<c { dot += gy.storage[base + k * inner + s] * y.storage[base + k * inner + s] }
            for k in 0..<c {
                let i = base + k * inner + s
                gx.storage[i] = y.storage[i] * (gy.storage[i] - dot)
            }
        }
    }
    return gx
}

/// Takes the forward output y = logSoftmax(x): dx = dy − exp(y) Σ_c dy.
public func logSoftmaxBackward(_ gy: Tensor, output y: Tensor) -> Tensor {
    let (n, c, inner) = channelBlocks(y.shape)
    var gx = gy
    for b in 0..<n {
        let base = b * c * inner
        for s in 0..<inner {
            var total: Float = 0
            for k in 0..<c { total += gy.storage[base + k * inner + s] }
            for k in 0..<c {
                let i = base + k * inner + s
                gx.storage[i] = gy.storage[i] - Foundation.exp(y.storage[i]) * total
            }
        }
    }
    return gx
}
