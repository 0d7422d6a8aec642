import MedVoxCore

/// Overlap and surface metrics of one label in a predicted and a reference label map.
///
/// Surface metrics follow the common definition (medpy's `hd95`/`asd`, MONAI's
/// `compute_hausdorff_distance(percentile=95)`): the surface of a mask is its voxels with at least
/// one face neighbour outside the mask (the volume border counts as outside); distances are
/// Euclidean in mm from each surface voxel of one mask to the nearest surface voxel of the other,
/// both directions pooled.
public struct SegmentationScores: Sendable, Equatable {
    public var label: Int
    /// Voxels in the prediction and in the reference.
    public var predictedVoxels: Int
    public var referenceVoxels: Int
    /// 2|A∩B| / (|A|+|B|); nil when both are empty.
    public var dice: Double?
    /// 95th percentile of the pooled symmetric surface distances, mm; nil when either is empty.
    public var hd95: Double?
    /// Mean of the pooled symmetric surface distances (average symmetric surface distance), mm.
    public var meanSurfaceDistance: Double?
    /// Volumes in mL and their difference (prediction − reference).
    public var predictedML: Double
    public var referenceML: Double
    public var volumeDifferenceML: Double { predictedML - referenceML }
}

/// Scores every label in `labels` of `prediction` against `reference` (same grid; values are
/// label numbers). `spacing` is the voxel size in mm along i, j, k.
public func segmentationScores(
    prediction: [Float], reference: [Float], dims: [Int], spacing: [Double], labels: [Int]
) -> [SegmentationScores] {
    precondition(prediction.count == reference.count && prediction.count == dims.prefix(3).reduce(1, *))
    let voxelML = spacing.prefix(3).reduce(1, *) / 1000
    return labels.map { label in
        let l = Float(label)
        let a = prediction.map { $0 == l }
        let b = reference.map { $0 == l }
        var na = 0, nb = 0, both = 0
        for i in 0..<a.count {
            if a[i] { na += 1 }
            if b[i] { nb += 1 }
            if a[i] && b[i] { both += 1 }
        }
        let dice: Double? = na + nb == 0 ? nil : 2 * Double(both) / Double(na + nb)
        var hd95: Double?, msd: Double?
        if na > 0 && nb > 0 {
            let distances = symmetricSurfaceDistances(a, b, dims: dims, spacing: spacing)
            hd95 = percentile(distances, 95)
            msd = distances.reduce(0, +) / Double(distances.count)
        }
        return SegmentationScores(
            label: label, predictedVoxels: na, referenceVoxels: nb, dice: dice, hd95: hd95,
            meanSurfaceDistance: msd, predictedML: Double(na) * voxelML, referenceML: Double(nb) * voxelML)
    }
}

/// Surface voxels: in the mask with a face neighbour outside it or on the volume border.
public func surface(of mask: [Bool], dims: [Int]) -> [Bool] {
    let (nx, ny, nz) = (dims[0], dims[1], dims[2])
    var out = [Bool](repeating: false, count: mask.count)
    for k in 0..<nz {
        for j in 0..<ny {
            for i in 0..<nx {
                let o = i + nx * (j + ny * k)
                guard mask[o] else { continue }
                if i == 0 || j == 0 || k == 0 || i == nx - 1 || j == ny - 1 || k == nz - 1
                    || !mask[o - 1] || !mask[o + 1] || !mask[o - nx] || !mask[o + nx]
                    || !mask[o - nx * ny] || !mask[o + nx * ny]
                {
                    out[o] = true
                }
            }
        }
    }
    return out
}

/// Distances (mm) from every surface voxel of `a` to the surface of `b`, followed by those from
/// `b`'s surface to `a`'s.
public func symmetricSurfaceDistances(_ a: [Bool], _ b: [Bool], dims: [Int], spacing: [Double]) -> [Double] {
    let sa = surface(of: a, dims: dims), sb = surface(of: b, dims: dims)
    let da = squaredDistanceTransform(feature: sa, dims: dims, spacing: spacing)
    let db = squaredDistanceTransform(feature: sb, dims: dims, spacing: spacing)
    var out: [Double] = []
    for i in 0..<sa.count where sa[i] { out.append(db[i].squareRoot()) }
    for i in 0..<sb.count where sb[i] { out.append(da[i].squareRoot()) }
    return out
}

/// Percentile with linear interpolation between order statistics (NumPy's default).
public func percentile(_ values: [Double], _ q: Double) -> Double {
    precondition(!values.isEmpty)
    let s = values.sorted()
    let pos = q / 100 * Double(s.count - 1)
    let lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
}

// MARK: - Classification

/// Classification metrics over cases with integer class labels `0..<classes` and predicted
/// probabilities (one row of `classes` values per case).
public struct ClassificationScores: Sendable {
    public var accuracy: Double
    /// Mean per-class recall over the classes present in the reference.
    public var balancedAccuracy: Double
    /// One-vs-rest AUC per class (nil when a class has no positive or no negative case).
    public var aucPerClass: [Double?]
    /// Mean of the defined one-vs-rest AUCs (nil when none is defined).
    public var macroAUC: Double?
    /// confusion[truth][predicted] counts.
    public var confusion: [[Int]]
    /// Expected calibration error of the top-class confidence (`bins` equal-width bins).
    public var expectedCalibrationError: Double
}

public func classificationScores(truth: [Int], probabilities: [[Double]], classes: Int, bins: Int = 10)
    -> ClassificationScores
{
    precondition(truth.count == probabilities.count && !truth.isEmpty)
    let predicted = probabilities.map { row in row.indices.max { row[$0] < row[$1] }! }
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    for (t, p) in zip(truth, predicted) { confusion[t][p] += 1 }
    let correct = zip(truth, predicted).filter { $0 == $1 }.count
    let recalls = (0..<classes).compactMap { c -> Double? in
        let n = confusion[c].reduce(0, +)
        return n == 0 ? nil : Double(confusion[c][c]) / Double(n)
    }
    let aucs = (0..<classes).map { c in
        binaryAUC(scores: probabilities.map { $0[c] }, positives: truth.map { $0 == c })
    }
    let defined = aucs.compactMap { $0 }
    // Expected calibration error.
    var binCount = [Int](repeating: 0, count: bins)
    var binConfidence = [Double](repeating: 0, count: bins)
    var binCorrect = [Double](repeating: 0, count: bins)
    for (i, row) in probabilities.enumerated() {
        let conf = row[predicted[i]]
        let b = min(bins - 1, max(0, Int(conf * Double(bins))))
        binCount[b] += 1
        binConfidence[b] += conf
        binCorrect[b] += predicted[i] == truth[i] ? 1 : 0
    }
    var ece = 0.0
    for b in 0..<bins where binCount[b] > 0 {
        ece += abs(binCorrect[b] - binConfidence[b]) / Double(truth.count)
    }
    return ClassificationScores(
        accuracy: Double(correct) / Double(truth.count),
        balancedAccuracy: recalls.reduce(0, +) / Double(max(recalls.count, 1)),
        aucPerClass: aucs,
        macroAUC: defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count),
        confusion: confusion,
        expectedCalibrationError: ece)
}

/// Area under the ROC curve by the Mann–Whitney statistic with mid-ranks for ties.
public func binaryAUC(scores: [Double], positives: [Bool]) -> Double? {
    let nPos = positives.filter { $0 }.count, nNeg = positives.count - nPos
    guard nPos > 0, nNeg > 0 else { return nil }
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var ranks = [Double](repeating: 0, count: scores.count)
    var i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
        let mid = Double(i + j) / 2 + 1
        for k in i...j { ranks[order[k]] = mid }
        i = j + 1
    }
    let sumPos = zip(ranks, positives).filter { $0.1 }.map(\.0).reduce(0, +)
    return (sumPos - Double(nPos) * Double(nPos + 1) / 2) / (Double(nPos) * Double(nNeg))
}
