import MedVoxCore
import MedVoxInference
import MedVoxIO
import MedVoxTransforms
import XCTest

@testable import MedVoxTraining

/// Whole heads synthesised around a brain label map: deterministic per seed, the brain unchanged,
/// the synthesised tissues outside it, layered CSF → skull → muscle → fat → skin outwards with
/// thicknesses (distances from the brain mask) inside the configured ranges.
final class HeadSynthesisTests: XCTestCase {
    /// An ellipsoidal "brain" at 2 mm (radii 36, 44, 34 mm): WM inside, a GM shell, CSF ventricles,
    /// on a LAS grid (so the synthesis has to reorient it).
    static func brain() -> Volume {
        let dims = [48, 56, 44], sp = [2.0, 2.0, 2.0]
        var rows = Affine.scaling(sp).rows
        rows[0][0] = -2
        rows[0][3] = Double(dims[0] - 1) * 2
        var v = Volume(dims: dims, spacing: sp, affine: Affine(rows: rows))
        for k in 0..<dims[2] {
            for j in 0..<dims[1] {
                for i in 0..<dims[0] {
                    let x = (Double(i) - 23.5) * 2 / 36, y = (Double(j) - 27.5) * 2 / 44, z = (Double(k) - 21.5) * 2 / 34
                    let r = (x * x + y * y + z * z).squareRoot()
                    let vent = ((abs(x) - 0.15) / 0.1) * ((abs(x) - 0.15) / 0.1) + (y / 0.4) * (y / 0.4) + (z / 0.2) * (z / 0.2) < 1
                    v[i, j, k] = r >= 1 ? 0 : (vent ? 1 : (r > 0.8 ? 2 : 3))
                }
            }
        }
        return v
    }

    /// Only the layers (no eyes, neck or clutter), so every synthesised voxel is a layer voxel.
    static var layersOnly: HeadSynthesis {
        var s = HeadSynthesis()
        s.eyes = false
        s.neck = false
        s.clutterBlobs = 0...0
        s.headRestProbability = 0
        return s
    }

    func testDeterministicPerSeedAndDifferentAcrossSeeds() throws {
        let s = HeadSynthesis(), b = Self.brain()
        let a1 = try s.headLabels(b, seed: 11), a2 = try s.headLabels(b, seed: 11), c = try s.headLabels(b, seed: 12)
        XCTAssertEqual(a1.voxels, a2.voxels)
        XCTAssertNotEqual(a1.voxels, c.voxels)
        XCTAssertEqual(a1.affine.rows, try s.paddedGrid(b).affine.rows)
    }

    func testBrainUnchangedAndEveryTissueOutsideIt() throws {
        let s = HeadSynthesis(), b = Self.brain()
        let padded = try s.paddedGrid(b)
        XCTAssertEqual(padded.orientation, Orientation(codes: "RAS"))
        for seed: UInt64 in [1, 2, 3] {
            let head = try s.headLabels(b, seed: seed)
            XCTAssertEqual(head.shape3, padded.shape3)
            var seen = Set<Int>()
            for p in 0..<head.count {
                let l = Int(head.voxels[p]), inBrain = padded.voxels[p] > 0.5
                seen.insert(l)
                if inBrain {
                    XCTAssertEqual(head.voxels[p], padded.voxels[p], "brain voxel \(p) changed")
                } else {
                    XCTAssertTrue(l == 0 || l > s.brainLabelCount, "label \(l) outside the brain at \(p)")
                }
            }
            // Every layer, the eyes and the neck are drawn.
            for t in HeadSynthesis.Tissue.allCases where t != .clutter { XCTAssertTrue(seen.contains(t.rawValue), "seed \(seed): no \(t)") }
            // The segmentation target: the brain labels, everything else background.
            let target = s.brainTarget(head)
            XCTAssertEqual(target.voxels, padded.voxels)
        }
    }

    func testLayersOutwardWithThicknessesInRange() throws {
        let s = Self.layersOnly, b = Self.brain()
        let padded = try s.paddedGrid(b)
        let d = squaredDistanceTransform(feature: padded.voxels.map { $0 > 0.5 }, dims: padded.shape3, spacing: padded.spacing).map { $0.squareRoot() }
        let layers = s.layers
        for seed: UInt64 in [5, 6] {
            let head = try s.synthesise(onPadded: padded, seed: seed)
            var meanDistance = [Double](repeating: 0, count: layers.count), count = [Int](repeating: 0, count: layers.count)
            for p in 0..<head.count where padded.voxels[p] < 0.5 {
                let l = Int(head.voxels[p])
                let layer = l == HeadSynthesis.Tissue.diploe.rawValue ? 1 : layers.firstIndex { $0.tissue.rawValue == l }
                // A voxel of layer m lies beyond the minimum thickness of the layers inside it and
                // within their maximum plus its own.
                let inner = layers.prefix(layer ?? layers.count)
                let minInside = inner.map(\.thickness.lowerBound).reduce(0, +)
                if let m = layer {
                    let maxReach = layers.prefix(m + 1).map(\.thickness.upperBound).reduce(0, +)
                    XCTAssertGreaterThan(d[p], minInside, "label \(l) at \(p) too close to the brain")
                    XCTAssertLessThanOrEqual(d[p], maxReach + 1e-4, "label \(l) at \(p) too far from the brain")
                    meanDistance[m] += d[p]
                    count[m] += 1
                } else {
                    XCTAssertEqual(l, 0, "unexpected label \(l)")
                    // Within every layer's minimum thickness, nothing is left as background.
                    XCTAssertGreaterThan(d[p], minInside, "background at \(p), \(d[p]) mm from the brain")
                }
            }
            XCTAssertTrue(count.allSatisfy { $0 > 0 }, "\(count)")
            let means = zip(meanDistance, count).map { $0 / Double($1) }
            XCTAssertEqual(means, means.sorted(), "mean distance per layer, inside out: \(means)")
            // Thickness varies over the head: the skull's outer boundary is not one distance.
            let skull = (0..<head.count).filter { head.voxels[$0] == Float(HeadSynthesis.Tissue.skull.rawValue) }.map { d[$0] }
            XCTAssertGreaterThan(skull.max()! - skull.min()!, 4, "skull distances \(skull.min()!)...\(skull.max()!)")
        }
    }

    /// With a one-voxel-thin range the boundary between two layers is that distance exactly.
    func testFixedThicknessesGiveExactBoundaries() throws {
        var s = Self.layersOnly
        s.csfThickness = 3...3
        s.skullThickness = 6...6
        s.diploeMinimumSkull = 100
        let padded = try s.paddedGrid(Self.brain())
        let d = squaredDistanceTransform(feature: padded.voxels.map { $0 > 0.5 }, dims: padded.shape3, spacing: padded.spacing).map { $0.squareRoot() }
        let head = try s.synthesise(onPadded: padded, seed: 9)
        for p in 0..<head.count where padded.voxels[p] < 0.5 && d[p] <= 9 {
            let expected: HeadSynthesis.Tissue = d[p] <= 3 ? .extraCerebralCSF : .skull
            XCTAssertEqual(Int(head.voxels[p]), expected.rawValue, "at \(d[p]) mm")
        }
    }

    /// Clean whole-head images for scan-quality training: deterministic per generator state, on the
    /// network's input shape, finite, and not all the same image.
    func testCleanImagesOnTheInputShape() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medvox-heads-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = Self.brain()
        try ImageFile.write(b, to: dir + "/labels.nii")
        try ImageFile.write(b.withVoxels(b.voxels.map { $0 * 300 }), to: dir + "/t1.nii")
        let pipe = PreprocessPipeline(steps: [.reorient("RAS"), .resample(spacing: [4, 4, 4]), .cropForeground(threshold: 0, margin: 2),
                                              .padCrop([24, 32, 24]), .percentile(lower: 0.5, upper: 99.5, nonZero: true)])
        let heads = try SynthesisedHeads.load(labels: dir + "/labels.nii", t1: dir + "/t1.nii", poolSize: 3, seed: 4, pipeline: pipe,
                                              fieldOfView: [96, 128, 96])
        XCTAssertEqual(heads.pool.count, 3)
        var g1 = SeededGenerator(seed: 1), g2 = SeededGenerator(seed: 1)
        let a = try heads.pooledImage(rng: &g1), a2 = try heads.pooledImage(rng: &g2)
        XCTAssertEqual(a.voxels, a2.voxels)
        XCTAssertEqual(a.shape3, [24, 32, 24])
        var images = [a]
        for _ in 0..<5 { images.append(try heads.pooledImage(rng: &g1)) }
        XCTAssertTrue(images.allSatisfy { $0.voxels.allSatisfy(\.isFinite) })
        XCTAssertEqual(Set(images.map(\.voxels)).count, images.count)
    }
}
