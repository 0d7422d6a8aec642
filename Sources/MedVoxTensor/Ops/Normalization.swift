import CMedVoxKernels
import MedVoxCore

// Batch, group and instance normalisation, written once: each normalisation is a list of
// statistics groups, each group a list of channel blocks (block b = n·C + c covers the `inner`
// contiguous elements of channel c of batch item n). Batch norm: group c = {(n, c) for all n}.
// Group norm: group (n, g) = the channels of group g of item n. Instance norm: group norm with
// one channel per group.

/// Per-group mean and 1/√(variance + ε) (biased variance), from a normalisation's forward pass.
public struct NormStats: Sendable {
    public var mean: [Float]
    public var invStd: [Float]
    /// Biased variance per group.
    public var variance: [Float]
    /// Elements per group.
    public var groupSize: Int
}

/// Which elements share statistics.
public enum NormGrouping: Sendable {
    /// Over batch and space, per channel (batch norm).
    case batch
    /// Over `groups` channel groups and space, per batch item (group norm; `groups == C` is
    /// instance norm).
    case groups(Int)

    func blocks(n: Int, c: Int) -> [[Int]] {
        switch self {
        case .batch:
            return (0..<c).map { ch in (0..<n).map { $0 * c + ch } }
        case let .groups(g):
            precondition(g >= 1 && c % g == 0, "\(c) channels do not split into \(g) groups")
            let per = c / g
            return (0..<(n * g)).map { k in
                let item = k / g, grp = k % g
                return (0..<per).map { item * c + grp * per + $0 }
            }
        }
    }
}

/// Normalises `x` (`[N, C, …]`) with statistics computed from it, then applies the per-channel
/// affine `gamma`, `beta` (`[C]`; nil means 1 and 0).
///
/// ```swift
/// let (y, stats) = normalize(x, .groups(x.shape[1]), gamma: g, beta: b)  // instance norm
/// ```
public func normalize(_ x: Tensor, _ grouping: NormGrouping, gamma: Tensor?, beta: Tensor?, eps: Float = 1e-5)
    -> (Tensor, NormStats)
{
    var y = x
    let stats = normalizeInPlace(&y, grouping, gamma: gamma, beta: beta, eps: eps)
    return (y, stats)
}

/// `normalize` overwriting `x`, optionally followed in the same pass by a leaky ReLU with
/// `leakySlope` (0 is ReLU) — the inference path of conv–norm–activation blocks, which needs no
/// second buffer.
@discardableResult
public func normalizeInPlace(_ x: inout Tensor, _ grouping: NormGrouping, gamma: Tensor?, beta: Tensor?, eps: Float = 1e-5,
                             leakySlope: Float? = nil) -> NormStats
{
    let (pending, stats) = pendingNormalization(of: x, grouping, gamma: gamma, beta: beta, eps: eps, leakySlope: leakySlope)
    pending.apply(to: &x)
    return stats
}

/// A normalisation (and activation) computed for a tensor but not yet applied: per batch item and
/// channel, `v ↦ v·scale + shift`, then `v > 0 ? v : v·slope` when `leakySlope` is set. A
/// convolution that reads its input through a Winograd pass applies it on the fly
/// (`ConvPlan.forward(parts:pending:)`), which saves writing and reading the normalised tensor.
public struct PendingNormalization: Sendable {
    /// `[N·C]` each, item-major.
    public var scale: [Float], shift: [Float]
    public var leakySlope: Float?

    /// Batch item `n`'s coefficients.
    struct Channels {
        var scale: [Float], shift: [Float], leakySlope: Float?
    }

    func item(_ n: Int, channels: Int) -> Channels {
        let r = (n * channels)..<((n + 1) * channels)
        return Channels(scale: Array(scale[r]), shift: Array(shift[r]), leakySlope: leakySlope)
    }

    /// Applies it in place (the same bits as a pass that reads it on the fly).
    public func apply(to x: inout Tensor) {
        let (n, c, inner) = channelBlocks(x.shape)
        precondition(scale.count == n * c, "pending normalisation for \(scale.count) channel blocks applied to \(x.shape)")
        x.storage.withUnsafeMutableBufferPointer { yp in
            let yb = yp.baseAddress!
            parallelFor(n * c) { b in
                let a = scale[b], shift = shift[b]
                if let slope = leakySlope {
                    for i in (b * inner)..<((b + 1) * inner) {
                        let v = yb[i] * a + shift
                        yb[i] = v > 0 ? v : v * slope
                    }
                } else {
                    for i in (b * inner)..<((b + 1) * inner) { yb[i] = yb[i] * a + shift }
                }
            }
        }
    }
}

/// The statistics of `x` and the normalisation they define, not applied; see `normalizeInPlace`.
/// `channelSums`: each channel block's sum and sum of squares (`[N·C][2]`), already computed
/// (by the convolution that wrote `x`); otherwise they are summed here.
public func pendingNormalization(of x: Tensor, _ grouping: NormGrouping, gamma: Tensor?, beta: Tensor?, eps: Float = 1e-5,
                                 leakySlope: Float? = nil, channelSums: [Double]? = nil) -> (PendingNormalization, NormStats)
{
    let (n, c, inner) = channelBlocks(x.shape)
    let groups = grouping.blocks(n: n, c: c)
    let m = groups[0].count * inner
    var mean = [Float](repeating: 0, count: groups.count)
    var varc = mean, inv = mean
    mean.withUnsafeMutableBufferPointer { mp in
        varc.withUnsafeMutableBufferPointer { vp in
            x.storage.withUnsafeBufferPointer { xp in
                let mb = mp.baseAddress!, vb = vp.baseAddress!, xb = xp.baseAddress!
                // One pass of double sums of x and x² in 16 lanes (CMedVoxKernels/stats.c): one
                // block's order is fixed by its length, blocks add in order, so any thread count
                // gives the same bits. In double, E[x²] − E[x]² loses ~1e-16·mean²/variance
                // relative: far below what the Float result keeps for activations.
                let isa = KernelSettings.current.isa.rawValue
                parallelFor(groups.count) { k in
                    var s = 0.0, sq = 0.0
                    for b in groups[k] {
                        var bs = 0.0, bq = 0.0
                        if let channelSums {
                            (bs, bq) = (channelSums[2 * b], channelSums[2 * b + 1])
                        } else {
                            mvx_sum_and_squares(xb + b * inner, inner, &bs, &bq, isa)
                        }
                        s += bs
                        sq += bq
                    }
                    let mu = s / Double(m)
                    let q = max(0, sq - s * mu)
                    mb[k] = Float(mu)
                    vb[k] = Float(q / Double(m))
                }
            }
        }
    }
    for k in 0..<groups.count { inv[k] = 1 / (varc[k] + eps).squareRoot() }
    let pending = coefficients(n: n, c: c, groups: groups, mean: mean, invStd: inv, gamma: gamma, beta: beta, leakySlope: leakySlope)
    return (pending, NormStats(mean: mean, invStd: inv, variance: varc, groupSize: m))
}

/// Per channel block: a = s·γ, shift = β − μ·a.
private func coefficients(n: Int, c: Int, groups: [[Int]], mean: [Float], invStd: [Float], gamma: Tensor?, beta: Tensor?,
                          leakySlope: Float?) -> PendingNormalization {
    var scale = [Float](repeating: 0, count: n * c), shift = scale
    for (k, blocks) in groups.enumerated() {
        for b in blocks {
            let ch = b % c
            let a = invStd[k] * (gamma?.storage[ch] ?? 1)
            scale[b] = a
            shift[b] = (beta?.storage[ch] ?? 0) - mean[k] * a
        }
    }
    return PendingNormalization(scale: scale, shift: shift, leakySlope: leakySlope)
}

/// Batch norm in inference mode: normalises with running statistics (`[C]` each).
public func batchNormInference(_ x: Tensor, runningMean: Tensor, runningVar: Tensor, gamma: Tensor?, beta: Tensor?, eps: Float = 1e-5)
    -> Tensor
{
    let (n, c, _) = channelBlocks(x.shape)
    let inv = runningVar.storage.map { 1 / ($0 + eps).squareRoot() }
    var y = x
    coefficients(n: n, c: c, groups: NormGrouping.batch.blocks(n: n, c: c), mean: runningMean.storage, invStd: inv, gamma: gamma,
                 beta: beta, leakySlope: nil).apply(to: &y)
    return y
}

/// Backward of `normalize` (training mode): returns the gradients for x, gamma and beta (the
/// latter two `[C]`, zero-filled if the forward had no affine).
///
/// With x̂ = (x − μ)·s, s = 1/√(σ² + ε), and dx̂ = dy·γ over a group of m elements:
/// dx = s/m · (m·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂)).
public func normalizeBackward(_ gy: Tensor, input x: Tensor, _ grouping: NormGrouping, stats: NormStats, gamma: Tensor?)
    -> (gx: Tensor, gGamma: Tensor, gBeta: Tensor)
{
    let (n, c, inner) = channelBlocks(x.shape)
    let groups = grouping.blocks(n: n, c: c)
    let m = Double(stats.groupSize)
    var gx = x.zerosLike()
    var blockGamma = [Double](repeating: 0, count: n * c), blockBeta = blockGamma
    gx.storage.withUnsafeMutableBufferPointer { gp in
        blockGamma.withUnsafeMutableBufferPointer { bgp in
            blockBeta.withUnsafeMutableBufferPointer { bbp in
                x.storage.withUnsafeBufferPointer { xp in
                    gy.storage.withUnsafeBufferPointer { yp in
                        let gb = gp.baseAddress!, bg = bgp.baseAddress!, bbt = bbp.baseAddress!
                        let xb = xp.baseAddress!, yb = yp.baseAddress!
                        parallelFor(groups.count) { k in
                            let mu = stats.mean[k], s = stats.invStd[k]
                            var sumD = 0.0, sumDX = 0.0
                            for b in groups[k] {
                                let gam = Double(gamma?.storage[b % c] ?? 1)
                                var sg = 0.0, sgx = 0.0
                                for i in (b * inner)..<((b + 1) * inner) {
                                    let xh = Double((xb[i] - mu) * s), g = Double(yb[i])
                                    sg += g
                                    sgx += g * xh
                                }
                                bg[b] = sgx
                                bbt[b] = sg
                                sumD += sg * gam
                                sumDX += sgx * gam
                            }
                            let meanD = Float(sumD / m), meanDX = Float(sumDX / m)
                            for b in groups[k] {
                                let gam = gamma?.storage[b % c] ?? 1
                                for i in (b * inner)..<((b + 1) * inner) {
                                    let xh = (xb[i] - mu) * s
                                    gb[i] = s * (yb[i] * gam - meanD - xh * meanDX)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    var gG = Tensor(shape: [c]), gB = Tensor(shape: [c])
    for b in 0..<(n * c) {
        gG.storage[b % c] += Float(blockGamma[b])
        gB.storage[b % c] += Float(blockBeta[b])
    }
    return (gx, gG, gB)
}
