import CMedVoxKernels
import MedVoxCore

/// Up-sampling interpolation.
public enum UpsampleMode: Sendable, Equatable {
    /// Each output takes the input element at floor(o / scale) (PyTorch `nearest`).
    case nearest
    /// Linear along each axis, so bilinear in 2D and trilinear in 3D, sampling at pixel centres
    /// (PyTorch `align_corners=False`).
    case linear
}

/// Up-samples the spatial axes of `[N, C, …]` by integer factors `scale` (one per spatial axis).
/// Separable: one 1-D pass per axis, so the same code serves 1, 2 and 3 spatial axes.
public func upsample(_ x: Tensor, scale: [Int], mode: UpsampleMode) -> Tensor {
    var y = x
    for a in 0..<scale.count where scale[a] != 1 {
        y = resampleAxis(y, axis: 2 + a, taps: axisTaps(inSize: y.shape[2 + a], scale: scale[a], mode: mode), transpose: false)
    }
    return y
}

/// The transpose of `upsample`: accumulates output gradients back onto the input grid.
public func upsampleBackward(_ gy: Tensor, inputShape: [Int], scale: [Int], mode: UpsampleMode) -> Tensor {
    var g = gy
    for a in (0..<scale.count).reversed() where scale[a] != 1 {
        g = resampleAxis(g, axis: 2 + a, taps: axisTaps(inSize: inputShape[2 + a], scale: scale[a], mode: mode), transpose: true)
    }
    precondition(g.shape == inputShape, "gradient shape \(g.shape) does not match the input \(inputShape)")
    return g
}

/// For each output index along one axis: two input indices and their weights.
struct AxisTaps {
    var inSize: Int, outSize: Int
    var i0: [Int], i1: [Int], w0: [Float], w1: [Float]
}

func axisTaps(inSize: Int, scale: Int, mode: UpsampleMode) -> AxisTaps {
    let out = inSize * scale
    var t = AxisTaps(inSize: inSize, outSize: out, i0: [], i1: [], w0: [], w1: [])
    for o in 0..<out {
        switch mode {
        case .nearest:
            t.i0.append(o / scale); t.i1.append(o / scale); t.w0.append(1); t.w1.append(0)
        case .linear:
            let src = max(0, (Float(o) + 0.5) / Float(scale) - 0.5)
            let lo = min(Int(src), inSize - 1)
            let hi = min(lo + 1, inSize - 1)
            let f = src - Float(lo)
            t.i0.append(lo); t.i1.append(hi); t.w0.append(1 - f); t.w1.append(f)
        }
    }
    return t
}

/// Applies (or, with `transpose`, the transpose of) a 1-D two-tap resampling along `axis`.
func resampleAxis(_ x: Tensor, axis: Int, taps t: AxisTaps, transpose: Bool) -> Tensor {
    let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
    let (lIn, lOut) = transpose ? (t.outSize, t.inSize) : (t.inSize, t.outSize)
    precondition(x.shape[axis] == lIn, "axis \(axis) of \(x.shape) is not \(lIn)")
    var shape = x.shape
    shape[axis] = lOut
    var y = Tensor(shape: shape)
    y.storage.withUnsafeMutableBufferPointer { yp in
        x.storage.withUnsafeBufferPointer { xp in
            let yb = yp.baseAddress!, xb = xp.baseAddress!
            parallelFor(outer) { p in
                let xi = xb + p * lIn * inner, yo = yb + p * lOut * inner
                for o in 0..<t.outSize {
                    let a = t.i0[o], b = t.i1[o], wa = t.w0[o], wb = t.w1[o]
                    if transpose {
                        for s in 0..<inner {
                            let g = xi[o * inner + s]
                            yo[a * inner + s] += wa * g
                            yo[b * inner + s] += wb * g
                        }
                    } else {
                        for s in 0..<inner { yo[o * inner + s] = wa * xi[a * inner + s] + wb * xi[b * inner + s] }
                    }
                }
            }
        }
    }
    return y
}

// MARK: Shape operations

/// Concatenates tensors along the channel axis (axis 1); other axes must agree.
public func concatChannels(_ xs: [Tensor]) -> Tensor {
    precondition(!xs.isEmpty, "nothing to concatenate")
    let n = xs[0].shape[0]
    let inner = xs[0].shape.dropFirst(2).reduce(1, *)
    for x in xs {
        precondition(x.shape[0] == n && Array(x.shape.dropFirst(2)) == Array(xs[0].shape.dropFirst(2)),
                     "cannot concatenate \(x.shape) with \(xs[0].shape) along channels")
    }
    let cs = xs.map { $0.shape[1] }
    var shape = xs[0].shape
    shape[1] = cs.reduce(0, +)
    // Blocks (one per sample and input) cut into pieces of at most 1 Mi floats, copied in
    // parallel: a decoder's concatenation is hundreds of MB of freshly touched pages, and page
    // faults on one thread were a fifth of a large window's U-Net pass.
    let total = shape.reduce(1, *), piece = 1 << 20
    var copies = [(src: Int, input: Int, dst: Int, count: Int)]()
    var dst = 0
    for b in 0..<n {
        for (k, c) in cs.enumerated() {
            var o = 0
            while o < c * inner {
                let count = min(piece, c * inner - o)
                copies.append((b * c * inner + o, k, dst + o, count))
                o += count
            }
            dst += c * inner
        }
    }
    let storage = [Float](unsafeUninitializedCapacity: total) { out, initialised in
        adviseHugePages(out.baseAddress!, count: total)
        let sources = xs.map(\.storage)
        parallelFor(copies.count) { i in
            let cp = copies[i]
            sources[cp.input].withUnsafeBufferPointer { src in
                (out.baseAddress! + cp.dst).initialize(from: src.baseAddress! + cp.src, count: cp.count)
            }
        }
        initialised = total
    }
    return Tensor(shape: shape, storage: storage)
}

/// Splits a tensor along the channel axis into parts with `channels` channels each (the backward
/// of `concatChannels`).
public func splitChannels(_ x: Tensor, channels: [Int]) -> [Tensor] {
    let n = x.shape[0], c = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
    precondition(channels.reduce(0, +) == c, "channel split \(channels) does not sum to \(c)")
    var parts: [Tensor] = []
    var start = 0
    for k in channels {
        var shape = x.shape
        shape[1] = k
        var storage = [Float]()
        storage.reserveCapacity(n * k * inner)
        for b in 0..<n { storage.append(contentsOf: x.storage[((b * c + start) * inner)..<((b * c + start + k) * inner)]) }
        parts.append(Tensor(shape: shape, storage: storage))
        start += k
    }
    return parts
}

/// An inverted-dropout mask: each element is 0 with probability `p`, else 1/(1 − p).
/// Deterministic in `rng`.
public func dropoutMask(shape: [Int], p: Double, rng: inout SeededGenerator) -> Tensor {
    precondition(p >= 0 && p < 1, "dropout probability \(p) outside [0, 1)")
    let keep = Float(1 / (1 - p))
    var m = Tensor(shape: shape)
    for i in 0..<m.count { m.storage[i] = rng.bernoulli(p) ? 0 : keep }
    return m
}

/// Large buffers (≥ 64 MB) about to be filled for the first time: backed by transparent huge pages
/// where the kernel allows it (see `mvx_advise_huge`).
@inline(__always) func adviseHugePages(_ p: UnsafeMutablePointer<Float>, count: Int) {
    if count >= 16 << 20 { mvx_advise_huge(p, count * 4) }
}
