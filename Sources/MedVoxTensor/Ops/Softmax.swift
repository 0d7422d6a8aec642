import CMedVoxKernels
import Foundation
import MedVoxCore

// Softmax and log-softmax over the channel axis (axis 1 of `[N, C, …]`), with their backward
// passes. `softmax` is MedVox's one softmax: the networks' outputs, the sliding window's
// probability maps, the classifier's calibrated probabilities and the fit of its temperature all
// go through `softmaxChannels`, the Swift entry point of the `mvx_softmax` kernel.

/// Softmax over the channel axis (axis 1) of `[N, C, …]`, of the logits divided by `temperature`
/// (temperature scaling, Guo et al. 2017; 1 leaves them as they are), per batch item and position.
///
/// ```swift
/// let p = softmax(Tensor(shape: [1, 3], storage: [2, 1, 0]))   // ≈ [0.665, 0.245, 0.090]
/// ```
public func softmax(_ x: Tensor, temperature: Float = 1) -> Tensor {
    let (n, c, inner) = channelBlocks(x.shape)
    var y = x
    y.storage.withUnsafeMutableBufferPointer { yp in
        let yb = yp.baseAddress!
        for b in 0..<n {
            let base = b * c * inner
            forEachChunk(inner) { r in softmaxChannels(yb + base, channels: c, stride: inner, positions: r, temperature: temperature) }
        }
    }
    return y
}

/// Softmax in place over `channels` rows of floats `stride` apart, at the positions `positions`
/// of the rows: `p[k·stride + s] ← exp(p[k·stride + s]/T − m) / Σⱼ exp(p[j·stride + s]/T − m)`,
/// m the channels' maximum, T = `temperature` (> 0).
///
/// 16 positions at a time with a vectorised exponential (`mvx_softmax`: within 2 ulp of exp, the
/// same bits on every instruction set and thread count, whatever `positions` splits the work).
public func softmaxChannels(
    _ p: UnsafeMutablePointer<Float>, channels: Int, stride: Int, positions: Range<Int>, temperature: Float = 1
) {
    if temperature != 1 {
        for k in 0..<channels {
            for s in positions { p[k * stride + s] /= temperature }
        }
    }
    mvx_softmax(KernelSettings.current.isa.rawValue, p, p, channels, stride, positions.lowerBound, positions.upperBound)
}

/// log(softmax(x)) over the channel axis, computed stably as x − max − log Σ exp(x − max).
public func logSoftmax(_ x: Tensor) -> Tensor {
    let (n, c, inner) = channelBlocks(x.shape)
    var y = x
    y.storage.withUnsafeMutableBufferPointer { yp in
        x.storage.withUnsafeBufferPointer { xp in
            let yb = yp.baseAddress!, xb = xp.baseAddress!
            for b in 0..<n {
                let base = b * c * inner
                forEachChunk(inner) { r in
                    for s in r {
                        var m = -Float.infinity
                        for k in 0..<c { m = max(m, xb[base + k * inner + s]) }
                        var z: Float = 0
                        for k in 0..<c { z += Foundation.exp(xb[base + k * inner + s] - m) }
                        let lz = m + Foundation.log(z)
                        for k in 0..<c { yb[base + k * inner + s] = xb[base + k * inner + s] - lz }
                    }
                }
            }
        }
    }
    return y
}

/// Takes the forward output y = softmax(x): dx = y ⊙ (dy − Σ_c dy·y).
public func softmaxBackward(_ gy: Tensor, output y: Tensor) -> Tensor {
    var gx = gy
    forEachChannelColumn(y.shape) { base, stride, c in
        var dot: Float = 0
        for k in 0..<c { dot += gy.storage[base + k * stride] * y.storage[base + k * stride] }
        for k in 0..<c {
            let i = base + k * stride
            gx.storage[i] = y.storage[i] * (gy.storage[i] - dot)
        }
    }
    return gx
}

/// Takes the forward output y = logSoftmax(x): dx = dy − exp(y) Σ_c dy.
public func logSoftmaxBackward(_ gy: Tensor, output y: Tensor) -> Tensor {
    var gx = gy
    forEachChannelColumn(y.shape) { base, stride, c in
        var total: Float = 0
        for k in 0..<c { total += gy.storage[base + k * stride] }
        for k in 0..<c {
            let i = base + k * stride
            gx.storage[i] = gy.storage[i] - Foundation.exp(y.storage[i]) * total
        }
    }
    return gx
}

/// Calls `body(base, stride, channels)` for every batch item and position of a tensor
/// `[N, C, …]`, in order: the position's C values are at `base + k·stride`, k in 0..<C.
func forEachChannelColumn(_ shape: [Int], _ body: (_ base: Int, _ stride: Int, _ channels: Int) -> Void) {
    let (n, c, inner) = channelBlocks(shape)
    for b in 0..<n {
        for s in 0..<inner { body(b * c * inner + s, inner, c) }
    }
}
