import MedVoxCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A discrete Fourier transform plan of one length, any size: mixed-radix Stockham autosort
/// (radices 4, 2, 3, 5, 7, …, 13) when the length factors into small primes, Bluestein's chirp-z
/// algorithm (through a power-of-two transform) otherwise.
///
/// Conventions are numpy.fft's: forward `X[k] = Σ x[j] e^{−2πi jk/n}`, inverse with 1/n.
/// Data are split complex (separate real and imaginary Float arrays). Plans are immutable and
/// may be shared between threads; each call takes its own scratch (`scratchCount` Floats).
///
/// ```swift
/// let plan = FFTPlan(size: 160)
/// plan.transform(re, im, inverse: false, scratch: buffer)
/// ```
public final class FFTPlan: @unchecked Sendable {
    public let size: Int
    struct Stage {
        var radix: Int
        var twr: [Float]  // W_L^{p·u}, index p·radix + u
        var twi: [Float]
    }
    let stages: [Stage]
    /// Roots of unity of each radix: cos and −sin(2π j / r).
    let roots: [Int: ([Float], [Float])]
    /// Bluestein: chirp, transformed filter, and the power-of-two plan.
    let chirpR: [Float], chirpI: [Float]
    let filterR: [Float], filterI: [Float]
    let inner: FFTPlan?

    /// Floats of scratch a call needs.
    public var scratchCount: Int { inner.map { 4 * $0.size + $0.scratchCount } ?? 2 * size }

    static let maxRadix = 13

    public init(size n: Int) {
        precondition(n >= 1)
        size = n
        var factors = [Int]()
        var rest = n
        while rest % 4 == 0 { factors.append(4); rest /= 4 }
        var p = 2
        while p <= Self.maxRadix && rest > 1 {
            while rest % p == 0 { factors.append(p); rest /= p }
            p += 1
        }
        if rest == 1 {
            var stages = [Stage]()
            var roots = [Int: ([Float], [Float])]()
            var length = n
            for r in factors {
                let m = length / r
                var twr = [Float](repeating: 0, count: length), twi = twr
                for pp in 0..<m {
                    for u in 0..<r {
                        let ang = -2 * Double.pi * Double(pp * u) / Double(length)
                        twr[pp * r + u] = Float(cos(ang))
                        twi[pp * r + u] = Float(sin(ang))
                    }
                }
                stages.append(Stage(radix: r, twr: twr, twi: twi))
                if roots[r] == nil {
                    roots[r] = (
                        (0..<r).map { Float(cos(-2 * Double.pi * Double($0) / Double(r))) },
                        (0..<r).map { Float(sin(-2 * Double.pi * Double($0) / Double(r))) }
                    )
                }
                length = m
            }
            self.stages = stages
            self.roots = roots
            chirpR = []; chirpI = []; filterR = []; filterI = []
            inner = nil
        } else {
            // Bluestein: X_k = w_k Σ_j (x_j w_j) conj(w_{k−j}), w_k = e^{−πi k²/n}.
            var m = 1
            while m < 2 * n - 1 { m <<= 1 }
            let plan = FFTPlan(size: m)
            var cr = [Float](repeating: 0, count: n), ci = cr
            for k in 0..<n {
                let k2 = (k * k) % (2 * n)  // exact phase reduction
                let ang = -Double.pi * Double(k2) / Double(n)
                cr[k] = Float(cos(ang))
                ci[k] = Float(sin(ang))
            }
            var br = [Float](repeating: 0, count: m), bi = br
            for k in 0..<n {
                br[k] = cr[k]; bi[k] = -ci[k]
                if k > 0 { br[m - k] = cr[k]; bi[m - k] = -ci[k] }
            }
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plan.scratchCount)
            br.withUnsafeMutableBufferPointer { r in
                bi.withUnsafeMutableBufferPointer { i in plan.transform(r.baseAddress!, i.baseAddress!, inverse: false, scratch: scratch) }
            }
            scratch.deallocate()
            stages = []
            roots = [:]
            chirpR = cr; chirpI = ci
            filterR = br; filterI = bi
            inner = plan
        }
    }

    /// Transforms `n` complex values in place (`inverse` divides by n, as numpy.fft.ifft).
    public func transform(_ re: UnsafeMutablePointer<Float>, _ im: UnsafeMutablePointer<Float>, inverse: Bool, scratch: UnsafeMutablePointer<Float>) {
        let n = size
        if n == 1 { return }
        if inverse { for k in 0..<n { im[k] = -im[k] } }
        if let inner {
            bluestein(re, im, inner, scratch)
        } else {
            stockham(re, im, scratch, scratch + n)
        }
        if inverse {
            let s = 1 / Float(n)
            for k in 0..<n {
                re[k] *= s
                im[k] = -im[k] * s
            }
        }
    }

    func bluestein(_ re: UnsafeMutablePointer<Float>, _ im: UnsafeMutablePointer<Float>, _ plan: FFTPlan, _ scratch: UnsafeMutablePointer<Float>) {
        let n = size, m = plan.size
        let ar = scratch, ai = scratch + m, rest = scratch + 2 * m
        for k in 0..<n {
            ar[k] = re[k] * chirpR[k] - im[k] * chirpI[k]
            ai[k] = re[k] * chirpI[k] + im[k] * chirpR[k]
        }
        for k in n..<m { ar[k] = 0; ai[k] = 0 }
        plan.transform(ar, ai, inverse: false, scratch: rest)
        for k in 0..<m {
            let r = ar[k] * filterR[k] - ai[k] * filterI[k]
            let i = ar[k] * filterI[k] + ai[k] * filterR[k]
            ar[k] = r; ai[k] = i
        }
        plan.transform(ar, ai, inverse: true, scratch: rest)
        for k in 0..<n {
            re[k] = ar[k] * chirpR[k] - ai[k] * chirpI[k]
            im[k] = ar[k] * chirpI[k] + ai[k] * chirpR[k]
        }
    }

    /// Decimation-in-frequency Stockham autosort: stage with length L = r·m and stride S computes
    /// y[q + S(r p + u)] = W_L^{pu} Σ_k x[q + S(p + k m)] W_r^{uk}.
    func stockham(_ xr: UnsafeMutablePointer<Float>, _ xi: UnsafeMutablePointer<Float>, _ yr: UnsafeMutablePointer<Float>, _ yi: UnsafeMutablePointer<Float>) {
        stockham(xr, xi, yr, yi, batch: 1, 0, 1)
    }

    /// True when the length factors into small radices (no Bluestein): `transformBatch` applies.
    public var supportsBatch: Bool { inner == nil }

    /// Transforms the sequences b ∈ [b0, b1) stored interleaved with element t of sequence b at
    /// `b + batch·t` — a run of lines along a strided axis, transformed together with the
    /// innermost loop over b (contiguous, vectorisable). `yr`/`yi` are scratch of the same layout.
    public func transformBatch(
        _ re: UnsafeMutablePointer<Float>, _ im: UnsafeMutablePointer<Float>, _ yr: UnsafeMutablePointer<Float>,
        _ yi: UnsafeMutablePointer<Float>, batch: Int, _ b0: Int, _ b1: Int, inverse: Bool
    ) {
        precondition(inner == nil, "transformBatch needs a smooth length")
        let n = size
        if n == 1 { return }
        if inverse { for t in 0..<n { for b in b0..<b1 { im[b + batch * t] = -im[b + batch * t] } } }
        stockham(re, im, yr, yi, batch: batch, b0, b1)
        if inverse {
            let s = 1 / Float(n)
            for t in 0..<n {
                for b in b0..<b1 {
                    re[b + batch * t] *= s
                    im[b + batch * t] = -im[b + batch * t] * s
                }
            }
        }
    }

    func stockham(
        _ xr: UnsafeMutablePointer<Float>, _ xi: UnsafeMutablePointer<Float>, _ yr: UnsafeMutablePointer<Float>,
        _ yi: UnsafeMutablePointer<Float>, batch B: Int, _ b0: Int, _ b1: Int
    ) {
        var length = size, s = 1
        var inX = true
        for stage in stages {
            let r = stage.radix, m = length / r
            let (ar, ai, br, bi) = inX ? (xr, xi, yr, yi) : (yr, yi, xr, xi)
            let sB = s * B, mB = m * sB
            stage.twr.withUnsafeBufferPointer { twr in
                stage.twi.withUnsafeBufferPointer { twi in
                    switch r {
                    case 2:
                        for p in 0..<m {
                            let wr = twr[2 * p + 1], wi = twi[2 * p + 1]
                            for q in 0..<s {
                                let a = B * (q + s * p), o = B * (q + s * 2 * p)
                                for b in b0..<b1 {
                                    let x0r = ar[a + b], x0i = ai[a + b], x1r = ar[a + mB + b], x1i = ai[a + mB + b]
                                    let dr = x0r - x1r, di = x0i - x1i
                                    br[o + b] = x0r + x1r; bi[o + b] = x0i + x1i
                                    br[o + sB + b] = dr * wr - di * wi; bi[o + sB + b] = dr * wi + di * wr
                                }
                            }
                        }
                    case 4:
                        for p in 0..<m {
                            let w1r = twr[4 * p + 1], w1i = twi[4 * p + 1]
                            let w2r = twr[4 * p + 2], w2i = twi[4 * p + 2]
                            let w3r = twr[4 * p + 3], w3i = twi[4 * p + 3]
                            for q in 0..<s {
                                let a = B * (q + s * p), o = B * (q + s * 4 * p)
                                for b in b0..<b1 {
                                    let i0 = a + b, i1 = i0 + mB, i2 = i1 + mB, i3 = i2 + mB
                                    let t0r = ar[i0] + ar[i2], t0i = ai[i0] + ai[i2]
                                    let t1r = ar[i0] - ar[i2], t1i = ai[i0] - ai[i2]
                                    let t2r = ar[i1] + ar[i3], t2i = ai[i1] + ai[i3]
                                    // (a1 − a3)·(−i)
                                    let t3r = ai[i1] - ai[i3], t3i = ar[i3] - ar[i1]
                                    let y1r = t1r + t3r, y1i = t1i + t3i
                                    let y2r = t0r - t2r, y2i = t0i - t2i
                                    let y3r = t1r - t3r, y3i = t1i - t3i
                                    let oo = o + b
                                    br[oo] = t0r + t2r; bi[oo] = t0i + t2i
                                    br[oo + sB] = y1r * w1r - y1i * w1i; bi[oo + sB] = y1r * w1i + y1i * w1r
                                    br[oo + 2 * sB] = y2r * w2r - y2i * w2i; bi[oo + 2 * sB] = y2r * w2i + y2i * w2r
                                    br[oo + 3 * sB] = y3r * w3r - y3i * w3i; bi[oo + 3 * sB] = y3r * w3i + y3i * w3r
                                }
                            }
                        }
                    case 3:
                        let sn = Float(3.0.squareRoot() / 2)
                        for p in 0..<m {
                            let w1r = twr[3 * p + 1], w1i = twi[3 * p + 1], w2r = twr[3 * p + 2], w2i = twi[3 * p + 2]
                            for q in 0..<s {
                                let a = B * (q + s * p), o = B * (q + s * 3 * p)
                                for b in b0..<b1 {
                                    let i0 = a + b, i1 = i0 + mB, i2 = i1 + mB
                                    let t1r = ar[i1] + ar[i2], t1i = ai[i1] + ai[i2]
                                    let t2r = sn * (ar[i1] - ar[i2]), t2i = sn * (ai[i1] - ai[i2])
                                    let mr = ar[i0] - 0.5 * t1r, mi = ai[i0] - 0.5 * t1i
                                    let y1r = mr + t2i, y1i = mi - t2r, y2r = mr - t2i, y2i = mi + t2r
                                    let oo = o + b
                                    br[oo] = ar[i0] + t1r; bi[oo] = ai[i0] + t1i
                                    br[oo + sB] = y1r * w1r - y1i * w1i; bi[oo + sB] = y1r * w1i + y1i * w1r
                                    br[oo + 2 * sB] = y2r * w2r - y2i * w2i; bi[oo + 2 * sB] = y2r * w2i + y2i * w2r
                                }
                            }
                        }
                    case 5:
                        let c1 = Float(cos(2 * Double.pi / 5)), c2 = Float(cos(4 * Double.pi / 5))
                        let s1 = Float(sin(2 * Double.pi / 5)), s2 = Float(sin(4 * Double.pi / 5))
                        for p in 0..<m {
                            let w1r = twr[5 * p + 1], w1i = twi[5 * p + 1], w2r = twr[5 * p + 2], w2i = twi[5 * p + 2]
                            let w3r = twr[5 * p + 3], w3i = twi[5 * p + 3], w4r = twr[5 * p + 4], w4i = twi[5 * p + 4]
                            for q in 0..<s {
                                let a = B * (q + s * p), o = B * (q + s * 5 * p)
                                for b in b0..<b1 {
                                    let i0 = a + b, i1 = i0 + mB, i2 = i1 + mB, i3 = i2 + mB, i4 = i3 + mB
                                    let t1r = ar[i1] + ar[i4], t1i = ai[i1] + ai[i4]
                                    let t2r = ar[i2] + ar[i3], t2i = ai[i2] + ai[i3]
                                    let t3r = ar[i1] - ar[i4], t3i = ai[i1] - ai[i4]
                                    let t4r = ar[i2] - ar[i3], t4i = ai[i2] - ai[i3]
                                    let x0r = ar[i0], x0i = ai[i0]
                                    let a1r = x0r + c1 * t1r + c2 * t2r, a1i = x0i + c1 * t1i + c2 * t2i
                                    let a2r = x0r + c2 * t1r + c1 * t2r, a2i = x0i + c2 * t1i + c1 * t2i
                                    let b1r = s1 * t3r + s2 * t4r, b1i = s1 * t3i + s2 * t4i
                                    let b2r = s2 * t3r - s1 * t4r, b2i = s2 * t3i - s1 * t4i
                                    // y1 = a1 − i·b1, y4 = a1 + i·b1, y2 = a2 − i·b2, y3 = a2 + i·b2.
                                    let y1r = a1r + b1i, y1i = a1i - b1r, y4r = a1r - b1i, y4i = a1i + b1r
                                    let y2r = a2r + b2i, y2i = a2i - b2r, y3r = a2r - b2i, y3i = a2i + b2r
                                    let oo = o + b
                                    br[oo] = x0r + t1r + t2r; bi[oo] = x0i + t1i + t2i
                                    br[oo + sB] = y1r * w1r - y1i * w1i; bi[oo + sB] = y1r * w1i + y1i * w1r
                                    br[oo + 2 * sB] = y2r * w2r - y2i * w2i; bi[oo + 2 * sB] = y2r * w2i + y2i * w2r
                                    br[oo + 3 * sB] = y3r * w3r - y3i * w3i; bi[oo + 3 * sB] = y3r * w3i + y3i * w3r
                                    br[oo + 4 * sB] = y4r * w4r - y4i * w4i; bi[oo + 4 * sB] = y4r * w4i + y4i * w4r
                                }
                            }
                        }
                    default:
                        let (rr, ri) = roots[r]!
                        for p in 0..<m {
                            for u in 0..<r {
                                let wr = twr[p * r + u], wi = twi[p * r + u]
                                for q in 0..<s {
                                    let a = B * (q + s * p), o = B * (q + s * (r * p + u))
                                    for b in b0..<b1 {
                                        var sr: Float = 0, si: Float = 0
                                        var idx = 0
                                        for k in 0..<r {
                                            let x = a + k * mB + b
                                            sr += ar[x] * rr[idx] - ai[x] * ri[idx]
                                            si += ar[x] * ri[idx] + ai[x] * rr[idx]
                                            idx += u
                                            if idx >= r { idx -= r }
                                        }
                                        br[o + b] = sr * wr - si * wi
                                        bi[o + b] = sr * wi + si * wr
                                    }
                                }
                            }
                        }
                    }
                }
            }
            length = m
            s *= r
            inX.toggle()
        }
        if !inX {
            for t in 0..<size {
                let o = B * t
                for b in b0..<b1 { xr[o + b] = yr[o + b]; xi[o + b] = yi[o + b] }
            }
        }
    }
}

/// A complex 3D array (split real/imaginary), `i` fastest — k-space of a volume.
public struct ComplexVolume: Sendable {
    public var dims: [Int]
    public var re: [Float]
    public var im: [Float]

    public init(dims: [Int], re: [Float], im: [Float]? = nil) {
        precondition(dims.count == 3 && re.count == dims.reduce(1, *))
        self.dims = dims
        self.re = re
        self.im = im ?? [Float](repeating: 0, count: re.count)
    }

    /// In-place N-d FFT over `axes` (default all three; axes of size 1 are skipped), numpy's
    /// `fftn` / `ifftn` conventions. Lines are transformed in parallel; results do not depend on
    /// the thread count.
    public mutating func fft(inverse: Bool = false, axes: [Int] = [0, 1, 2]) {
        let d = dims
        re.withUnsafeMutableBufferPointer { rp in
            im.withUnsafeMutableBufferPointer { ip in
                let r = rp.baseAddress!, i = ip.baseAddress!
                for axis in axes where d[axis] > 1 {
                    let n = d[axis]
                    let plan = FFTPlan(size: n)
                    if axis == 0 {
                        // Contiguous lines: transform in place.
                        let lines = d[1] * d[2]
                        let chunks = min(lines, 64)
                        parallelFor(chunks) { c in
                            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plan.scratchCount)
                            defer { scratch.deallocate() }
                            for l in chunkRange(lines, part: c, of: chunks) {
                                plan.transform(r + l * n, i + l * n, inverse: inverse, scratch: scratch)
                            }
                        }
                        continue
                    }
                    let stride = axis == 1 ? d[0] : d[0] * d[1]
                    let outer = axis == 1 ? d[2] : 1
                    if plan.supportsBatch {
                        // Strided lines run as one batch (element t of line b at b + stride·t):
                        // contiguous inner loops, no gathers. Work items: runs of ≤ 256 lines.
                        let run = 256
                        let perOuter = (stride + run - 1) / run
                        let items = outer * perOuter
                        let volume = d[0] * d[1] * d[2]
                        let yr = UnsafeMutablePointer<Float>.allocate(capacity: 2 * volume)
                        defer { yr.deallocate() }
                        let yi = yr + volume
                        parallelFor(min(items, 256)) { c in
                            for item in chunkRange(items, part: c, of: min(items, 256)) {
                                let o = (item / perOuter) * d[0] * d[1], b0 = (item % perOuter) * run
                                plan.transformBatch(r + o, i + o, yr + o, yi + o, batch: stride, b0, min(b0 + run, stride), inverse: inverse)
                            }
                        }
                        continue
                    }
                    // Bluestein lengths: blocks of B lines adjacent in memory are gathered together
                    // (whole cache lines), transformed one by one, and scattered back.
                    let block = 16
                    let inner = stride
                    let perOuter = (inner + block - 1) / block
                    let items = outer * perOuter
                    let chunks = min(items, 64)
                    parallelFor(chunks) { c in
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plan.scratchCount + 2 * n * block)
                        defer { scratch.deallocate() }
                        let lr = scratch + plan.scratchCount, li = lr + n * block
                        for item in chunkRange(items, part: c, of: chunks) {
                            let o = item / perOuter, b0 = (item % perOuter) * block
                            let count = min(block, inner - b0)
                            let start = o * d[0] * d[1] + b0
                            for k in 0..<n {
                                let src = start + k * stride
                                for b in 0..<count { lr[b * n + k] = r[src + b]; li[b * n + k] = i[src + b] }
                            }
                            for b in 0..<count { plan.transform(lr + b * n, li + b * n, inverse: inverse, scratch: scratch) }
                            for k in 0..<n {
                                let dst = start + k * stride
                                for b in 0..<count { r[dst + b] = lr[b * n + k]; i[dst + b] = li[b * n + k] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// |z| per voxel.
    public var magnitude: [Float] {
        var out = [Float](repeating: 0, count: re.count)
        for k in 0..<re.count { out[k] = (re[k] * re[k] + im[k] * im[k]).squareRoot() }
        return out
    }
}
