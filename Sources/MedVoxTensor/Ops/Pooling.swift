import CMedVoxKernels
import MedVoxCore

/// Window geometry of a pooling layer over 1–3 spatial axes (kernel, stride and zero padding per
/// axis), with the output extent floor((in + 2·pad − kernel) / stride) + 1 per axis.
public struct PoolGeometry: Equatable, Sendable {
    public var input: ImageShape
    /// Per-axis parameters padded to three axes (depth, height, width).
    public var kernel: [Int], stride: [Int], padding: [Int]
    public var output: ImageShape

    /// `kernel`, `stride`, `padding` have one entry per spatial axis of `inputShape`.
    public init(inputShape: [Int], kernel: [Int], stride: [Int]? = nil, padding: [Int]? = nil) {
        input = ImageShape(inputShape)
        let r = input.spatialRank
        self.kernel = padTo3(kernel, rank: r, fill: 1)
        self.stride = padTo3(stride ?? kernel, rank: r, fill: 1)
        self.padding = padTo3(padding ?? Array(repeating: 0, count: r), rank: r, fill: 0)
        let inSize = [input.d, input.h, input.w]
        var out = [0, 0, 0]
        for a in 0..<3 {
            precondition(self.padding[a] * 2 <= self.kernel[a], "padding \(padding!) exceeds half the kernel \(kernel)")
            out[a] = (inSize[a] + 2 * self.padding[a] - self.kernel[a]) / self.stride[a] + 1
            precondition(out[a] >= 1, "pooling window \(kernel) larger than the padded input \(inputShape)")
        }
        output = ImageShape(input.shape(d: out[0], h: out[1], w: out[2]))
    }

    /// Calls `body(outputIndex, inputIndex)` for each in-bounds tap of each output position of
    /// one channel block (indices relative to the block); `begin(o)` and `end(o, taps)` bracket
    /// each output position.
    @inline(__always) func forEachWindow(
        begin: (Int) -> Void, tap: (Int, Int) -> Void, end: (Int) -> Void
    ) {
        let (id, ih, iw) = (input.d, input.h, input.w)
        var o = 0
        for od in 0..<output.d {
            for oh in 0..<output.h {
                for ow in 0..<output.w {
                    begin(o)
                    for kd in 0..<kernel[0] {
                        let z = od * stride[0] - padding[0] + kd
                        if z < 0 || z >= id { continue }
                        for kh in 0..<kernel[1] {
                            let y = oh * stride[1] - padding[1] + kh
                            if y < 0 || y >= ih { continue }
                            for kw in 0..<kernel[2] {
                                let x = ow * stride[2] - padding[2] + kw
                                if x < 0 || x >= iw { continue }
                                tap(o, (z * ih + y) * iw + x)
                            }
                        }
                    }
                    end(o)
                    o += 1
                }
            }
        }
    }
}

/// Max pooling; returns the output and, per output element, the index of the chosen input
/// element within its channel block (for the backward pass). Padding taps never win.
public func maxPool(_ x: Tensor, _ g: PoolGeometry) -> (output: Tensor, argmax: [Int32]) {
    precondition(x.shape == g.input.shape(d: g.input.d, h: g.input.h, w: g.input.w), "input \(x.shape) does not match the pooling geometry")
    let blocks = g.input.n * g.input.c
    let inS = g.input.spatialCount, outS = g.output.spatialCount
    var y = Tensor(shape: g.output.shape(d: g.output.d, h: g.output.h, w: g.output.w))
    var arg = [Int32](repeating: 0, count: blocks * outS)
    y.storage.withUnsafeMutableBufferPointer { yp in
        arg.withUnsafeMutableBufferPointer { ap in
            x.storage.withUnsafeBufferPointer { xp in
                let yb = yp.baseAddress!, ab = ap.baseAddress!, xb = xp.baseAddress!
                parallelFor(blocks) { b in
                    let xi = xb + b * inS, yo = yb + b * outS, ao = ab + b * outS
                    var best = -Float.infinity, bestAt = 0
                    g.forEachWindow(
                        begin: { _ in best = -Float.infinity; bestAt = -1 },
                        tap: { _, i in if bestAt < 0 || xi[i] > best { best = xi[i]; bestAt = i } },
                        end: { o in yo[o] = best; ao[o] = Int32(bestAt) })
                }
            }
        }
    }
    return (y, arg)
}

/// The values of `maxPool` without the argmax (inference): the same taps in the same order and the
/// same comparison, so the same outputs, with a direct loop for windows that tile the input
/// (kernel = stride, no padding — a U-Net's 2×2×2 down-sampling).
public func maxPoolValues(_ x: Tensor, _ g: PoolGeometry) -> Tensor {
    guard g.kernel == g.stride, g.padding == [0, 0, 0] else { return maxPool(x, g).output }
    precondition(x.shape == g.input.shape(d: g.input.d, h: g.input.h, w: g.input.w), "input \(x.shape) does not match the pooling geometry")
    let blocks = g.input.n * g.input.c
    let (ih, iw) = (g.input.h, g.input.w)
    let (od, oh, ow) = (g.output.d, g.output.h, g.output.w)
    let (kd, kh, kw) = (g.kernel[0], g.kernel[1], g.kernel[2])
    let inS = g.input.spatialCount, outS = g.output.spatialCount
    let storage = [Float](unsafeUninitializedCapacity: blocks * outS) { yp, n in
        x.storage.withUnsafeBufferPointer { xp in
            let yb = yp.baseAddress!, xb = xp.baseAddress!
            // Work items: (channel block, output plane) pairs.
            let fast = kh == 2 && kw == 2 && (kd == 1 || kd == 2)
            let isa = KernelSettings.current.isa.rawValue
            parallelFor(blocks * od) { item in
                let b = item / od, z = item % od
                let xi = xb + b * inS, yo = yb + b * outS + z * oh * ow
                if fast {
                    // C, vectorised (CMedVoxKernels/stats.c): the same taps and comparisons.
                    mvx_maxpool2_plane(xi + z * kd * ih * iw, yo, Int32(kd), ih, iw, oh, ow, isa)
                    return
                }
                for y in 0..<oh {
                    for xo in 0..<ow {
                        var best = xi[((z * kd) * ih + y * kh) * iw + xo * kw]
                        var first = true
                        for a in 0..<kd {
                            for c in 0..<kh {
                                let row = xi + ((z * kd + a) * ih + y * kh + c) * iw + xo * kw
                                for e in 0..<kw {
                                    if first { first = false; continue }
                                    if row[e] > best { best = row[e] }
                                }
                            }
                        }
                        yo[y * ow + xo] = best
                    }
                }
            }
        }
        n = blocks * outS
    }
    return Tensor(shape: g.output.shape(d: od, h: oh, w: ow), storage: storage)
}

/// Routes each output gradient to the input element that won its window.
public func maxPoolBackward(_ gy: Tensor, argmax: [Int32], _ g: PoolGeometry) -> Tensor {
    let blocks = g.input.n * g.input.c
    let inS = g.input.spatialCount, outS = g.output.spatialCount
    var gx = Tensor(shape: g.input.shape(d: g.input.d, h: g.input.h, w: g.input.w))
    for b in 0..<blocks {
        for o in 0..<outS { gx.storage[b * inS + Int(argmax[b * outS + o])] += gy.storage[b * outS + o] }
    }
    return gx
}

/// Average pooling; padding taps count as zeros in the divisor (the kernel volume), as PyTorch's
/// default `count_include_pad=True`.
public func avgPool(_ x: Tensor, _ g: PoolGeometry) -> Tensor {
    let blocks = g.input.n * g.input.c
    let inS = g.input.spatialCount, outS = g.output.spatialCount
    let inv = 1 / Float(g.kernel.reduce(1, *))
    var y = Tensor(shape: g.output.shape(d: g.output.d, h: g.output.h, w: g.output.w))
    y.storage.withUnsafeMutableBufferPointer { yp in
        x.storage.withUnsafeBufferPointer { xp in
            let yb = yp.baseAddress!, xb = xp.baseAddress!
            parallelFor(blocks) { b in
                let xi = xb + b * inS, yo = yb + b * outS
                var acc: Float = 0
                g.forEachWindow(begin: { _ in acc = 0 }, tap: { _, i in acc += xi[i] }, end: { o in yo[o] = acc * inv })
            }
        }
    }
    return y
}

public func avgPoolBackward(_ gy: Tensor, _ g: PoolGeometry) -> Tensor {
    let blocks = g.input.n * g.input.c
    let inS = g.input.spatialCount, outS = g.output.spatialCount
    let inv = 1 / Float(g.kernel.reduce(1, *))
    var gx = Tensor(shape: g.input.shape(d: g.input.d, h: g.input.h, w: g.input.w))
    for b in 0..<blocks {
        gx.storage.withUnsafeMutableBufferPointer { gp in
            let gi = gp.baseAddress! + b * inS
            g.forEachWindow(begin: { _ in }, tap: { o, i in gi[i] += gy.storage[b * outS + o] * inv }, end: { _ in })
        }
    }
    return gx
}

/// Mean over all spatial positions: `[N, C, …]` → `[N, C]`.
public func globalAvgPool(_ x: Tensor) -> Tensor {
    let (n, c, inner) = channelBlocks(x.shape)
    var y = Tensor(shape: [n, c])
    for b in 0..<(n * c) {
        var s = 0.0
        for i in (b * inner)..<((b + 1) * inner) { s += Double(x.storage[i]) }
        y.storage[b] = Float(s / Double(inner))
    }
    return y
}

public func globalAvgPoolBackward(_ gy: Tensor, inputShape: [Int]) -> Tensor {
    let (n, c, inner) = channelBlocks(inputShape)
    var gx = Tensor(shape: inputShape)
    for b in 0..<(n * c) {
        let v = gy.storage[b] / Float(inner)
        for i in (b * inner)..<((b + 1) * inner) { gx.storage[i] = v }
    }
    return gx
}
