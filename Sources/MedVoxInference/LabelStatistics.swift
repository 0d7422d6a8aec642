import MedVoxCore

/// Per-label statistics of a segmentation on its image (what reports and `summary.csv` show).
public struct LabelStatistics: Sendable, Equatable, Codable {
    /// The label value.
    public var value: Int
    public var voxels: Int
    /// Volume in millilitres (voxels × voxel volume).
    public var volumeML: Double
    /// Mean and standard deviation of the image intensity inside the label (nil when empty).
    public var meanIntensity: Double?
    public var sdIntensity: Double?
    /// Inclusive voxel-index bounding box [iMin, jMin, kMin, iMax, jMax, kMax] (nil when empty).
    public var boundingBox: [Int]?
    /// Centroid in world RAS+ mm (nil when empty).
    public var centroidMM: [Double]?
}

/// Statistics of every label in `labels` over a label map on the image's grid.
///
/// - Parameters:
///   - labelMap: label numbers per voxel, i fastest; same grid as `image`.
///   - image: the intensities (its first frame is used) and the geometry (spacing, affine).
public func labelStatistics(labelMap: [Float], image: Volume, labels: [Int]) -> [LabelStatistics] {
    precondition(labelMap.count == image.frameCount)
    let (nx, ny) = (image.nx, image.ny)
    let voxelML = image.spacing.prefix(3).reduce(1, *) / 1000
    var index = [Int: Int]()
    for (n, l) in labels.enumerated() { index[l] = n }
    let m = labels.count
    var count = [Int](repeating: 0, count: m)
    var sum = [Double](repeating: 0, count: m), sumSq = [Double](repeating: 0, count: m)
    var lo = [[Int]](repeating: [Int.max, Int.max, Int.max], count: m)
    var hi = [[Int]](repeating: [Int.min, Int.min, Int.min], count: m)
    var centre = [[Double]](repeating: [0, 0, 0], count: m)
    image.voxels.withUnsafeBufferPointer { img in
        for o in 0..<labelMap.count {
            guard let n = index[Int(labelMap[o])] else { continue }
            let i = o % nx, j = (o / nx) % ny, k = o / (nx * ny)
            let v = Double(img[o])
            count[n] += 1
            sum[n] += v
            sumSq[n] += v * v
            lo[n] = [min(lo[n][0], i), min(lo[n][1], j), min(lo[n][2], k)]
            hi[n] = [max(hi[n][0], i), max(hi[n][1], j), max(hi[n][2], k)]
            centre[n][0] += Double(i)
            centre[n][1] += Double(j)
            centre[n][2] += Double(k)
        }
    }
    return labels.indices.map { n in
        let c = count[n]
        guard c > 0 else {
            return LabelStatistics(value: labels[n], voxels: 0, volumeML: 0)
        }
        let mean = sum[n] / Double(c)
        let variance = max(0, sumSq[n] / Double(c) - mean * mean)
        let centroidVoxel = centre[n].map { $0 / Double(c) }
        return LabelStatistics(
            value: labels[n], voxels: c, volumeML: Double(c) * voxelML, meanIntensity: mean,
            sdIntensity: variance.squareRoot(), boundingBox: lo[n] + hi[n],
            centroidMM: image.affine.apply(centroidVoxel))
    }
}
