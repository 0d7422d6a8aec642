import MedVoxCore

/// Which voxels an intensity statistic is computed over.
public enum VoxelSelection: Sendable {
    /// Every finite voxel.
    case all
    /// Finite voxels ≠ 0 (skull-stripped MRI, as nnU-Net's `use_mask_for_norm`).
    case nonZero
    /// Voxels where a mask on the same grid is non-zero.
    case mask(Volume)

    func indices(_ v: Volume) throws -> (Int) -> Bool {
        switch self {
        case .all: return { v.voxels[$0].isFinite }
        case .nonZero: return { v.voxels[$0] != 0 && v.voxels[$0].isFinite }
        case let .mask(m):
            guard m.shape3 == v.shape3 else {
                throw TransformError.gridMismatch(what: "normalisation mask", expected: v.shape3, actual: m.shape3)
            }
            let n = v.frameCount
            return { m.voxels[$0 % n] != 0 && v.voxels[$0].isFinite }
        }
    }
}

/// The sorted finite values of `values` where `keep` holds.
func sortedValues(_ values: [Float], _ keep: (Int) -> Bool) -> [Float] {
    var out = [Float]()
    out.reserveCapacity(values.count)
    for i in 0..<values.count where keep(i) { out.append(values[i]) }
    out.sort()
    return out
}

/// The q-th percentile (0…100) of sorted values with linear interpolation (numpy's default).
public func percentile(sorted: [Float], _ q: Double) -> Double {
    precondition(!sorted.isEmpty)
    let pos = clampCoordinate(q, 0, 100) / 100 * Double(sorted.count - 1)
    let lo = Int(pos.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    let f = pos - Double(lo)
    return Double(sorted[lo]) + f * (Double(sorted[hi]) - Double(sorted[lo]))
}

extension Volume {
    /// Applies `f` to every voxel in place (parallel, order-independent).
    mutating func mapVoxels(_ f: (Float) -> Float) {
        voxels.withUnsafeMutableBufferPointer { p in
            let n = p.count
            let chunks = min(max(n / 65536, 1), 64)
            parallelFor(chunks) { c in
                for i in chunkRange(n, part: c, of: chunks) { p[i] = f(p[i]) }
            }
        }
    }

    /// Z-score: (x − mean) / std over the selected voxels (std with n in the denominator; a std of 0
    /// is replaced by 1). Every voxel is transformed; with `.nonZero` or `.mask` voxels outside the
    /// selection are set to 0, as nnU-Net does.
    public func zScored(over selection: VoxelSelection = .all) throws -> Volume {
        let keep = try selection.indices(self)
        var sum = 0.0, count = 0
        for i in 0..<voxels.count where keep(i) {
            sum += Double(voxels[i])
            count += 1
        }
        guard count > 0 else { throw TransformError.empty(what: "z-score selection") }
        let mean = sum / Double(count)
        var ss = 0.0
        for i in 0..<voxels.count where keep(i) {
            let d = Double(voxels[i]) - mean
            ss += d * d
        }
        var std = (ss / Double(count)).squareRoot()
        if std == 0 { std = 1 }
        var out = self
        let inv = 1 / std
        if case .all = selection {
            out.mapVoxels { Float((Double($0) - mean) * inv) }
        } else {
            for i in 0..<out.voxels.count {
                out.voxels[i] = keep(i) ? Float((Double(voxels[i]) - mean) * inv) : 0
            }
        }
        out.storedType = .float32
        out.scaling = .identity
        return out
    }

    /// Clips to the [`lower`, `upper`] percentiles of the selected voxels and scales that range to
    /// [`outMin`, `outMax`] (nnU-Net/MONAI `ScaleIntensityRangePercentiles(clip=True)`).
    public func percentileScaled(
        lower: Double = 0.5, upper: Double = 99.5, to outMin: Float = 0, _ outMax: Float = 1,
        over selection: VoxelSelection = .all
    ) throws -> Volume {
        guard lower >= 0, upper <= 100, lower < upper else {
            throw TransformError.invalidParameter(name: "percentiles", value: "\(lower),\(upper)", expected: "0 ≤ lower < upper ≤ 100")
        }
        let sorted = sortedValues(voxels, try selection.indices(self))
        guard !sorted.isEmpty else { throw TransformError.empty(what: "percentile selection") }
        return windowed(low: percentile(sorted: sorted, lower), high: percentile(sorted: sorted, upper), to: outMin, outMax)
    }

    /// CT window: clips to [`low`, `high`] (Hounsfield units) and maps it linearly onto [`outMin`, `outMax`].
    public func windowed(low: Double, high: Double, to outMin: Float = 0, _ outMax: Float = 1) -> Volume {
        var out = self
        let scale = high > low ? Double(outMax - outMin) / (high - low) : 0
        out.mapVoxels { x in
            let c = min(max(Double(x), low), high)
            return Float((c - low) * scale) + outMin
        }
        out.storedType = .float32
        out.scaling = .identity
        return out
    }
}

/// Histogram standardisation (Nyúl & Udupa, "On standardizing the MR image intensity scale",
/// Magn. Reson. Med. 42:1072, 1999; Nyúl, Udupa & Zhang, IEEE TMI 19:143, 2000).
///
/// Learning: for each training image, the intensities at `percentiles` (over the foreground: voxels
/// above the image mean, as TorchIO) are mapped linearly so that the first and last land on
/// `scaleMin` and `scaleMax`; the learnt `landmarks` are the mean of those mapped percentiles.
/// Applying maps an image's own percentiles piecewise-linearly onto the landmarks (extrapolating
/// beyond the ends with the end segments). Save with `JSONEncoder`; it is part of a pipeline.
public struct HistogramStandardization: Codable, Equatable, Sendable {
    public var percentiles: [Double]
    public var landmarks: [Double]

    public static let defaultPercentiles: [Double] = [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99]

    public init(percentiles: [Double], landmarks: [Double]) {
        self.percentiles = percentiles
        self.landmarks = landmarks
    }

    /// Learns the landmarks from `images`.
    public static func learn(
        from images: [Volume], percentiles: [Double] = defaultPercentiles, scaleMin: Double = 0, scaleMax: Double = 100
    ) throws -> HistogramStandardization {
        guard percentiles.count >= 2, zip(percentiles, percentiles.dropFirst()).allSatisfy({ $0 < $1 }),
            percentiles.first! >= 0, percentiles.last! <= 100
        else {
            throw TransformError.invalidParameter(name: "percentiles", value: "\(percentiles)", expected: "an increasing list in 0...100")
        }
        guard !images.isEmpty else { throw TransformError.empty(what: "histogram standardisation training set") }
        var sum = [Double](repeating: 0, count: percentiles.count)
        for image in images {
            let p = try imagePercentiles(image, percentiles)
            let span = p.last! - p.first!
            for (i, v) in p.enumerated() {
                sum[i] += span > 0 ? scaleMin + (v - p.first!) / span * (scaleMax - scaleMin) : scaleMin
            }
        }
        return HistogramStandardization(percentiles: percentiles, landmarks: sum.map { $0 / Double(images.count) })
    }

    static func imagePercentiles(_ image: Volume, _ percentiles: [Double]) throws -> [Double] {
        var mean = 0.0
        for v in image.voxels where v.isFinite { mean += Double(v) }
        mean /= Double(max(image.voxels.count, 1))
        var sorted = sortedValues(image.voxels) { Double(image.voxels[$0]) > mean }
        if sorted.isEmpty { sorted = sortedValues(image.voxels) { image.voxels[$0].isFinite } }
        guard !sorted.isEmpty else { throw TransformError.empty(what: "histogram standardisation image") }
        return percentiles.map { percentile(sorted: sorted, $0) }
    }

    /// `image` with its intensities mapped onto the landmarks.
    public func apply(_ image: Volume) throws -> Volume {
        guard percentiles.count == landmarks.count, percentiles.count >= 2 else {
            throw TransformError.invalidParameter(name: "landmarks", value: "\(landmarks.count)", expected: "one landmark per percentile")
        }
        let src = try Self.imagePercentiles(image, percentiles)
        let dst = landmarks
        var out = image
        out.mapVoxels { x in
            let v = Double(x)
            // Segment: the last source landmark ≤ v, clamped to the end segments.
            var s = 0
            while s < src.count - 2 && v >= src[s + 1] { s += 1 }
            let span = src[s + 1] - src[s]
            let t = span > 0 ? (v - src[s]) / span : 0
            return Float(dst[s] + t * (dst[s + 1] - dst[s]))
        }
        out.storedType = .float32
        out.scaling = .identity
        return out
    }
}
