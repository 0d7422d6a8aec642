import MedVoxCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Public API

extension Volume {
    /// This volume resampled onto `grid` (any affine: rotation, shear, other spacing or field of view).
    ///
    /// Each output voxel centre is mapped to world space by `grid.affine` and back into this volume's
    /// voxel indices, where it is interpolated. Because only the affines define the correspondence,
    /// resampling a result back onto `self.grid` inverts any preprocessing step.
    ///
    /// - Parameters:
    ///   - interpolation: `.nearest` for label maps, `.linear` or `.bspline` for images.
    ///   - boundary: what positions outside this volume take (default: 0 beyond its extent).
    ///   - antiAlias: when the output is coarser than the input along an axis (factor f > 1), the
    ///     input is first smoothed with a Gaussian of σ = (f − 1)/2 voxels (as scikit-image's
    ///     `resize(anti_aliasing=True)`); ignored for `.nearest`.
    ///
    /// ```swift
    /// let iso = try t1.resampled(toSpacing: [1, 1, 1], interpolation: .bspline)
    /// let back = try mask.resampled(onto: t1.grid, interpolation: .nearest)
    /// ```
    public func resampled(
        onto grid: Grid, interpolation: Interpolation = .linear, boundary: Boundary = .constant(0),
        antiAlias: Bool = true
    ) throws -> Volume {
        guard let map = IndexMap(from: grid.affine, to: affine) else {
            throw TransformError.invalidParameter(name: "affine", value: "\(affine.rows)", expected: "an invertible voxel-to-world matrix")
        }
        try checkAllocation("resampled volume \(grid.dims)", floats: grid.count * frames)
        if map.m == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0] && grid.dims == shape3 {
            return onGrid(grid, voxels: voxels, frames: frames)
        }
        var sigma = [0.0, 0.0, 0.0]
        if antiAlias && interpolation != .nearest {
            for a in 0..<3 {
                let f = (map.m[4 * a] * map.m[4 * a] + map.m[4 * a + 1] * map.m[4 * a + 1] + map.m[4 * a + 2] * map.m[4 * a + 2]).squareRoot()
                if f > 1 + 1e-6 { sigma[a] = (f - 1) / 2 }
            }
        }
        let inN = frameCount, outN = grid.count
        var out = [Float](repeating: 0, count: outN * frames)
        var work = [Float]()
        let needsCopy = interpolation == .bspline || sigma.contains { $0 > 0 }
        if needsCopy { work = [Float](repeating: 0, count: inN) }
        for f in 0..<frames {
            voxels.withUnsafeBufferPointer { all in
                var src = UnsafeBufferPointer(rebasing: all[(f * inN)..<((f + 1) * inN)])
                work.withUnsafeMutableBufferPointer { w in
                    if needsCopy {
                        _ = w.initialize(from: src)
                        if sigma.contains(where: { $0 > 0 }) { gaussianSmooth(w, dims: shape3, sigma: sigma) }
                        if interpolation == .bspline { bsplinePrefilter(w, dims: shape3) }
                        src = UnsafeBufferPointer(w)
                    }
                    out.withUnsafeMutableBufferPointer { o in
                        let dst = UnsafeMutableBufferPointer(rebasing: o[(f * outN)..<((f + 1) * outN)])
                        if map.isDiagonal {
                            separableSample(src, shape3, dst, grid.dims, map, interpolation, boundary)
                        } else {
                            sampleCoefficients(src, shape3, dst, grid.dims, map, nil, interpolation, boundary)
                        }
                    }
                }
            }
        }
        return onGrid(grid, voxels: out, frames: frames)
    }

    /// The grid with voxel size `spacing` (mm, one value or one per axis) covering the same field of
    /// view: size nᵢ' = round(nᵢ sᵢ / sᵢ'), axes and the outer edge of the first voxel kept.
    public func grid(forSpacing spacing: [Double]) throws -> Grid {
        let s = try Self.perAxis(spacing, name: "spacing")
        let current = affine.columnNorms
        var dims = [Int]()
        var ratio = [Double]()
        for a in 0..<3 {
            guard s[a] > 0, s[a].isFinite else {
                throw TransformError.invalidParameter(name: "spacing", value: "\(spacing)", expected: "positive millimetres")
            }
            let exact = (Double(dims3[a]) * current[a] / s[a]).rounded()
            guard exact.isFinite, exact <= Double(1 << 16) else {
                throw TransformError.invalidParameter(name: "spacing", value: "\(spacing)", expected: "at most 65536 voxels per axis")
            }
            let n = max(1, Int(exact))
            dims.append(n)
            ratio.append(s[a] / current[a])
        }
        return Grid(dims: dims, affine: affine * Self.scaleMap(ratio))
    }

    /// The grid of size `shape` covering exactly the same field of view (voxel size nᵢ sᵢ / nᵢ').
    public func grid(forShape shape: [Int]) throws -> Grid {
        guard shape.count == 3, shape.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }) else {
            throw TransformError.invalidParameter(name: "shape", value: "\(shape)", expected: "three sizes in 1...65536")
        }
        let ratio = (0..<3).map { Double(dims3[$0]) / Double(shape[$0]) }
        return Grid(dims: shape, affine: affine * Self.scaleMap(ratio))
    }

    /// Resampled to voxel size `spacing` mm over the same field of view (see `grid(forSpacing:)`).
    public func resampled(toSpacing spacing: [Double], interpolation: Interpolation = .linear, antiAlias: Bool = true) throws -> Volume {
        try resampled(onto: grid(forSpacing: spacing), interpolation: interpolation, antiAlias: antiAlias)
    }

    /// Resampled to `shape` voxels over the same field of view (scipy `zoom(grid_mode=True)`).
    public func resampled(toShape shape: [Int], interpolation: Interpolation = .linear, antiAlias: Bool = true) throws -> Volume {
        try resampled(onto: grid(forShape: shape), interpolation: interpolation, antiAlias: antiAlias)
    }

    var dims3: [Int] { shape3 }

    /// New index → old index map for a field-of-view-preserving rescale: i = r i' + (r − 1)/2.
    static func scaleMap(_ ratio: [Double]) -> Affine {
        var t = Affine.identity
        for a in 0..<3 {
            t[a, a] = ratio[a]
            t[a, 3] = (ratio[a] - 1) / 2
        }
        return t
    }

    static func perAxis(_ v: [Double], name: String) throws -> [Double] {
        if v.count == 1 { return [v[0], v[0], v[0]] }
        guard v.count == 3 else {
            throw TransformError.invalidParameter(name: name, value: "\(v)", expected: "one value or three")
        }
        return v
    }
}

// MARK: - Kernels

/// Samples `src` (samples, or B-spline coefficients for `.bspline`) at `map · (i, j, k)` (+ an
/// optional displacement in source voxel units) for every output voxel. General (non-separable) path.
func sampleCoefficients(
    _ src: UnsafeBufferPointer<Float>, _ sd: [Int], _ out: UnsafeMutableBufferPointer<Float>, _ od: [Int],
    _ map: IndexMap, _ displacement: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)?,
    _ interp: Interpolation, _ boundary: Boundary
) {
    if ResampleKernels.useC, interp != .bspline, sd[0] * sd[1] * sd[2] < Int(Int32.max) - 1, src.count > 0 {
        ResampleKernels.warp(src, sd, out, od, map, displacement, interp, boundary)
        return
    }
    let nx = sd[0], ny = sd[1], nz = sd[2]
    let ox = od[0], oy = od[1], oz = od[2]
    let sxy = nx * ny
    let m = map.m
    let fill: Float
    if case let .constant(v) = boundary { fill = v } else { fill = 0 }
    let rows = oy * oz
    let chunks = min(rows, 256)
    let s = src.baseAddress!, d = out.baseAddress!
    parallelFor(chunks) { c in
        for row in chunkRange(rows, part: c, of: chunks) {
            let j = Double(row % oy), k = Double(row / oy)
            let bx = m[1] * j + m[2] * k + m[3]
            let by = m[5] * j + m[6] * k + m[7]
            let bz = m[9] * j + m[10] * k + m[11]
            let o0 = row * ox
            for i in 0..<ox {
                let di = Double(i)
                var x = bx + m[0] * di, y = by + m[4] * di, z = bz + m[8] * di
                if let (dx, dy, dz) = displacement {
                    x += Double(dx[o0 + i])
                    y += Double(dy[o0 + i])
                    z += Double(dz[o0 + i])
                }
                if interp == .linear && x >= 0 && y >= 0 && z >= 0 && x < Double(nx - 1) && y < Double(ny - 1) && z < Double(nz - 1) {
                    // Interior fast path.
                    let xi = Int(x), yi = Int(y), zi = Int(z)
                    let fx = Float(x - Double(xi)), fy = Float(y - Double(yi)), fz = Float(z - Double(zi))
                    let p = s + (xi + nx * yi + sxy * zi)
                    let c00 = p[0] + fx * (p[1] - p[0])
                    let c10 = p[nx] + fx * (p[nx + 1] - p[nx])
                    let c01 = p[sxy] + fx * (p[sxy + 1] - p[sxy])
                    let c11 = p[sxy + nx] + fx * (p[sxy + nx + 1] - p[sxy + nx])
                    let c0 = c00 + fy * (c10 - c00), c1 = c01 + fy * (c11 - c01)
                    d[o0 + i] = c0 + fz * (c1 - c0)
                    continue
                }
                let tx = taps(x, nx, interp, boundary)
                let ty = taps(y, ny, interp, boundary)
                let tz = taps(z, nz, interp, boundary)
                if tx.outside || ty.outside || tz.outside {
                    d[o0 + i] = fill
                    continue
                }
                d[o0 + i] = combine(s, nx, sxy, tx, ty, tz, tapCount(interp))
            }
        }
    }
}

/// Σ wx wy wz c over the tensor product of taps.
@inline(__always) func combine(_ s: UnsafePointer<Float>, _ nx: Int, _ sxy: Int, _ tx: Taps, _ ty: Taps, _ tz: Taps, _ n: Int) -> Float {
    @inline(__always) func row(_ base: Int) -> Float {
        switch n {
        case 1: return s[base + Int(tx.i0)]
        case 2: return tx.w0 * s[base + Int(tx.i0)] + tx.w1 * s[base + Int(tx.i1)]
        default:
            return tx.w0 * s[base + Int(tx.i0)] + tx.w1 * s[base + Int(tx.i1)] + tx.w2 * s[base + Int(tx.i2)]
                + tx.w3 * s[base + Int(tx.i3)]
        }
    }
    @inline(__always) func plane(_ base: Int) -> Float {
        switch n {
        case 1: return row(base + nx * Int(ty.i0))
        case 2: return ty.w0 * row(base + nx * Int(ty.i0)) + ty.w1 * row(base + nx * Int(ty.i1))
        default:
            return ty.w0 * row(base + nx * Int(ty.i0)) + ty.w1 * row(base + nx * Int(ty.i1))
                + ty.w2 * row(base + nx * Int(ty.i2)) + ty.w3 * row(base + nx * Int(ty.i3))
        }
    }
    switch n {
    case 1: return plane(sxy * Int(tz.i0))
    case 2: return tz.w0 * plane(sxy * Int(tz.i0)) + tz.w1 * plane(sxy * Int(tz.i1))
    default:
        return tz.w0 * plane(sxy * Int(tz.i0)) + tz.w1 * plane(sxy * Int(tz.i1)) + tz.w2 * plane(sxy * Int(tz.i2))
            + tz.w3 * plane(sxy * Int(tz.i3))
    }
}

/// Per-axis tap tables for a diagonal map: output index o samples x = a·o + b.
struct AxisTable {
    var k: Int
    var index: [Int]
    var weight: [Float]
    var outside: [Bool]
    var anyOutside: Bool

    init(count: Int, a: Double, b: Double, n: Int, interp: Interpolation, boundary: Boundary) {
        k = tapCount(interp)
        index = [Int](repeating: 0, count: count * k)
        weight = [Float](repeating: 0, count: count * k)
        outside = [Bool](repeating: false, count: count)
        anyOutside = false
        for o in 0..<count {
            let t = taps(a * Double(o) + b, n, interp, boundary)
            outside[o] = t.outside
            if t.outside { anyOutside = true; continue }
            let idx = [t.i0, t.i1, t.i2, t.i3], w = [t.w0, t.w1, t.w2, t.w3]
            for q in 0..<k {
                index[o * k + q] = Int(idx[q])
                weight[o * k + q] = w[q]
            }
        }
    }
}

/// Separable resampling for maps without rotation: three 1D passes (x, then y, then z).
/// Mathematically equal to `sampleCoefficients` (same taps), at a fraction of the work.
func separableSample(
    _ src: UnsafeBufferPointer<Float>, _ sd: [Int], _ out: UnsafeMutableBufferPointer<Float>, _ od: [Int],
    _ map: IndexMap, _ interp: Interpolation, _ boundary: Boundary
) {
    let m = map.m
    let tx = AxisTable(count: od[0], a: m[0], b: m[3], n: sd[0], interp: interp, boundary: boundary)
    let ty = AxisTable(count: od[1], a: m[5], b: m[7], n: sd[1], interp: interp, boundary: boundary)
    let tz = AxisTable(count: od[2], a: m[10], b: m[11], n: sd[2], interp: interp, boundary: boundary)
    let ox = od[0], oy = od[1], oz = od[2]
    if ResampleKernels.useC, sd.allSatisfy({ $0 < Int(Int32.max) }), od.allSatisfy({ $0 < Int(Int32.max) }) {
        ResampleKernels.separable(src, sd, out, od, tx, ty, tz)
    } else {
        separableSampleSwift(src, sd, out, od, tx, ty, tz)
    }
    if tx.anyOutside || ty.anyOutside || tz.anyOutside, case let .constant(fill) = boundary {
        let d = out.baseAddress!, plane = ox * oy
        for z in 0..<oz {
            for j in 0..<oy {
                for i in 0..<ox where tx.outside[i] || ty.outside[j] || tz.outside[z] {
                    d[z * plane + j * ox + i] = fill
                }
            }
        }
    }
}

/// The three passes of `separableSample` in Swift (the definition the C kernel reproduces).
func separableSampleSwift(
    _ src: UnsafeBufferPointer<Float>, _ sd: [Int], _ out: UnsafeMutableBufferPointer<Float>, _ od: [Int],
    _ tx: AxisTable, _ ty: AxisTable, _ tz: AxisTable
) {
    let nx = sd[0], ny = sd[1], nz = sd[2], ox = od[0], oy = od[1], oz = od[2]
    let k = tx.k
    var t1 = [Float](repeating: 0, count: ox * ny * nz)
    var t2 = [Float](repeating: 0, count: ox * oy * nz)
    let s = src.baseAddress!, d = out.baseAddress!
    tx.index.withUnsafeBufferPointer { xi in
        tx.weight.withUnsafeBufferPointer { xw in
            t1.withUnsafeMutableBufferPointer { t1p in
                let t = t1p.baseAddress!
                let rows = ny * nz
                let chunks = min(rows, 256)
                parallelFor(chunks) { c in
                    for r in chunkRange(rows, part: c, of: chunks) {
                        let sp = s + r * nx, tp = t + r * ox
                        for o in 0..<ox {
                            var acc: Float = 0
                            for q in 0..<k { acc += xw[o * k + q] * sp[xi[o * k + q]] }
                            tp[o] = acc
                        }
                    }
                }
            }
        }
    }
    // y pass: rows of length ox are combined whole (contiguous, vectorisable).
    ty.index.withUnsafeBufferPointer { yi in
        ty.weight.withUnsafeBufferPointer { yw in
            t1.withUnsafeBufferPointer { t1p in
                t2.withUnsafeMutableBufferPointer { t2p in
                    let a = t1p.baseAddress!, b = t2p.baseAddress!
                    let rows = oy * nz
                    let chunks = min(rows, 256)
                    parallelFor(chunks) { c in
                        for r in chunkRange(rows, part: c, of: chunks) {
                            let j = r % oy, z = r / oy
                            weightedRows(b + r * ox, ox, k, yw.baseAddress! + j * k) { a + (z * ny + yi[j * k + $0]) * ox }
                        }
                    }
                }
            }
        }
    }
    // z pass: planes of ox·oy.
    let plane = ox * oy
    tz.index.withUnsafeBufferPointer { zi in
        tz.weight.withUnsafeBufferPointer { zw in
            t2.withUnsafeBufferPointer { t2p in
                let a = t2p.baseAddress!
                let rows = oy * oz
                let chunks = min(rows, 256)
                parallelFor(chunks) { c in
                    for r in chunkRange(rows, part: c, of: chunks) {
                        let j = r % oy, z = r / oy
                        weightedRows(d + z * plane + j * ox, ox, k, zw.baseAddress! + z * k) { a + zi[z * k + $0] * plane + j * ox }
                    }
                }
            }
        }
    }
}

/// dst[0..<n] = Σ_q w[q] · row(q)[0..<n] over `k` rows (contiguous, vectorisable).
@inline(__always) func weightedRows(_ dst: UnsafeMutablePointer<Float>, _ n: Int, _ k: Int, _ w: UnsafePointer<Float>, _ row: (Int) -> UnsafePointer<Float>) {
    for i in 0..<n { dst[i] = 0 }
    for q in 0..<k where w[q] != 0 {
        let sp = row(q), wq = w[q]
        for i in 0..<n { dst[i] += wq * sp[i] }
    }
}
