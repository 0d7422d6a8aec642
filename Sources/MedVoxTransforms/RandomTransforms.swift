import Foundation
import MedVoxCore

/// The implementations of the random transforms: each draws its parameters from `rng`, changes the
/// sample, and returns what it drew. Voxel-wise randomness uses one `split(stream:)` generator per
/// z-slice, so results never depend on the thread count.
enum Augmenter {
    static func apply(_ spec: AugmentSpec, to s: inout Sample, rng: inout SeededGenerator) throws -> [String: [Double]] {
        switch spec.transform {
        case .flip: return try flip(spec, &s, &rng)
        case .affine: return try affine(spec, &s, &rng)
        case .elastic: return try elastic(spec, &s, &rng)
        case .anisotropy: return try anisotropy(spec, &s, &rng)
        case .noise, .rician: return try noise(spec, &s, &rng)
        case .blur: return try blur(spec, &s, &rng)
        case .gamma: return try gamma(spec, &s, &rng)
        case .brightnessContrast: return try brightnessContrast(spec, &s, &rng)
        case .biasField: return try biasField(spec, &s, &rng)
        case .labelSynthesis: return try labelSynthesis(spec, &s, &rng)
        case .motion: return try motion(spec, &s, &rng)
        case .ghosting, .spike, .undersample: return try kspaceArtefact(spec, &s, &rng)
        case .oneOf: throw TransformError.invalidParameter(name: "one_of", value: "nested", expected: "a plain transform")
        }
    }

    // MARK: Parameter helpers

    /// A range from a spec value: nil → `fallback`; one value v → [−v, v] (`symmetric`) or [0, v]; two → as given.
    static func range(_ v: [Double]?, _ fallback: [Double], symmetric: Bool, name: String) throws -> (Double, Double) {
        let r = v ?? fallback
        switch r.count {
        case 1: return symmetric ? (-abs(r[0]), abs(r[0])) : (0, r[0])
        case 2 where r[0] <= r[1] && r.allSatisfy(\.isFinite): return (r[0], r[1])
        default: throw TransformError.invalidParameter(name: name, value: "\(r)", expected: "one number or [low, high]")
        }
    }

    static func axes(_ spec: AugmentSpec, default d: [Int]) throws -> [Int] {
        let a = spec.axes ?? d
        guard !a.isEmpty, a.allSatisfy({ (0..<3).contains($0) }) else {
            throw TransformError.invalidParameter(name: "axes", value: "\(a)", expected: "voxel axes among 0, 1, 2")
        }
        return a
    }

    // MARK: Spatial

    static func flip(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        var flipped = [Int]()
        for a in try axes(spec, default: [0]) where rng.bernoulli(0.5) { flipped.append(a) }
        if !flipped.isEmpty {
            s.image = s.image.flipped(axes: flipped)
            s.labels = s.labels.map { $0.flipped(axes: flipped) }
        }
        return ["axes": flipped.map(Double.init)]
    }

    /// World-space map (output world → input world) about the centre of the volume.
    static func worldTransform(_ v: Volume, linear l: [Double], translation t: [Double]) -> Affine {
        let c = v.worldPosition(Double(v.nx - 1) / 2, Double(v.ny - 1) / 2, Double(v.nz - 1) / 2)
        var a = Affine.identity
        for r in 0..<3 {
            for k in 0..<3 { a[r, k] = l[3 * r + k] }
            a[r, 3] = c[r] + t[r] - (l[3 * r] * c[0] + l[3 * r + 1] * c[1] + l[3 * r + 2] * c[2])
        }
        return a
    }

    static func rotation(degrees d: [Double]) -> [Double] {
        let (x, y, z) = (d[0] * .pi / 180, d[1] * .pi / 180, d[2] * .pi / 180)
        let rx: [Double] = [1, 0, 0, 0, cos(x), -sin(x), 0, sin(x), cos(x)]
        let ry: [Double] = [cos(y), 0, sin(y), 0, 1, 0, -sin(y), 0, cos(y)]
        let rz: [Double] = [cos(z), -sin(z), 0, sin(z), cos(z), 0, 0, 0, 1]
        return product3x3(rz, product3x3(ry, rx))
    }

    /// Resamples image (linear, fill = its minimum) and labels (nearest, fill 0) through a world map.
    static func applyWorldMap(_ s: inout Sample, _ world: Affine) throws {
        guard let inv = s.image.affine.inverse else {
            throw TransformError.invalidParameter(name: "affine", value: "\(s.image.affine.rows)", expected: "an invertible affine")
        }
        let map = IndexMap(Array((inv * world * s.image.affine).m[0..<12]))
        let fill = ResampleKernels.minFinite(s.image.voxels) ?? 0
        s.image = warpSameGrid(s.image, map: map, displacement: nil, interp: .linear, fill: fill)
        s.labels = s.labels.map { warpSameGrid($0, map: map, displacement: nil, interp: .nearest, fill: 0) }
    }

    static func affine(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        let dr = try range(spec.degrees, [10], symmetric: true, name: "degrees")
        let sr = try range(spec.scales, [0.9, 1.1], symmetric: false, name: "scales")
        let tr = try range(spec.translation, [0], symmetric: true, name: "translation")
        let hr = try range(spec.shear, [0], symmetric: true, name: "shear")
        guard sr.0 > 0 else { throw TransformError.invalidParameter(name: "scales", value: "\(sr)", expected: "positive factors") }
        let angles = (0..<3).map { _ in rng.uniform(dr.0, dr.1) }
        var scales = (0..<3).map { _ in rng.uniform(sr.0, sr.1) }
        if spec.isotropic == true { scales = [scales[0], scales[0], scales[0]] }
        let shifts = (0..<3).map { _ in rng.uniform(tr.0, tr.1) }
        let shears = (0..<3).map { _ in rng.uniform(hr.0, hr.1) }
        // Output → input: rotate, shear, then scale by 1/scale (a scale > 1 enlarges the anatomy).
        let sh: [Double] = [1, shears[0], shears[1], 0, 1, shears[2], 0, 0, 1]
        let sc: [Double] = [1 / scales[0], 0, 0, 0, 1 / scales[1], 0, 0, 0, 1 / scales[2]]
        let l = product3x3(rotation(degrees: angles), product3x3(sh, sc))
        try applyWorldMap(&s, worldTransform(s.image, linear: l, translation: shifts))
        return ["degrees": angles, "scales": scales, "translation": shifts, "shear": shears]
    }

    static func elastic(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        let cp = spec.controlPoints ?? 7
        let maxD = spec.maxDisplacement ?? 7.5
        guard cp >= 4, cp <= 64 else { throw TransformError.invalidParameter(name: "controlPoints", value: "\(cp)", expected: "4...64") }
        guard maxD >= 0, maxD.isFinite else { throw TransformError.invalidParameter(name: "maxDisplacement", value: "\(maxD)", expected: "≥ 0 mm") }
        // Displacements (mm, world axes) at the control points; the outermost ones stay at zero.
        var coarse = [[Float]](repeating: [Float](repeating: 0, count: cp * cp * cp), count: 3)
        for k in 1..<(cp - 1) {
            for j in 1..<(cp - 1) {
                for i in 1..<(cp - 1) {
                    for c in 0..<3 { coarse[c][i + cp * (j + cp * k)] = Float(rng.uniform(-maxD, maxD)) }
                }
            }
        }
        let dims = s.image.shape3
        let n = s.image.frameCount
        // Dense field: the control values are cubic B-spline coefficients over the volume.
        var dense = [[Float]]()
        var m = [Double](repeating: 0, count: 12)
        for a in 0..<3 { m[5 * a] = dims[a] > 1 ? Double(cp - 1) / Double(dims[a] - 1) : 0 }
        for c in 0..<3 {
            var out = [Float](repeating: 0, count: n)
            coarse[c].withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    separableSample(src, [cp, cp, cp], dst, dims, IndexMap(m), .bspline, .edge)
                }
            }
            dense.append(out)
        }
        // mm (world) → voxel index units of the input.
        let lin = s.image.affine.inverse!.linear
        var disp = [[Float]](repeating: [Float](repeating: 0, count: n), count: 3)
        for v in 0..<n {
            let (x, y, z) = (dense[0][v], dense[1][v], dense[2][v])
            for a in 0..<3 { disp[a][v] = Float(lin[3 * a]) * x + Float(lin[3 * a + 1]) * y + Float(lin[3 * a + 2]) * z }
        }
        let identity = IndexMap([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0])
        let fill = ResampleKernels.minFinite(s.image.voxels) ?? 0
        s.image = warpSameGrid(s.image, map: identity, displacement: disp, interp: .linear, fill: fill)
        s.labels = s.labels.map { warpSameGrid($0, map: identity, displacement: disp, interp: .nearest, fill: 0) }
        return ["controlPoints": [Double(cp)], "maxDisplacement": [maxD], "displacement": coarse.flatMap { $0.map(Double.init) }]
    }

    static func anisotropy(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        let ax = try axes(spec, default: [0, 1, 2])
        let fr = try range(spec.downsampling, [1.5, 5], symmetric: false, name: "downsampling")
        guard fr.0 >= 1 else { throw TransformError.invalidParameter(name: "downsampling", value: "\(fr)", expected: "factors ≥ 1") }
        let axis = ax[rng.int(in: 0...(ax.count - 1))]
        let factor = rng.uniform(fr.0, fr.1)
        var spacing = s.image.affine.columnNorms
        spacing[axis] *= factor
        let original = s.image.grid
        let low = try s.image.resampled(onto: s.image.grid(forSpacing: spacing), interpolation: .nearest, antiAlias: false)
        s.image = try low.resampled(onto: original, interpolation: .linear, boundary: .edge, antiAlias: false)
        return ["axis": [Double(axis)], "factor": [factor]]
    }

    // MARK: Intensity

    static func noise(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        let sr = try range(spec.std, [0, 0.25], symmetric: false, name: "std")
        let std = rng.uniform(sr.0, sr.1)
        let rician = spec.transform == .rician
        let base = rng
        let plane = s.image.nx * s.image.ny
        let slices = s.image.count / plane
        let sd = Float(std)
        s.image.voxels.withUnsafeMutableBufferPointer { p in
            parallelFor(slices) { k in
                var g = base.split(stream: UInt64(k))
                let row = p.baseAddress! + k * plane
                if rician {
                    Ziggurat.fill(2 * plane, &g) { i, n in
                        if i & 1 == 0 { row[i >> 1] += sd * n } else { row[i >> 1] = (row[i >> 1] * row[i >> 1] + sd * sd * n * n).squareRoot() }
                    }
                } else {
                    Ziggurat.fill(plane, &g) { i, n in row[i] += sd * n }
                }
            }
        }
        return ["std": [std]]
    }

    static func blur(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        let r = try range(spec.sigma, [0, 2], symmetric: false, name: "sigma")
        let mm = (0..<3).map { _ in rng.uniform(r.0, r.1) }
        smooth(&s.image, mm: mm)
        return ["sigma": mm]
    }

    static func smooth(_ v: inout Volume, mm: [Double]) {
        let sp = v.affine.columnNorms
        let sigma = (0..<3).map { mm[$0] / sp[$0] }
        let dims = v.shape3, n = v.frameCount, frames = v.frames
        v.voxels.withUnsafeMutableBufferPointer { p in
            for f in 0..<frames {
                gaussianSmooth(UnsafeMutableBufferPointer(rebasing: p[(f * n)..<((f + 1) * n)]), dims: dims, sigma: sigma)
            }
        }
    }

    static func gamma(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        let r = try range(spec.logGamma, [0.3], symmetric: true, name: "logGamma")
        let g = exp(rng.uniform(r.0, r.1))
        guard let (lo, hi) = s.image.range, hi > lo else { return ["gamma": [g]] }
        let span = hi - lo
        let gf = Float(g)
        s.image.mapVoxels { x in lo + span * powf(min(max((x - lo) / span, 0), 1), gf) }
        return ["gamma": [g]]
    }

    static func brightnessContrast(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        let br = try range(spec.brightness, [0.1], symmetric: true, name: "brightness")
        let cr = try range(spec.contrast, [0.75, 1.25], symmetric: false, name: "contrast")
        let b = rng.uniform(br.0, br.1), c = rng.uniform(cr.0, cr.1)
        var sum = 0.0, ss = 0.0
        for v in s.image.voxels { sum += Double(v) }
        let mean = sum / Double(s.image.count)
        for v in s.image.voxels { ss += (Double(v) - mean) * (Double(v) - mean) }
        let std = (ss / Double(s.image.count)).squareRoot()
        let (mf, cf, add) = (Float(mean), Float(c), Float(mean + b * std))
        s.image.mapVoxels { ($0 - mf) * cf + add }
        return ["brightness": [b], "contrast": [c]]
    }

    /// Monomials xⁱ yʲ zᵏ with i + j + k ≤ order, in a fixed order.
    static func monomials(_ order: Int) -> [(Int, Int, Int)] {
        var out = [(Int, Int, Int)]()
        for i in 0...order { for j in 0...(order - i) { for k in 0...(order - i - j) { out.append((i, j, k)) } } }
        return out
    }

    static func biasField(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        let order = spec.order ?? 3
        guard (0...6).contains(order) else { throw TransformError.invalidParameter(name: "order", value: "\(order)", expected: "0...6") }
        let r = try range(spec.coefficients, [0.5], symmetric: true, name: "coefficients")
        let terms = monomials(order)
        let coeffs = terms.map { _ in rng.uniform(r.0, r.1) }
        multiplyBias(&s.image, order: order, coefficients: coeffs)
        return ["order": [Double(order)], "coefficients": coeffs]
    }

    /// The bias field exp(Σ c·xⁱyʲzᵏ) on coordinates spanning [−1, 1] per axis (TorchIO's RandomBiasField).
    static func biasValue(_ terms: [(Int, Int, Int)], _ coeffs: [Double], _ x: Double, _ y: Double, _ z: Double) -> Double {
        var e = 0.0
        for (t, c) in zip(terms, coeffs) { e += c * pow(x, Double(t.0)) * pow(y, Double(t.1)) * pow(z, Double(t.2)) }
        return exp(e)
    }

    static func multiplyBias(_ v: inout Volume, order: Int, coefficients: [Double]) {
        let terms = monomials(order)
        let (nx, ny, nz) = (v.nx, v.ny, v.nz)
        func coord(_ i: Int, _ n: Int) -> Double { n > 1 ? -1 + 2 * Double(i) / Double(n - 1) : 0 }
        // Per-slice: the polynomial in x is Σ_i a_i(y, z) xⁱ — evaluate the (y, z) part once per row.
        let frames = v.frames, plane = nx * ny
        let xs = (0..<nx).map { coord($0, nx) }
        v.voxels.withUnsafeMutableBufferPointer { p in
            parallelFor(nz) { k in
                let z = coord(k, nz)
                var a = [Double](repeating: 0, count: order + 1)
                for j in 0..<ny {
                    let y = coord(j, ny)
                    for q in 0...order { a[q] = 0 }
                    for (t, c) in zip(terms, coefficients) { a[t.0] += c * pow(y, Double(t.1)) * pow(z, Double(t.2)) }
                    for i in 0..<nx {
                        var e = 0.0
                        var q = order
                        while q >= 0 { e = e * xs[i] + a[q]; q -= 1 }
                        let f = Float(exp(e))
                        for t in 0..<frames { p[t * plane * nz + k * plane + j * nx + i] *= f }
                    }
                }
            }
        }
    }

    static func labelSynthesis(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        guard let labels = s.labels.first else {
            throw TransformError.invalidParameter(name: "label_synthesis", value: "no label map", expected: "a label map (--label)")
        }
        var values = Set<Int>()
        for v in labels.voxels.prefix(labels.frameCount) {
            guard v.isFinite, abs(v) < 1e9 else {
                throw TransformError.invalidParameter(name: "label map", value: "\(v)", expected: "integer labels")
            }
            values.insert(Int(v.rounded()))
            if values.count > 4096 { throw TransformError.invalidParameter(name: "label map", value: "more than 4096 labels", expected: "integer labels") }
        }
        let ids = values.sorted()
        let sr = try range(spec.std, [0, 0.1], symmetric: false, name: "std")
        var means = [Double](), stds = [Double]()
        for _ in ids {
            means.append(rng.uniform(0, 1))
            stds.append(rng.uniform(sr.0, sr.1))
        }
        let lookup = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        let blurMM = rng.uniform(0, 1)
        let order = spec.order ?? 3
        let cr = try range(spec.coefficients, [0.3], symmetric: true, name: "coefficients")
        let coeffs = monomials(order).map { _ in rng.uniform(cr.0, cr.1) }
        let base = rng
        var image = labels.frame(0)
        let plane = image.nx * image.ny, nz = image.nz
        let lab = labels.voxels
        image.voxels.withUnsafeMutableBufferPointer { p in
            parallelFor(nz) { k in
                var g = base.split(stream: UInt64(k))
                Ziggurat.fill(plane, &g) { q, n in
                    let i = k * plane + q
                    let l = lookup[Int(lab[i].rounded())]!
                    p[i] = Float(means[l]) + Float(stds[l]) * n
                }
            }
        }
        smooth(&image, mm: [blurMM, blurMM, blurMM])
        multiplyBias(&image, order: order, coefficients: coeffs)
        image.storedType = .float32
        image.scaling = .identity
        s.image = image
        return ["labels": ids.map(Double.init), "means": means, "stds": stds, "blur": [blurMM], "biasCoefficients": coeffs]
    }

    // MARK: k-space

    /// Shifted (centred, numpy `fftshift`) index p → unshifted index.
    @inline(__always) static func unshift(_ p: Int, _ n: Int) -> Int { (p - n / 2 + n) % n }

    static func motion(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        let moves = spec.moves ?? 2
        guard (1...16).contains(moves) else { throw TransformError.invalidParameter(name: "moves", value: "\(moves)", expected: "1...16") }
        let dr = try range(spec.degrees, [10], symmetric: true, name: "degrees")
        let tr = try range(spec.translation, [10], symmetric: true, name: "translation")
        let times = (0..<moves).map { _ in rng.uniform(0.15, 0.85) }.sorted()
        var angles = [[Double]](), shifts = [[Double]]()
        for _ in 0..<moves {
            angles.append((0..<3).map { _ in rng.uniform(dr.0, dr.1) })
            shifts.append((0..<3).map { _ in rng.uniform(tr.0, tr.1) })
        }
        let nz = s.image.nz, plane = s.image.nx * s.image.ny
        // k-space planes (shifted index along the last axis) [b_m, b_{m+1}) come from pose m.
        let bounds = [0] + times.map { Int(($0 * Double(nz)).rounded()) } + [nz]
        let original = s.image
        var out = [Float]()
        // k-space planes (unshifted k_z) each pose contributes. The masks depend on k_z only, so
        // IFFT₃(Σ M_m·FFT₃(v_m)) = IFFT_z(Σ M_m·FFT_z(v_m)): 1D transforms along z suffice, exactly.
        let segments = (0...moves).map { m in (bounds[m]..<bounds[m + 1]).map { unshift($0, nz) } }
        for f in 0..<original.frames {
            let frame = original.frame(f)
            var result = ComplexVolume(dims: frame.shape3, re: frame.voxels)
            result.fft(axes: [2])
            for m in 0..<moves where !segments[m + 1].isEmpty {
                var moved = Sample(image: frame)
                try applyWorldMap(&moved, worldTransform(frame, linear: rotation(degrees: angles[m]), translation: shifts[m]))
                var k = ComplexVolume(dims: frame.shape3, re: moved.image.voxels)
                k.fft(axes: [2])
                for u in segments[m + 1] {
                    let o = u * plane
                    for i in 0..<plane {
                        result.re[o + i] = k.re[o + i]
                        result.im[o + i] = k.im[o + i]
                    }
                }
            }
            result.fft(inverse: true, axes: [2])
            out += result.magnitude
        }
        s.image.voxels = out
        return ["times": times, "degrees": angles.flatMap { $0 }, "translation": shifts.flatMap { $0 }]
    }

    /// |v + IFFT(spikes)|: a spike of amplitude `intensity`·max|FFT(v)| at k adds the plane wave
    /// (amplitude / N)·e^{2πi k·x/N} — no transform of the volume is needed. For v ≥ 0 the peak of the
    /// spectrum is its DC term Σv; otherwise it is found with a real-input FFT (half a complex one).
    static func spiked(_ v: [Float], dims: [Int], spikes: [(Int, Int, Int)], intensity: Double) -> [Float] {
        var peak = 0.0
        if v.allSatisfy({ $0 >= 0 }) {
            peak = v.reduce(0.0) { $0 + Double($1) }
        } else {
            peak = ComplexVolume.peakMagnitude(ofReal: v, dims: dims)
        }
        let total = Double(v.count)
        let nx = dims[0], ny = dims[1], nz = dims[2]
        // Per spike: its amplitude, the x factors and the y/z phase tables.
        let waves = spikes.map { (x, y, z) -> (amp: Double, cx: [Float], sx: [Float], ty: [Double], tz: [Double]) in
            let u = [unshift(x, dims[0]), unshift(y, dims[1]), unshift(z, dims[2])]
            let tables = (0..<3).map { a in (0..<dims[a]).map { i in 2 * Double.pi * Double(u[a] * i % dims[a]) / Double(dims[a]) } }
            return (intensity * peak / total, tables[0].map { Float(cos($0)) }, tables[0].map { Float(sin($0)) }, tables[1], tables[2])
        }
        // Row by row in parallel over planes, the waves summed in spike order into a row scratch
        // (the same operations in the same order as one full-volume accumulation, so the same bits).
        // Flat tables (no reference-counted arrays touched per row): x factors, y and z phases.
        let count = waves.count
        let xTables = UnsafeMutablePointer<Float>.allocate(capacity: 2 * nx * max(count, 1))
        let yzTables = UnsafeMutablePointer<Double>.allocate(capacity: (ny + nz + 1) * max(count, 1))
        defer { xTables.deallocate(); yzTables.deallocate() }
        for (s, w) in waves.enumerated() {
            (xTables + 2 * s * nx).initialize(from: w.cx, count: nx)
            (xTables + (2 * s + 1) * nx).initialize(from: w.sx, count: nx)
            let t = yzTables + s * (ny + nz + 1)
            t.initialize(to: w.amp)
            (t + 1).initialize(from: w.ty, count: ny)
            (t + 1 + ny).initialize(from: w.tz, count: nz)
        }
        var out = [Float](unsafeUninitializedCapacity: v.count) { _, n in n = v.count }  // every voxel is written below
        v.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { o in
                parallelFor(nz) { k in
                    let wr = UnsafeMutablePointer<Float>.allocate(capacity: 2 * nx)
                    defer { wr.deallocate() }
                    let wi = wr + nx
                    for j in 0..<ny {
                        wr.update(repeating: 0, count: 2 * nx)
                        for s in 0..<count {
                            let t = yzTables + s * (ny + nz + 1), amp = t[0]
                            let a = t[1 + j] + t[1 + ny + k]
                            let cr = Float(amp * cos(a)), ci = Float(amp * sin(a))
                            let cx = xTables + 2 * s * nx, sx = cx + nx
                            for i in 0..<nx {
                                wr[i] += cr * cx[i] - ci * sx[i]
                                wi[i] += cr * sx[i] + ci * cx[i]
                            }
                        }
                        let row = (k * ny + j) * nx
                        let sp = src.baseAddress! + row, op = o.baseAddress! + row
                        for i in 0..<nx {
                            let r = sp[i] + wr[i]
                            op[i] = (r * r + wi[i] * wi[i]).squareRoot()
                        }
                    }
                }
            }
        }
        return out
    }

    static func kspaceArtefact(_ spec: AugmentSpec, _ s: inout Sample, _ rng: inout SeededGenerator) throws -> [String: [Double]] {
        let dims = s.image.shape3
        var params = [String: [Double]]()
        // Lines to scale along an axis: (axis, factor per shifted index).
        var axis = 0
        var factors = [Double]()
        var spikes = [(Int, Int, Int)]()
        var spikeIntensity = 0.0
        switch spec.transform {
        case .ghosting:
            let ax = try axes(spec, default: [0, 1, 2])
            let gr = try range(spec.ghosts, [4, 10], symmetric: false, name: "ghosts")
            let ir = try range(spec.intensity, [0.5, 1], symmetric: false, name: "intensity")
            axis = ax[rng.int(in: 0...(ax.count - 1))]
            // Clamped before the Int conversion: a huge "ghosts" range must not trap (fuzz finding).
            let ghosts = Int(min(1e9, max(1, rng.uniform(gr.0, gr.1 + 1).rounded(.down))))
            let intensity = rng.uniform(ir.0, ir.1)
            let n = dims[axis]
            factors = (0..<n).map { p in p % ghosts == 0 && p != n / 2 ? 1 - intensity : 1 }
            params = ["axis": [Double(axis)], "ghosts": [Double(ghosts)], "intensity": [intensity]]
        case .undersample:
            let ax = try axes(spec, default: [0, 1, 2])
            let fr = try range(spec.fraction, [0.2, 0.5], symmetric: false, name: "fraction")
            let keep = spec.keep ?? 0.25
            axis = ax[rng.int(in: 0...(ax.count - 1))]
            let fraction = rng.uniform(fr.0, fr.1)
            let n = dims[axis]
            factors = (0..<n).map { p in
                let central = abs(Double(p - n / 2)) <= fraction * Double(n) / 2
                let kept = rng.bernoulli(keep)
                return central || kept ? 1 : 0
            }
            params = ["axis": [Double(axis)], "fraction": [fraction], "lines": factors]
        default:  // spike
            let count = spec.spikes ?? 1
            guard (1...64).contains(count) else { throw TransformError.invalidParameter(name: "spikes", value: "\(count)", expected: "1...64") }
            let ir = try range(spec.intensity, [1, 3], symmetric: false, name: "intensity")
            spikeIntensity = rng.uniform(ir.0, ir.1)
            for _ in 0..<count { spikes.append((rng.int(in: 0...(dims[0] - 1)), rng.int(in: 0...(dims[1] - 1)), rng.int(in: 0...(dims[2] - 1)))) }
            params = ["intensity": [spikeIntensity], "positions": spikes.flatMap { [Double($0.0), Double($0.1), Double($0.2)] }]
        }
        var out = [Float]()
        let n = s.image.frameCount
        for f in 0..<s.image.frames {
            let v = Array(s.image.voxels[(f * n)..<((f + 1) * n)])
            if !factors.isEmpty {
                // A mask along one axis: IFFT₃(M·FFT₃(v)) = IFFT_axis(M·FFT_axis(v)) exactly.
                var k = ComplexVolume(dims: dims, re: v)
                k.fft(axes: [axis])
                let stride = axis == 0 ? 1 : (axis == 1 ? dims[0] : dims[0] * dims[1])
                let len = dims[axis]
                let unshiftedFactor = (0..<len).map { u in Float(factors[(u + len / 2) % len]) }
                // Only the k-space planes whose factor is not 1 change (for ghosting, every
                // ghosts-th plane), in parallel over the blocks outside the axis.
                let targets = (0..<len).filter { unshiftedFactor[$0] != 1 }
                let outer = k.re.count / (len * stride)
                k.re.withUnsafeMutableBufferPointer { re in
                    k.im.withUnsafeMutableBufferPointer { im in
                        parallelFor(outer) { o in
                            for u in targets {
                                let f = unshiftedFactor[u], base = (o * len + u) * stride
                                for b in 0..<stride {
                                    re[base + b] *= f
                                    im[base + b] *= f
                                }
                            }
                        }
                    }
                }
                k.fft(inverse: true, axes: [axis])
                if s.image.frames == 1 { out = k.magnitude } else { out += k.magnitude }
            } else {
                out += spiked(v, dims: dims, spikes: spikes, intensity: spikeIntensity)
            }
        }
        s.image.voxels = out
        return params
    }
}

/// Resamples `v` onto its own grid through an index map plus optional displacement (source voxel units).
func warpSameGrid(_ v: Volume, map: IndexMap, displacement: [[Float]]?, interp: Interpolation, fill: Float) -> Volume {
    let dims = v.shape3, n = v.frameCount
    // Every element is written by the kernels below.
    var out = [Float](unsafeUninitializedCapacity: v.count) { _, count in count = v.count }
    var work = [Float](repeating: 0, count: interp == .bspline ? n : 0)
    for f in 0..<v.frames {
        v.voxels.withUnsafeBufferPointer { all in
            var src = UnsafeBufferPointer(rebasing: all[(f * n)..<((f + 1) * n)])
            work.withUnsafeMutableBufferPointer { w in
                if interp == .bspline {
                    _ = w.initialize(from: src)
                    bsplinePrefilter(w, dims: dims)
                    src = UnsafeBufferPointer(w)
                }
                out.withUnsafeMutableBufferPointer { o in
                    let dst = UnsafeMutableBufferPointer(rebasing: o[(f * n)..<((f + 1) * n)])
                    if let d = displacement {
                        d[0].withUnsafeBufferPointer { dx in
                            d[1].withUnsafeBufferPointer { dy in
                                d[2].withUnsafeBufferPointer { dz in
                                    sampleCoefficients(src, dims, dst, dims, map, (dx.baseAddress!, dy.baseAddress!, dz.baseAddress!), interp, .constant(fill))
                                }
                            }
                        }
                    } else if map.isDiagonal {
                        separableSample(src, dims, dst, dims, map, interp, .constant(fill))
                    } else {
                        sampleCoefficients(src, dims, dst, dims, map, nil, interp, .constant(fill))
                    }
                }
            }
        }
    }
    var r = v
    r.voxels = out
    return r
}

extension Volume {
    /// The voxel array reversed along `axes` (geometry unchanged: the anatomy is mirrored in world space).
    public func flipped(axes: [Int]) -> Volume {
        let d = shape3
        var out = voxels
        let flip = (0..<3).map { axes.contains($0) }
        voxels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                let rows = d[1] * d[2] * frames
                parallelFor(min(rows, 256)) { c in
                    for r in chunkRange(rows, part: c, of: min(rows, 256)) {
                        let j = r % d[1], k = (r / d[1]) % d[2], f = r / (d[1] * d[2])
                        let sj = flip[1] ? d[1] - 1 - j : j, sk = flip[2] ? d[2] - 1 - k : k
                        let src = s.baseAddress! + ((f * d[2] + sk) * d[1] + sj) * d[0]
                        let dst = o.baseAddress! + r * d[0]
                        if flip[0] {
                            for i in 0..<d[0] { dst[i] = src[d[0] - 1 - i] }
                        } else {
                            for i in 0..<d[0] { dst[i] = src[i] }
                        }
                    }
                }
            }
        }
        var v = self
        v.voxels = out
        return v
    }
}
