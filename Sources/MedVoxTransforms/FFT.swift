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
        var length = size, s = 1
        var inX = true
        for stage in stages {
            let r = stage.radix, m = length / r
            let (ar, ai, br, bi) = inX ? (xr, xi, yr, yi) : (yr, yi, xr, xi)
            stage.twr.withUnsafeBufferPointer { twr in
                stage.twi.withUnsafeBufferPointer { twi in
                    switch r {
                    case 2:
                        for p in 0..<m {
                            let wr = twr[2 * p + 1], wi = twi[2 * p + 1]
                            for q in 0..<s {
                                let a = q + s * p, b = q + s * (p + m)
                                let o = q + s * 2 * p
                                let dr = ar[a] - ar[b], di = ai[a] - ai[b]
                                br[o] = ar[a] + ar[b]; bi[o] = ai[a] + ai[b]
                                br[o + s] = dr * wr - di * wi; bi[o + s] = dr * wi + di * wr
                            }
                        }
                    case 4:
                        for p in 0..<m {
                            let w1r = twr[4 * p + 1], w1i = twi[4 * p + 1]
                            let w2r = twr[4 * p + 2], w2i = twi[4 * p + 2]
                            let w3r = twr[4 * p + 3], w3i = twi[4 * p + 3]
                            for q in 0..<s {
                                let i0 = q + s * p, i1 = i0 + s * m, i2 = i1 + s * m, i3 = i2 + s * m
                                let t0r = ar[i0] + ar[i2], t0i = ai[i0] + ai[i2]
                                let t1r = ar[i0] - ar[i2], t1i = ai[i0] - ai[i2]
                                let t2r = ar[i1] + ar[i3], t2i = ai[i1] + ai[i3]
                                // (a1 − a3)·(−i)
                                let t3r = ai[i1] - ai[i3], t3i = ar[i3] - ar[i1]
                                let o = q + s * 4 * p
                                br[o] = t0r + t2r; bi[o] = t0i + t2i
                                let y1r = t1r + t3r, y1i = t1i + t3i
                                let y2r = t0r - t2r, y2i = t0i - t2i
                                let y3r = t1r - t3r, y3i = t1i - t3i
                                br[o + s] = y1r * w1r - y1i * w1i; bi[o + s] = y1r * w1i + y1i * w1r
                                br[o + 2 * s] = y2r * w2r - y2i * w2i; bi[o + 2 * s] = y2r * w2i + y2i * w2r
                                br[o + 3 * s] = y3r * w3r - y3i * w3i; bi[o + 3 * s] = y3r * w3i + y3i * w3r
                            }
                        }
                    default:
                        let (rr, ri) = roots[r]!
                        for p in 0..<m {
                            for u in 0..<r {
                                let wr = twr[p * r + u], wi = twi[p * r + u]
                                let o = s * (r * p + u)
                                for q in 0..<s {
                                    var sr: Float = 0, si: Float = 0
                                    var idx = 0
                                    for k in 0..<r {
                                        let a = q + s * (p + k * m)
                                        sr += ar[a] * rr[idx] - ai[a] * ri[idx]
                                        si += ar[a] * ri[idx] + ai[a] * rr[idx]
                                        idx += u
                                        if idx >= r { idx -= r }
                                    }
                                    br[o + q] = sr * wr - si * wi
                                    bi[o + q] = sr * wi + si * wr
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
            xr.update(from: yr, count: size)
            xi.update(from: yi, count: size)
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
                    let stride = axis == 0 ? 1 : (axis == 1 ? d[0] : d[0] * d[1])
                    let lines = d[0] * d[1] * d[2] / n
                    let chunks = min(lines, 64)
                    parallelFor(chunks) { c in
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: plan.scratchCount + 2 * n)
                        defer { scratch.deallocate() }
                        let lr = scratch + plan.scratchCount, li = lr + n
                        for l in chunkRange(lines, part: c, of: chunks) {
                            let start: Int
                            switch axis {
                            case 0: start = l * n
                            case 1: start = (l % d[0]) + (l / d[0]) * d[0] * d[1]
                            default: start = l
                            }
                            if stride == 1 {
                                plan.transform(r + start, i + start, inverse: inverse, scratch: scratch)
                            } else {
                                for k in 0..<n { lr[k] = r[start + k * stride]; li[k] = i[start + k * stride] }
                                plan.transform(lr, li, inverse: inverse, scratch: scratch)
                                for k in 0..<n { r[start + k * stride] = lr[k]; i[start + k * stride] = li[k] }
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
