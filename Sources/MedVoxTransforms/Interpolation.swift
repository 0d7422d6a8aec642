import MedVoxCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How values between voxel centres are computed.
public enum Interpolation: String, Codable, Sendable, CaseIterable {
    /// Nearest voxel (label maps: values are copied, never mixed).
    case nearest
    /// Trilinear.
    case linear
    /// Cubic B-spline (order 3) of prefiltered coefficients, as `scipy.ndimage.map_coordinates(order=3)`
    /// (Unser, "Splines: a perfect fit for signal and image processing", IEEE SPM 1999).
    case bspline
}

/// What a sample position outside the input grid takes.
///
/// - `constant(v)`: positions outside the grid's extent (more than half a voxel beyond the first or
///   last voxel centre) get `v`; positions inside it are clamped to the edge (linear, nearest) or use
///   mirrored coefficients (B-spline). Inside the extent this equals scipy's `mode="nearest"`
///   (order 0/1) or `mode="mirror"` (order 3).
/// - `edge`: every position is clamped to the grid (scipy `mode="nearest"` for orders 0 and 1).
public enum Boundary: Sendable, Equatable {
    case constant(Float)
    case edge
}

/// Up to four (index, weight) taps of a 1D interpolation kernel at one position.
@usableFromInline struct Taps {
    @usableFromInline var i0: Int32 = 0, i1: Int32 = 0, i2: Int32 = 0, i3: Int32 = 0
    @usableFromInline var w0: Float = 0, w1: Float = 0, w2: Float = 0, w3: Float = 0
    /// The position lies outside the grid's extent (constant boundary only).
    @usableFromInline var outside = false
}

@inline(__always) func mirrorIndex(_ i: Int, _ n: Int) -> Int {
    if n == 1 { return 0 }
    if i >= 0 && i < n { return i }
    let period = 2 * n - 2
    var j = abs(i) % period
    if j >= n { j = period - j }
    return j
}

/// Number of taps each interpolation uses per axis.
@inline(__always) func tapCount(_ interp: Interpolation) -> Int {
    switch interp {
    case .nearest: return 1
    case .linear: return 2
    case .bspline: return 4
    }
}

/// The 1D taps at source position `x` (in voxel index units) on an axis of `n` voxels.
@inline(__always) func taps(_ x: Double, _ n: Int, _ interp: Interpolation, _ boundary: Boundary) -> Taps {
    var t = Taps()
    var x = x
    if case .constant = boundary {
        if !(x >= -0.5 - 1e-9 && x <= Double(n) - 0.5 + 1e-9) {
            t.outside = true
            return t
        }
    }
    switch interp {
    case .nearest:
        var i = Int((clampCoordinate(x, -1, Double(n)) + 0.5).rounded(.down))
        i = min(max(i, 0), n - 1)
        t.i0 = Int32(i)
        t.w0 = 1
    case .linear:
        x = clampCoordinate(x, 0, Double(n - 1))
        var i = Int(x.rounded(.down))
        if i > n - 2 { i = max(n - 2, 0) }
        let f = x - Double(i)
        t.i0 = Int32(i)
        t.i1 = Int32(min(i + 1, n - 1))
        t.w0 = Float(1 - f)
        t.w1 = Float(f)
    case .bspline:
        if boundary == .edge { x = clampCoordinate(x, 0, Double(n - 1)) }
        let fl = x.rounded(.down)
        let f = x - fl
        let i = Int(fl) - 1
        let f2 = f * f, f3 = f2 * f
        let g = 1 - f
        t.w0 = Float(g * g * g / 6)
        t.w1 = Float((3 * f3 - 6 * f2 + 4) / 6)
        t.w2 = Float((-3 * f3 + 3 * f2 + 3 * f + 1) / 6)
        t.w3 = Float(f3 / 6)
        t.i0 = Int32(mirrorIndex(i, n))
        t.i1 = Int32(mirrorIndex(i + 1, n))
        t.i2 = Int32(mirrorIndex(i + 2, n))
        t.i3 = Int32(mirrorIndex(i + 3, n))
    }
    return t
}

// MARK: - B-spline prefilter and Gaussian smoothing (separable, one axis at a time)

/// The first voxel of line `l` along `axis` (lines numbered with the other two axes, x fastest).
@inline(__always) func lineStart(_ l: Int, axis: Int, nx: Int, ny: Int) -> Int {
    switch axis {
    case 0: return l * nx
    case 1: return (l % nx) + (l / nx) * nx * ny
    default: return l
    }
}

/// Calls `body(start, stride, length)` for every line of `dims` along `axis`, in parallel over
/// fixed chunks of lines (results do not depend on the thread count).
func forEachLine(_ dims: [Int], axis: Int, _ body: (_ start: Int, _ stride: Int, _ n: Int, _ scratch: UnsafeMutablePointer<Double>) -> Void, scratchCount: Int) {
    let nx = dims[0], ny = dims[1], nz = dims[2]
    let n = dims[axis]
    let stride = axis == 0 ? 1 : (axis == 1 ? nx : nx * ny)
    let lines = nx * ny * nz / n
    let chunks = min(lines, 64)
    parallelFor(chunks) { c in
        let scratch = UnsafeMutablePointer<Double>.allocate(capacity: max(scratchCount, 1))
        defer { scratch.deallocate() }
        for l in chunkRange(lines, part: c, of: chunks) {
            body(lineStart(l, axis: axis, nx: nx, ny: ny), stride, n, scratch)
        }
    }
}

/// The B-spline pole of order 3.
let bsplinePole = 3.0.squareRoot() - 2

/// Converts samples to cubic B-spline coefficients in place along every axis (mirror boundary), as
/// `scipy.ndimage.spline_filter(order=3, mode="mirror")`.
func bsplinePrefilter(_ data: UnsafeMutableBufferPointer<Float>, dims: [Int]) {
    let base = data.baseAddress!
    if dims[0] > 1 {
        let w = causalInitWeights(dims[0])
        forEachLine(dims, axis: 0, { start, stride, n, c in
            for k in 0..<n { c[k] = Double(base[start + k * stride]) }
            prefilterLine(c, n, w)
            for k in 0..<n { base[start + k * stride] = Float(c[k]) }
        }, scratchCount: dims[0])
    }
    // Strided axes: the same recursion on whole rows of adjacent lines at once.
    for axis in 1..<3 where dims[axis] > 1 {
        let n = dims[axis]
        let z = bsplinePole
        let w = causalInitWeights(n).map(Float.init)
        let zf = Float(z), gain: Float = 6, anti = Float(z / (z * z - 1))
        forEachRun(dims, axis: axis) { start, stride, b0, b1 in
            @inline(__always) func row(_ k: Int) -> UnsafeMutablePointer<Float> { base + start + k * stride }
            for k in 0..<n { let r = row(k); for b in b0..<b1 { r[b] *= gain } }
            // c[0] = Σ w_k c[k] (rows accumulate into a scratch-free pass: start from the last weight).
            let r0 = row(0)
            for b in b0..<b1 { r0[b] *= w[0] }
            for k in 1..<w.count { let r = row(k), wk = w[k]; for b in b0..<b1 { r0[b] += wk * r[b] } }
            for k in 1..<n { let r = row(k), p = row(k - 1); for b in b0..<b1 { r[b] += zf * p[b] } }
            let last = row(n - 1), prev = row(n - 2)
            for b in b0..<b1 { last[b] = anti * (zf * prev[b] + last[b]) }
            var k = n - 2
            while k >= 0 {
                let r = row(k), nx = row(k + 1)
                for b in b0..<b1 { r[b] = zf * (nx[b] - r[b]) }
                k -= 1
            }
        }
    }
}

/// Weights w_k with c⁺[0] = Σ_k w_k c[k] for the causal initialisation of the prefilter: the exact
/// mirror-boundary sum for short lines, z^k truncated at 1e-12 otherwise (Unser 1999).
func causalInitWeights(_ n: Int) -> [Double] {
    let z = bsplinePole
    let horizon = Int((log(1e-12) / log(abs(z))).rounded(.up))
    if horizon < n { return (0..<horizon).map { pow(z, Double($0)) } }
    let d = 1 - pow(z, Double(2 * n - 2))
    return (0..<n).map { k in
        if k == 0 { return 1 / d }
        if k == n - 1 { return pow(z, Double(n - 1)) / d }
        return (pow(z, Double(k)) + pow(z, Double(2 * n - 2 - k))) / d
    }
}

/// Calls `body(start, stride, b0, b1)` for runs of adjacent lines along strided `axis` (1 or 2):
/// element k of line b is at `start + k·stride + b`. Runs are fixed (not thread-dependent).
func forEachRun(_ dims: [Int], axis: Int, _ body: (_ start: Int, _ stride: Int, _ b0: Int, _ b1: Int) -> Void) {
    let stride = axis == 1 ? dims[0] : dims[0] * dims[1]
    let outer = axis == 1 ? dims[2] : 1
    let run = 1024
    let perOuter = (stride + run - 1) / run
    let items = outer * perOuter
    parallelFor(min(items, 256)) { c in
        for item in chunkRange(items, part: c, of: min(items, 256)) {
            let b0 = (item % perOuter) * run
            body((item / perOuter) * dims[0] * dims[1], stride, b0, min(b0 + run, stride))
        }
    }
}

/// Recursive cubic B-spline prefilter of one line (Unser 1999, mirror-symmetric boundary).
func prefilterLine(_ c: UnsafeMutablePointer<Double>, _ n: Int, _ w: [Double]) {
    guard n > 1 else { return }
    let z = bsplinePole
    for k in 0..<n { c[k] *= 6 }  // gain (1 − z)(1 − 1/z)
    // Causal initialisation (weights from `causalInitWeights(n)`).
    var sum = 0.0
    for k in 0..<w.count { sum += w[k] * c[k] }
    c[0] = sum
    for k in 1..<n { c[k] += z * c[k - 1] }
    c[n - 1] = (z / (z * z - 1)) * (z * c[n - 2] + c[n - 1])
    var k = n - 2
    while k >= 0 {
        c[k] = z * (c[k + 1] - c[k])
        k -= 1
    }
}

/// Kernels wider than this many taps are applied by FFT (see `gaussianSmoothFFT`).
let fftSmoothingTaps = 128

/// The reflect-boundary Gaussian of `gaussianSmooth` along one axis as a circular convolution
/// over the reflection period 2n (the line, then the line reversed), by FFT: O(n log n) per line
/// whatever the kernel's width. A direct pass costs 2r+1 operations per voxel, which for large
/// downsampling ratios (σ up to 4n) made resampling take minutes (a fuzzed pipeline timed out).
/// `weights` are the 2r+1 normalised taps; they are folded onto the period first.
func gaussianSmoothFFT(_ base: UnsafeMutablePointer<Float>, dims: [Int], axis: Int, weights w: [Double], radius: Int) {
    let n = dims[axis], period = 2 * n
    var folded = [Double](repeating: 0, count: period)
    for t in -radius...radius { folded[((t % period) + period) % period] += w[t + radius] }
    let plan = FFTPlan(size: period)
    // The folded kernel is symmetric, so its spectrum is real.
    var spectrum = folded.map { Float($0) }
    var imaginary = [Float](repeating: 0, count: period)
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(plan.scratchCount, 1))
    spectrum.withUnsafeMutableBufferPointer { re in
        imaginary.withUnsafeMutableBufferPointer { im in plan.transform(re.baseAddress!, im.baseAddress!, inverse: false, scratch: scratch) }
    }
    scratch.deallocate()
    let nx = dims[0], ny = dims[1], nz = dims[2]
    let stride = axis == 0 ? 1 : (axis == 1 ? nx : nx * ny)
    let lines = nx * ny * nz / n
    let chunks = min(lines, 64)
    spectrum.withUnsafeBufferPointer { sp in
        parallelFor(chunks) { c in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 2 * period + max(plan.scratchCount, 1))
            defer { buffer.deallocate() }
            let re = buffer, im = buffer + period, work = buffer + 2 * period
            for l in chunkRange(lines, part: c, of: chunks) {
                let start = lineStart(l, axis: axis, nx: nx, ny: ny)
                for j in 0..<n {
                    let v = base[start + j * stride]
                    re[j] = v
                    re[period - 1 - j] = v
                }
                for j in 0..<period { im[j] = 0 }
                plan.transform(re, im, inverse: false, scratch: work)
                for j in 0..<period {
                    re[j] *= sp[j]
                    im[j] *= sp[j]
                }
                plan.transform(re, im, inverse: true, scratch: work)
                for j in 0..<n { base[start + j * stride] = re[j] }
            }
        }
    }
}

/// `x` clamped to [lo, hi], NaN to lo: a coordinate safe to convert to Int whatever the map
/// (an absurd affine can send positions to ±1e300 or NaN).
@inline(__always) func clampCoordinate(_ x: Double, _ lo: Double, _ hi: Double) -> Double {
    x.isNaN ? lo : min(max(x, lo), hi)
}

/// Gaussian smoothing in place with standard deviations `sigma` in voxels per axis, kernel
/// truncated at 4σ, reflect boundary — `scipy.ndimage.gaussian_filter(mode="reflect", truncate=4)`.
func gaussianSmooth(_ data: UnsafeMutableBufferPointer<Float>, dims: [Int], sigma: [Double]) {
    let base = data.baseAddress!
    for axis in 0..<3 where sigma[axis] > 0 && dims[axis] > 1 {
        // Beyond a few lengths of the axis the reflected kernel is flat (the result is the axis
        // mean to Float precision); the cap keeps the kernel's size bounded for absurd ratios
        // (a fuzzed pipeline asked for 2e24 mm voxels).
        let s = min(sigma[axis], 4 * Double(dims[axis]))
        let radius = Int(4 * s + 0.5)
        guard radius > 0 else { continue }
        var w = (-radius...radius).map { exp(-0.5 * Double($0 * $0) / (s * s)) }
        let total = w.reduce(0, +)
        w = w.map { $0 / total }
        if 2 * radius + 1 > fftSmoothingTaps {
            gaussianSmoothFFT(base, dims: dims, axis: axis, weights: w, radius: radius)
            continue
        }
        let n = dims[axis]
        /// Reflect (d c b a | a b c d | d c b a) index.
        let reflect = (0..<(n + 2 * radius)).map { k -> Int in
            let period = 2 * n
            var i = ((k - radius) % period + period) % period
            if i >= n { i = period - 1 - i }
            return i
        }
        if axis == 0 {
            w.withUnsafeBufferPointer { wp in
                forEachLine(dims, axis: axis, { start, stride, n, pad in
                    // pad[0 ..< n + 2r]: the line extended by reflection.
                    for k in 0..<(n + 2 * radius) { pad[k] = Double(base[start + reflect[k] * stride]) }
                    for k in 0..<n {
                        var acc = 0.0
                        for t in 0..<(2 * radius + 1) { acc += wp[t] * pad[k + t] }
                        base[start + k * stride] = Float(acc)
                    }
                }, scratchCount: n + 2 * radius)
            }
            continue
        }
        // Strided axes: whole rows of adjacent lines, read from a copy of the input.
        let copy = Array(data)
        let wf = w.map(Float.init)
        copy.withUnsafeBufferPointer { cp in
            let src = cp.baseAddress!
            forEachRun(dims, axis: axis) { start, stride, b0, b1 in
                for k in 0..<n {
                    let out = base + start + k * stride
                    for b in b0..<b1 { out[b] = 0 }
                    for t in 0..<(2 * radius + 1) {
                        let inp = src + start + reflect[k + t] * stride, wt = wf[t]
                        for b in b0..<b1 { out[b] += wt * inp[b] }
                    }
                }
            }
        }
    }
}
