import CMedVoxKernels
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
    /// The stages in the C kernels' form (smooth lengths), over storage the plan owns.
    let kernelPlan: mvx_fft_plan
    let kernelStorage: UnsafeMutablePointer<Float>?

    deinit { kernelStorage?.deallocate() }

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
            (kernelPlan, kernelStorage) = Self.kernelForm(n, stages, roots)
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
            kernelPlan = mvx_fft_plan()
            kernelStorage = nil
        }
    }

    /// Copies the stage tables into one allocation laid out as `mvx_fft_plan` describes.
    static func kernelForm(_ n: Int, _ stages: [Stage], _ roots: [Int: ([Float], [Float])]) -> (mvx_fft_plan, UnsafeMutablePointer<Float>?) {
        precondition(stages.count <= Int(MVX_FFT_MAX_STAGES))
        var p = mvx_fft_plan()
        p.n = n
        p.nstages = Int32(stages.count)
        let twCount = stages.reduce(0) { $0 + $1.twr.count }, rootCount = stages.reduce(0) { $0 + $1.radix }
        let storage = UnsafeMutablePointer<Float>.allocate(capacity: max(1, 2 * (twCount + rootCount)))
        let twr = storage, twi = storage + twCount, rr = storage + 2 * twCount, ri = rr + rootCount
        var tw = 0, ro = 0
        withUnsafeMutableBytes(of: &p.radix) { radix in
            withUnsafeMutableBytes(of: &p.tw_off) { twOff in
                withUnsafeMutableBytes(of: &p.root_off) { rootOff in
                    for (k, st) in stages.enumerated() {
                        radix.storeBytes(of: Int32(st.radix), toByteOffset: 4 * k, as: Int32.self)
                        twOff.storeBytes(of: tw, toByteOffset: 8 * k, as: Int.self)
                        rootOff.storeBytes(of: ro, toByteOffset: 8 * k, as: Int.self)
                        (twr + tw).initialize(from: st.twr, count: st.twr.count)
                        (twi + tw).initialize(from: st.twi, count: st.twi.count)
                        let (cr, ci) = roots[st.radix]!
                        (rr + ro).initialize(from: cr, count: st.radix)
                        (ri + ro).initialize(from: ci, count: st.radix)
                        tw += st.twr.count
                        ro += st.radix
                    }
                }
            }
        }
        p.twr = UnsafePointer(twr); p.twi = UnsafePointer(twi); p.rr = UnsafePointer(rr); p.ri = UnsafePointer(ri)
        return (p, storage)
    }

    /// Runs the C stages (`FFTKernels.useC`) over sequences [b0, b1) of a batch.
    @inline(__always) func kernelBatch(
        _ re: UnsafeMutablePointer<Float>, _ im: UnsafeMutablePointer<Float>, _ yr: UnsafeMutablePointer<Float>,
        _ yi: UnsafeMutablePointer<Float>, batch: Int, _ b0: Int, _ b1: Int, inverse: Bool
    ) {
        withUnsafePointer(to: kernelPlan) { mvx_fft_batch($0, FFTKernels.isa, re, im, yr, yi, batch, b0, b1, inverse ? 1 : 0) }
    }

    /// Transforms `n` complex values in place (`inverse` divides by n, as numpy.fft.ifft).
    public func transform(_ re: UnsafeMutablePointer<Float>, _ im: UnsafeMutablePointer<Float>, inverse: Bool, scratch: UnsafeMutablePointer<Float>) {
        let n = size
        if n == 1 { return }
        if inner == nil && FFTKernels.useC {
            kernelBatch(re, im, scratch, scratch + n, batch: 1, 0, 1, inverse: inverse)
            return
        }
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
        if FFTKernels.useC {
            kernelBatch(re, im, yr, yi, batch: batch, b0, b1, inverse: inverse)
            return
        }
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
        // Lanes of `FFTVector.width` sequences at a time, then the leftover sequences one by one.
        let vEnd = b0 + (b1 - b0) / FFTVector.scalarCount * FFTVector.scalarCount
        for stage in stages {
            let r = stage.radix, m = length / r
            let (ar, ai, br, bi) = inX ? (xr, xi, yr, yi) : (yr, yi, xr, xi)
            let roots = self.roots[r] ?? ([], [])
            stage.twr.withUnsafeBufferPointer { twr in
                stage.twi.withUnsafeBufferPointer { twi in
                    roots.0.withUnsafeBufferPointer { rr in
                        roots.1.withUnsafeBufferPointer { ri in
                            let k = StageKernel(r: r, m: m, s: s, B: B, ar: ar, ai: ai, br: br, bi: bi,
                                                twr: twr.baseAddress!, twi: twi.baseAddress!, rr: rr.baseAddress, ri: ri.baseAddress)
                            if vEnd > b0 { k.run(FFTVector.self, b0, vEnd) }
                            if b1 > vEnd { k.run(Float.self, vEnd, b1) }
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

/// The instruction set of the C FFT kernels (fft.c), and the switch back to the Swift definition
/// (tests compare the two bit for bit), both from `KernelSettings.current`.
enum FFTKernels {
    static var isa: Int32 { KernelSettings.current.isa.rawValue }
    static var useC: Bool { !KernelSettings.current.reference }
}

/// The SIMD width of the FFT's batched loops (8 lanes: two SSE or one AVX register).
typealias FFTVector = SIMD8<Float>

/// One value per sequence of a batch: a scalar (leftovers) or a SIMD vector of adjacent sequences.
protocol FFTLane {
    static func load(_ p: UnsafeMutablePointer<Float>) -> Self
    func store(_ p: UnsafeMutablePointer<Float>)
    static func splat(_ x: Float) -> Self
    static var lanes: Int { get }
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
}

extension Float: FFTLane {
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> Float { p.pointee }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { p.pointee = self }
    @inline(__always) static func splat(_ x: Float) -> Float { x }
    static var lanes: Int { 1 }
}

extension SIMD8: FFTLane where Scalar == Float {
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: self, as: SIMD8<Float>.self) }
    @inline(__always) static func splat(_ x: Float) -> SIMD8<Float> { SIMD8(repeating: x) }
    static var lanes: Int { 8 }
}

/// One Stockham stage over sequences b ∈ [b0, b1): radix-2/3/4/5 butterflies written out, other
/// radices (7…13) as a direct DFT. Element t of sequence b lives at b + B·t.
struct StageKernel {
    let r: Int, m: Int, s: Int, B: Int
    let ar: UnsafeMutablePointer<Float>, ai: UnsafeMutablePointer<Float>
    let br: UnsafeMutablePointer<Float>, bi: UnsafeMutablePointer<Float>
    let twr: UnsafePointer<Float>, twi: UnsafePointer<Float>
    let rr: UnsafePointer<Float>?, ri: UnsafePointer<Float>?

    /// Twiddle-multiplies (yr, yi) by W_L^{p·u} and stores it at output offset o + u·s·B.
    @inline(__always) func put<V: FFTLane>(_ yr: V, _ yi: V, _ p: Int, _ u: Int, _ o: Int) {
        let d = o + u * s * B
        if u == 0 {
            yr.store(br + d); yi.store(bi + d)
            return
        }
        let wr = V.splat(twr[p * r + u]), wi = V.splat(twi[p * r + u])
        (yr * wr - yi * wi).store(br + d)
        (yr * wi + yi * wr).store(bi + d)
    }

    func run<V: FFTLane>(_: V.Type, _ b0: Int, _ b1: Int) {
        let mB = m * s * B
        for p in 0..<m {
            for q in 0..<s {
                let a = B * (q + s * p), o0 = B * (q + s * r * p)
                var b = b0
                while b < b1 {
                    let i0 = a + b, o = o0 + b
                    switch r {
                    case 2:
                        let x0r = V.load(ar + i0), x0i = V.load(ai + i0), x1r = V.load(ar + i0 + mB), x1i = V.load(ai + i0 + mB)
                        put(x0r + x1r, x0i + x1i, p, 0, o)
                        put(x0r - x1r, x0i - x1i, p, 1, o)
                    case 3:
                        let sn = V.splat(Float(3.0.squareRoot() / 2)), half = V.splat(0.5)
                        let x0r = V.load(ar + i0), x0i = V.load(ai + i0)
                        let x1r = V.load(ar + i0 + mB), x1i = V.load(ai + i0 + mB)
                        let x2r = V.load(ar + i0 + 2 * mB), x2i = V.load(ai + i0 + 2 * mB)
                        let t1r = x1r + x2r, t1i = x1i + x2i
                        let t2r = sn * (x1r - x2r), t2i = sn * (x1i - x2i)
                        let mr = x0r - half * t1r, mi = x0i - half * t1i
                        put(x0r + t1r, x0i + t1i, p, 0, o)
                        put(mr + t2i, mi - t2r, p, 1, o)
                        put(mr - t2i, mi + t2r, p, 2, o)
                    case 4:
                        let x0r = V.load(ar + i0), x0i = V.load(ai + i0)
                        let x1r = V.load(ar + i0 + mB), x1i = V.load(ai + i0 + mB)
                        let x2r = V.load(ar + i0 + 2 * mB), x2i = V.load(ai + i0 + 2 * mB)
                        let x3r = V.load(ar + i0 + 3 * mB), x3i = V.load(ai + i0 + 3 * mB)
                        let t0r = x0r + x2r, t0i = x0i + x2i, t1r = x0r - x2r, t1i = x0i - x2i
                        let t2r = x1r + x3r, t2i = x1i + x3i
                        let t3r = x1i - x3i, t3i = x3r - x1r  // (x1 − x3)·(−i)
                        put(t0r + t2r, t0i + t2i, p, 0, o)
                        put(t1r + t3r, t1i + t3i, p, 1, o)
                        put(t0r - t2r, t0i - t2i, p, 2, o)
                        put(t1r - t3r, t1i - t3i, p, 3, o)
                    case 5:
                        let c1 = V.splat(Float(cos(2 * Double.pi / 5))), c2 = V.splat(Float(cos(4 * Double.pi / 5)))
                        let s1 = V.splat(Float(sin(2 * Double.pi / 5))), s2 = V.splat(Float(sin(4 * Double.pi / 5)))
                        let x0r = V.load(ar + i0), x0i = V.load(ai + i0)
                        let x1r = V.load(ar + i0 + mB), x1i = V.load(ai + i0 + mB)
                        let x2r = V.load(ar + i0 + 2 * mB), x2i = V.load(ai + i0 + 2 * mB)
                        let x3r = V.load(ar + i0 + 3 * mB), x3i = V.load(ai + i0 + 3 * mB)
                        let x4r = V.load(ar + i0 + 4 * mB), x4i = V.load(ai + i0 + 4 * mB)
                        let t1r = x1r + x4r, t1i = x1i + x4i, t2r = x2r + x3r, t2i = x2i + x3i
                        let t3r = x1r - x4r, t3i = x1i - x4i, t4r = x2r - x3r, t4i = x2i - x3i
                        let a1r = x0r + c1 * t1r + c2 * t2r, a1i = x0i + c1 * t1i + c2 * t2i
                        let a2r = x0r + c2 * t1r + c1 * t2r, a2i = x0i + c2 * t1i + c1 * t2i
                        let b1r = s1 * t3r + s2 * t4r, b1i = s1 * t3i + s2 * t4i
                        let b2r = s2 * t3r - s1 * t4r, b2i = s2 * t3i - s1 * t4i
                        // y1 = a1 − i·b1, y4 = a1 + i·b1, y2 = a2 − i·b2, y3 = a2 + i·b2.
                        put(x0r + t1r + t2r, x0i + t1i + t2i, p, 0, o)
                        put(a1r + b1i, a1i - b1r, p, 1, o)
                        put(a2r + b2i, a2i - b2r, p, 2, o)
                        put(a2r - b2i, a2i + b2r, p, 3, o)
                        put(a1r - b1i, a1i + b1r, p, 4, o)
                    default:
                        for u in 0..<r {
                            var sr = V.splat(0), si = V.splat(0)
                            var idx = 0
                            for k in 0..<r {
                                let xr = V.load(ar + i0 + k * mB), xi = V.load(ai + i0 + k * mB)
                                let cr = V.splat(rr![idx]), ci = V.splat(ri![idx])
                                sr = sr + xr * cr - xi * ci
                                si = si + xr * ci + xi * cr
                                idx += u
                                if idx >= r { idx -= r }
                            }
                            put(sr, si, p, u, o)
                        }
                    }
                    b += V.lanes
                }
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
                Self.fft(rp.baseAddress!, ip.baseAddress!, dims: d, axes: axes, inverse: inverse)
            }
        }
    }

    static func fft(_ r: UnsafeMutablePointer<Float>, _ i: UnsafeMutablePointer<Float>, dims d: [Int], axes: [Int], inverse: Bool) {
                for axis in axes where d[axis] > 1 {
                    let n = d[axis]
                    let plan = FFTPlan(size: n)
                    if axis == 0 && plan.supportsBatch {
                        // Contiguous lines: blocks of 16 are transposed into a batch (element t of
                        // line b at b + 16·t) so the butterflies run across lines in SIMD lanes.
                        let block = 16
                        let lines = d[1] * d[2]
                        let items = (lines + block - 1) / block
                        let chunks = min(items, 64)
                        parallelFor(chunks) { c in
                            let buf = UnsafeMutablePointer<Float>.allocate(capacity: 4 * n * block)
                            defer { buf.deallocate() }
                            let tr = buf, ti = buf + n * block, yr = buf + 2 * n * block, yi = buf + 3 * n * block
                            if FFTKernels.useC {
                                let range = chunkRange(items, part: c, of: chunks)
                                let l0 = range.lowerBound * block, l1 = min(lines, range.upperBound * block)
                                withUnsafePointer(to: plan.kernelPlan) { mvx_fft_lines($0, FFTKernels.isa, r, i, l0, l1, inverse ? 1 : 0, buf) }
                                return
                            }
                            for item in chunkRange(items, part: c, of: chunks) {
                                let l0 = item * block, count = min(block, lines - l0)
                                for b in 0..<count {
                                    let src = (l0 + b) * n
                                    for t in 0..<n { tr[t * block + b] = r[src + t]; ti[t * block + b] = i[src + t] }
                                }
                                plan.transformBatch(tr, ti, yr, yi, batch: block, 0, count, inverse: inverse)
                                for b in 0..<count {
                                    let dst = (l0 + b) * n
                                    for t in 0..<n { r[dst + t] = tr[t * block + b]; i[dst + t] = ti[t * block + b] }
                                }
                            }
                        }
                        continue
                    }
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

    /// max_k |FFT(v)[k]| of a real volume at about half the cost of a full complex transform: z-planes
    /// 2m and 2m+1 ride as the real and imaginary parts of one complex plane through the in-plane
    /// transform, are separated by Hermitian symmetry (A[k] = (Z[k] + Z*[−k])/2, B[k] = (Z[k] − Z*[−k])/2i),
    /// and only the half k_x ≤ n_x/2 goes through the z transform — |X[−k]| = |X[k]| for real input
    /// covers the other half.
    public static func peakMagnitude(ofReal v: [Float], dims d: [Int]) -> Double {
        precondition(d.count == 3 && v.count == d[0] * d[1] * d[2])
        let nx = d[0], ny = d[1], nz = d[2], plane = nx * ny
        let pairs = (nz + 1) / 2, half = nx / 2 + 1
        func uninitialised(_ n: Int) -> [Float] { [Float](unsafeUninitializedCapacity: n) { _, c in c = n } }
        var z = ComplexVolume(dims: [nx, ny, pairs], re: uninitialised(plane * pairs), im: uninitialised(plane * pairs))
        v.withUnsafeBufferPointer { src in
            z.re.withUnsafeMutableBufferPointer { r in
                z.im.withUnsafeMutableBufferPointer { i in
                    parallelFor(pairs) { m in
                        (r.baseAddress! + m * plane).update(from: src.baseAddress! + 2 * m * plane, count: plane)
                        if 2 * m + 1 < nz {
                            (i.baseAddress! + m * plane).update(from: src.baseAddress! + (2 * m + 1) * plane, count: plane)
                        } else {
                            (i.baseAddress! + m * plane).update(repeating: 0, count: plane)
                        }
                    }
                }
            }
        }
        z.fft(axes: [0, 1])
        var w = ComplexVolume(dims: [half, ny, nz], re: uninitialised(half * ny * nz), im: uninitialised(half * ny * nz))  // all written below
        z.re.withUnsafeBufferPointer { zr in
            z.im.withUnsafeBufferPointer { zi in
                w.re.withUnsafeMutableBufferPointer { wr in
                    w.im.withUnsafeMutableBufferPointer { wi in
                        parallelFor(pairs) { m in
                            let a = 2 * m * half * ny, b = a + half * ny, hasB = 2 * m + 1 < nz
                            for ky in 0..<ny {
                                let row = m * plane + ky * nx, mirror = m * plane + ((ny - ky) % ny) * nx
                                for kx in 0..<half {
                                    let p = row + kx, q = mirror + (nx - kx) % nx
                                    let o = ky * half + kx
                                    // Z[k] = (zr[p], zi[p]); Z*[−k] = (zr[q], −zi[q]).
                                    wr[a + o] = 0.5 * (zr[p] + zr[q])
                                    wi[a + o] = 0.5 * (zi[p] - zi[q])
                                    if hasB {
                                        wr[b + o] = 0.5 * (zi[p] + zi[q])
                                        wi[b + o] = 0.5 * (zr[q] - zr[p])
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        z = ComplexVolume(dims: [1, 1, 1], re: [0])
        w.fft(axes: [2])
        return w.maxMagnitude
    }

    /// max |z| over the voxels (the same value at any thread count).
    public var maxMagnitude: Double {
        let n = re.count
        let chunks = max(1, min(64, n >> 16))
        var peaks = [Float](repeating: 0, count: chunks)
        re.withUnsafeBufferPointer { r in
            im.withUnsafeBufferPointer { i in
                peaks.withUnsafeMutableBufferPointer { pk in
                    parallelFor(chunks) { c in
                        let range = chunkRange(n, part: c, of: chunks)
                        pk[c] = mvx_max_abs2(r.baseAddress! + range.lowerBound, i.baseAddress! + range.lowerBound, range.count, FFTKernels.isa)
                    }
                }
            }
        }
        return Double(peaks.max() ?? 0).squareRoot()
    }

    /// |z| per voxel.
    public var magnitude: [Float] {
        let n = re.count
        var out = [Float](unsafeUninitializedCapacity: n) { _, c in c = n }  // every value is written below
        let chunks = max(1, min(64, n >> 16))
        re.withUnsafeBufferPointer { r in
            im.withUnsafeBufferPointer { i in
                out.withUnsafeMutableBufferPointer { o in
                    parallelFor(chunks) { c in
                        let range = chunkRange(n, part: c, of: chunks), a = range.lowerBound
                        mvx_magnitude(r.baseAddress! + a, i.baseAddress! + a, o.baseAddress! + a, range.count, FFTKernels.isa)
                    }
                }
            }
        }
        return out
    }
}
