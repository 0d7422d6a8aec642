/// The scalar type a volume was stored as on disk (and is written back as by default).
///
/// Names follow NumPy's dtypes; the NIfTI and DICOM code tables map onto these.
public enum ScalarType: String, Sendable, CaseIterable, Codable {
    case uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64
    /// Three interleaved uint8 samples per voxel (NIfTI RGB24, DICOM RGB). Read only.
    case rgb24

    /// Bytes per voxel.
    public var byteSize: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16, .uint16: return 2
        case .int32, .uint32, .float32: return 4
        case .int64, .uint64, .float64: return 8
        case .rgb24: return 3
        }
    }

    public var isInteger: Bool {
        switch self {
        case .float32, .float64, .rgb24: return false
        default: return true
        }
    }

    /// The representable range of an integer type (nil for floating point).
    public var integerRange: ClosedRange<Double>? {
        switch self {
        case .uint8: return 0...255
        case .int8: return -128...127
        case .int16: return -32768...32767
        case .uint16: return 0...65535
        case .int32: return Double(Int32.min)...Double(Int32.max)
        case .uint32: return 0...Double(UInt32.max)
        case .int64: return Double(Int64.min)...Double(Int64.max)
        case .uint64: return 0...Double(UInt64.max)
        default: return nil
        }
    }
}

/// A linear map from stored values to real values: `real = slope * stored + intercept`
/// (NIfTI `scl_slope`/`scl_inter`, DICOM RescaleSlope/RescaleIntercept).
public struct IntensityScaling: Equatable, Sendable, Codable {
    public var slope: Double
    public var intercept: Double
    public init(slope: Double, intercept: Double) {
        self.slope = slope
        self.intercept = intercept
    }
    public static let identity = IntensityScaling(slope: 1, intercept: 0)
    public var isIdentity: Bool { slope == 1 && intercept == 0 }
}

/// A 3D (or 4D: time points / channels) image with its place in world space.
///
/// - Voxels are Float32 real values (stored values after any intensity scaling), laid out with
///   the first index fastest: `voxels[i + nx * (j + ny * (k + nz * t))]`.
/// - `affine` maps 0-based voxel indices `(i, j, k)` to RAS+ millimetres.
/// - `spacing` is the voxel size in mm along i, j, k (NIfTI pixdim[1...3]); it normally equals
///   the affine's column norms.
/// - `storedType` and `scaling` describe how the values were stored, so a writer can store them
///   again without loss.
///
/// ```swift
/// var v = Volume(dims: [64, 64, 32], spacing: [1, 1, 2])
/// v[10, 20, 5] = 3
/// let ras = v.reoriented(to: .ras)
/// ```
public struct Volume: Sendable {
    /// Sizes: [nx, ny, nz] or [nx, ny, nz, nt]. Always at least three entries (singletons kept).
    public private(set) var dims: [Int]
    /// Voxel size in mm along i, j, k.
    public var spacing: [Double]
    /// Voxel → world (RAS+ mm).
    public var affine: Affine
    /// Real-valued voxels, i fastest; count = product of `dims`.
    public var voxels: [Float]
    /// On-disk type the values came from (and default type to write).
    public var storedType: ScalarType
    /// Scaling that was applied on read (and may be applied again on write).
    public var scaling: IntensityScaling
    /// Time between volumes in seconds for 4D series (NIfTI pixdim[4]), when known.
    public var timeStep: Double?

    /// A zero-filled volume. `spacing` defaults to 1 mm; the affine to a diagonal one from the spacing.
    public init(
        dims: [Int], spacing: [Double] = [1, 1, 1], affine: Affine? = nil, voxels: [Float]? = nil,
        storedType: ScalarType = .float32, scaling: IntensityScaling = .identity
    ) {
        precondition(dims.count >= 3 && dims.count <= 4, "Volume dims must have 3 or 4 entries")
        precondition(dims.allSatisfy { $0 > 0 }, "Volume dims must be positive")
        let count = dims.reduce(1, *)
        if let voxels { precondition(voxels.count == count, "voxel count \(voxels.count) != \(count)") }
        var dims = dims
        if dims.count == 4 && dims[3] == 1 { dims.removeLast() }
        self.dims = dims
        self.spacing = spacing
        self.affine = affine ?? .scaling(spacing)
        self.voxels = voxels ?? [Float](repeating: 0, count: count)
        self.storedType = storedType
        self.scaling = scaling
    }

    public var nx: Int { dims[0] }
    public var ny: Int { dims[1] }
    public var nz: Int { dims[2] }
    /// Number of 3D volumes (time points or channels): dims[3], or 1.
    public var frames: Int { dims.count > 3 ? dims[3] : 1 }
    /// Voxels in one 3D frame.
    public var frameCount: Int { dims[0] * dims[1] * dims[2] }
    public var count: Int { voxels.count }
    /// The 3D grid sizes.
    public var shape3: [Int] { Array(dims.prefix(3)) }

    @inlinable public func index(_ i: Int, _ j: Int, _ k: Int, _ t: Int = 0) -> Int {
        i + dims[0] * (j + dims[1] * (k + dims[2] * t))
    }

    public subscript(i: Int, j: Int, k: Int) -> Float {
        get { voxels[index(i, j, k)] }
        set { voxels[index(i, j, k)] = newValue }
    }

    public subscript(i: Int, j: Int, k: Int, t: Int) -> Float {
        get { voxels[index(i, j, k, t)] }
        set { voxels[index(i, j, k, t)] = newValue }
    }

    /// One 3D frame as its own volume (same geometry).
    public func frame(_ t: Int) -> Volume {
        precondition(t >= 0 && t < frames)
        let n = frameCount
        var v = Volume(dims: shape3, spacing: spacing, affine: affine, storedType: storedType, scaling: scaling)
        v.voxels = Array(voxels[(t * n)..<((t + 1) * n)])
        return v
    }

    /// Minimum and maximum over finite voxels (nil when none is finite).
    public var range: (min: Float, max: Float)? {
        var lo = Float.infinity, hi = -Float.infinity
        for v in voxels where v.isFinite {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        return lo <= hi ? (lo, hi) : nil
    }

    /// The same grid and geometry with other voxel values (e.g. a mask): dims may differ only in
    /// the number of frames.
    public func withVoxels(_ newVoxels: [Float], frames: Int = 1, storedType: ScalarType = .float32) -> Volume {
        var d = shape3
        if frames > 1 { d.append(frames) }
        var v = Volume(dims: d, spacing: spacing, affine: affine, voxels: newVoxels, storedType: storedType)
        v.timeStep = timeStep
        return v
    }

    /// World position (RAS+ mm) of the voxel centre `(i, j, k)`.
    public func worldPosition(_ i: Double, _ j: Double, _ k: Double) -> [Double] {
        affine.apply([i, j, k])
    }

    /// Orientation codes of the voxel axes (e.g. "LAS"), as nibabel's `aff2axcodes`.
    public var orientation: Orientation { Orientation(affine: affine) }

    // MARK: Reorientation (permutation and flips only — no resampling)

    /// The voxel-index transform from this grid's indices to those of a grid reoriented to
    /// `target`: for each new axis, the old axis it comes from and whether it is flipped.
    public func axisMapping(to target: Orientation) -> (source: [Int], flip: [Bool]) {
        let current = orientation
        var source = [Int](repeating: 0, count: 3)
        var flip = [Bool](repeating: false, count: 3)
        for a in 0..<3 {
            let b = current.worldAxis.firstIndex(of: target.worldAxis[a])!
            source[a] = b
            flip[a] = current.sign[b] != target.sign[a]
        }
        return (source, flip)
    }

    /// This volume with its axes permuted and flipped so that its orientation is `target`
    /// (closest-canonical RAS by default). The affine is updated exactly, so every voxel keeps its
    /// world position. Reorienting back to the original orientation restores the volume exactly.
    public func reoriented(to target: Orientation = .ras) -> Volume {
        let (source, flip) = axisMapping(to: target)
        if source == [0, 1, 2] && flip == [false, false, false] { return self }
        let oldDims = shape3
        let newDims = source.map { oldDims[$0] }
        // T maps new indices (homogeneous) to old indices.
        var t = Affine(elements: [Double](repeating: 0, count: 16))
        t[3, 3] = 1
        for a in 0..<3 {
            let b = source[a]
            t[b, a] = flip[a] ? -1 : 1
            t[b, 3] = flip[a] ? Double(oldDims[b] - 1) : 0
        }
        // Strides in the old layout for each new axis, and start offset.
        let oldStride = [1, oldDims[0], oldDims[0] * oldDims[1]]
        var step = [Int](repeating: 0, count: 3)
        var start = 0
        for a in 0..<3 {
            let b = source[a]
            step[a] = flip[a] ? -oldStride[b] : oldStride[b]
            if flip[a] { start += (oldDims[b] - 1) * oldStride[b] }
        }
        let n = frameCount
        var out = [Float](repeating: 0, count: voxels.count)
        voxels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for f in 0..<frames {
                    let base = f * n
                    var o = base
                    for k in 0..<newDims[2] {
                        for j in 0..<newDims[1] {
                            var s = base + start + k * step[2] + j * step[1]
                            for _ in 0..<newDims[0] {
                                dst[o] = src[s]
                                o += 1
                                s += step[0]
                            }
                        }
                    }
                }
            }
        }
        var v = self
        var d = newDims
        if dims.count == 4 { d.append(dims[3]) }
        v.dims = d
        v.voxels = out
        v.spacing = source.map { spacing.count > $0 ? spacing[$0] : 1 }
        v.affine = affine * t
        return v
    }
}
