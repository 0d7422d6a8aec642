import MedVoxCore
import MedVoxTestSupport
import XCTest

@testable import MedVoxInference

final class MetricsTests: XCTestCase {
    func testDiceAndVolumesByHand() {
        // 4×1×1 line: prediction 1 1 0 0, reference 0 1 1 0 → Dice 0.5.
        let s = segmentationScores(
            prediction: [1, 1, 0, 0], reference: [0, 1, 1, 0], dims: [4, 1, 1], spacing: [2, 1, 1], labels: [1])[0]
        XCTAssertEqual(s.dice, 0.5)
        XCTAssertEqual(s.predictedML, 0.004, accuracy: 1e-12)
        XCTAssertEqual(s.volumeDifferenceML, 0, accuracy: 1e-12)
        // Surfaces: all voxels are surface (1-voxel thick). Distances: from A{0,1} to B{1,2}: 2mm, 0;
        // from B to A: 0, 2mm → pooled [2,0,0,2]; mean 1, 95th percentile 2.
        XCTAssertEqual(s.meanSurfaceDistance!, 1, accuracy: 1e-12)
        XCTAssertEqual(s.hd95!, 2, accuracy: 1e-12)
        let empty = segmentationScores(prediction: [0, 0], reference: [0, 0], dims: [2, 1, 1], spacing: [1, 1, 1], labels: [1])[0]
        XCTAssertNil(empty.dice)
        XCTAssertNil(empty.hd95)
    }

    func testDistanceTransformMatchesScipyOnAnisotropicGrid() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let dims = [13, 9, 7], spacing = [0.7, 1.3, 2.1]
        var g = SeededGenerator(seed: 3)
        let feature = (0..<(13 * 9 * 7)).map { _ in g.unit() < 0.03 }
        let ours = squaredDistanceTransform(feature: feature, dims: dims, spacing: spacing).map { $0.squareRoot() }
        try Python.writeDoubles(feature.map { $0 ? 1 : 0 }, to: dir.path("f.bin"))
        try Python.run(
            """
            import sys, numpy as np
            from scipy.ndimage import distance_transform_edt
            f = np.fromfile(sys.argv[1], '<f8').reshape(7, 9, 13)  # k, j, i
            d = distance_transform_edt(f == 0, sampling=(2.1, 1.3, 0.7))
            d.astype('<f8').tofile(sys.argv[2])
            """, [dir.path("f.bin"), dir.path("d.bin")])
        assertClose(ours, try Python.readDoubles(dir.path("d.bin")), rtol: 1e-9, atol: 1e-9)
    }

    func testSurfaceDistancesMatchScipyReference() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let dims = [16, 12, 10], spacing = [1.0, 0.8, 1.5]
        var g = SeededGenerator(seed: 11)
        // Two overlapping noisy blobs.
        func blob(_ c: [Double], _ r: Double) -> [Float] {
            var out = [Float](repeating: 0, count: 16 * 12 * 10)
            for k in 0..<10 { for j in 0..<12 { for i in 0..<16 {
                let d = ((Double(i) - c[0]) * (Double(i) - c[0]) + (Double(j) - c[1]) * (Double(j) - c[1])
                    + (Double(k) - c[2]) * (Double(k) - c[2])).squareRoot()
                if d + g.uniform(-0.7, 0.7) < r { out[i + 16 * (j + 12 * k)] = 1 }
            } } }
            return out
        }
        let a = blob([7, 6, 5], 4), b = blob([8, 5, 5], 3.5)
        let s = segmentationScores(prediction: a, reference: b, dims: dims, spacing: spacing, labels: [1])[0]
        try Python.writeDoubles(a.map(Double.init), to: dir.path("a.bin"))
        try Python.writeDoubles(b.map(Double.init), to: dir.path("b.bin"))
        let out = try Python.run(
            """
            import sys, numpy as np
            from scipy.ndimage import distance_transform_edt, binary_erosion, generate_binary_structure
            a = np.fromfile(sys.argv[1], '<f8').reshape(10, 12, 16) > 0
            b = np.fromfile(sys.argv[2], '<f8').reshape(10, 12, 16) > 0
            sp = (1.5, 0.8, 1.0)
            st = generate_binary_structure(3, 1)
            sa = a ^ binary_erosion(a, structure=st, iterations=1)
            sb = b ^ binary_erosion(b, structure=st, iterations=1)
            dab = distance_transform_edt(~sb, sampling=sp)[sa]
            dba = distance_transform_edt(~sa, sampling=sp)[sb]
            d = np.hstack((dab, dba))
            dice = 2 * (a & b).sum() / (a.sum() + b.sum())
            print(dice, np.percentile(d, 95), d.mean())
            """, [dir.path("a.bin"), dir.path("b.bin")])
        let ref = out.split(separator: " ").map { Double($0.trimmingCharacters(in: .whitespacesAndNewlines))! }
        XCTAssertEqual(s.dice!, ref[0], accuracy: 1e-12)
        XCTAssertEqual(s.hd95!, ref[1], accuracy: 1e-9)
        XCTAssertEqual(s.meanSurfaceDistance!, ref[2], accuracy: 1e-9)
    }

    func testClassificationMetricsMatchScikitLearn() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        var g = SeededGenerator(seed: 5)
        let n = 200, classes = 3
        var truth: [Int] = [], probs: [[Double]] = []
        for _ in 0..<n {
            let t = g.int(in: 0...2)
            var row = (0..<classes).map { c in g.unit() + (c == t ? 0.6 : 0) }
            // Ties on purpose.
            row = row.map { ($0 * 10).rounded() / 10 }
            let sum = row.reduce(0, +)
            truth.append(t)
            probs.append(row.map { $0 / sum })
        }
        let s = classificationScores(truth: truth, probabilities: probs, classes: classes)
        try Python.writeDoubles(truth.map(Double.init), to: dir.path("t.bin"))
        try Python.writeDoubles(probs.flatMap { $0 }, to: dir.path("p.bin"))
        let out = try Python.run(
            """
            import sys, numpy as np
            from sklearn.metrics import roc_auc_score, accuracy_score, balanced_accuracy_score, confusion_matrix
            t = np.fromfile(sys.argv[1], '<f8').astype(int)
            p = np.fromfile(sys.argv[2], '<f8').reshape(-1, 3)
            pred = p.argmax(1)
            aucs = [roc_auc_score(t == c, p[:, c]) for c in range(3)]
            print(accuracy_score(t, pred), balanced_accuracy_score(t, pred), *aucs)
            print(*confusion_matrix(t, pred, labels=[0, 1, 2]).ravel())
            """, [dir.path("t.bin"), dir.path("p.bin")])
        let lines = out.split(separator: "\n")
        let ref = lines[0].split(separator: " ").map { Double($0)! }
        XCTAssertEqual(s.accuracy, ref[0], accuracy: 1e-12)
        XCTAssertEqual(s.balancedAccuracy, ref[1], accuracy: 1e-12)
        for c in 0..<3 { XCTAssertEqual(s.aucPerClass[c]!, ref[2 + c], accuracy: 1e-12) }
        XCTAssertEqual(s.confusion.flatMap { $0 }, lines[1].split(separator: " ").map { Int($0)! })
    }

    func testExpectedCalibrationErrorByHand() {
        // Two cases, both predicted with confidence 0.8 (same bin): one right, one wrong → |0.5 − 0.8| = 0.3.
        let s = classificationScores(truth: [0, 1], probabilities: [[0.8, 0.2], [0.8, 0.2]], classes: 2)
        XCTAssertEqual(s.expectedCalibrationError, 0.3, accuracy: 1e-12)
        XCTAssertEqual(s.balancedAccuracy, 0.5)
    }
}

final class PostProcessingTests: XCTestCase {
    func testLargestComponentAndHoleFilling() {
        // 7×7×5 grid: a 3×3×3 block of label 1 with a hole at its centre, a voxel attached to its
        // corner diagonally (same 26-component), and an isolated voxel.
        let dims = [7, 7, 5]
        func at(_ i: Int, _ j: Int, _ k: Int) -> Int { i + 7 * (j + 7 * k) }
        var m = [Float](repeating: 0, count: 7 * 7 * 5)
        for k in 1...3 { for j in 1...3 { for i in 1...3 where (i, j, k) != (2, 2, 2) { m[at(i, j, k)] = 1 } } }
        m[at(0, 0, 0)] = 1
        m[at(6, 6, 4)] = 1
        let kept = keepLargestComponentPerLabel(m, dims: dims)
        XCTAssertEqual(kept[at(6, 6, 4)], 0)
        XCTAssertEqual(kept[at(0, 0, 0)], 1)
        XCTAssertEqual(kept[at(2, 2, 2)], 0)
        let filled = fillHolesPerLabel(kept, dims: dims)
        XCTAssertEqual(filled[at(2, 2, 2)], 1)
        XCTAssertEqual(filled.filter { $0 == 1 }.count, 28)
    }

    func testComponentSizes() {
        let mask: [Bool] = [true, false, true, true, false, false, true, false]
        let (labels, sizes) = connectedComponents(mask, dims: [8, 1, 1], connectivity: 6)
        XCTAssertEqual(sizes, [0, 1, 2, 1])
        XCTAssertEqual(labels, [1, 0, 2, 2, 0, 0, 3, 0])
    }
}

final class SlidingWindowTests: XCTestCase {
    func testStartsCoverTheAxisWithTheRequestedOverlap() {
        XCTAssertEqual(SlidingWindow.starts(size: 100, patch: 100, overlap: 0.5), [0])
        XCTAssertEqual(SlidingWindow.starts(size: 60, patch: 100, overlap: 0.5), [0])
        let s = SlidingWindow.starts(size: 197, patch: 96, overlap: 0.5)
        XCTAssertEqual(s.first, 0)
        XCTAssertEqual(s.last, 197 - 96)
        for (a, b) in zip(s, s.dropFirst()) { XCTAssertLessThanOrEqual(b - a, 48) }
    }

    func testGaussianWeightsPeakAtTheCentreAndArePositive() {
        let w = SlidingWindow.gaussianWeights(patch: [9, 7, 5])
        XCTAssertEqual(w[4 + 9 * (3 + 7 * 2)], 1)
        XCTAssertTrue(w.allSatisfy { $0 > 0 && $0 <= 1 })
    }
}

final class LabelStatisticsTests: XCTestCase {
    func testStatisticsByHand() {
        // 4×2×1 grid, 2 mm × 1 mm × 1.5 mm voxels, origin at (10, 20, 30).
        let image = Volume(
            dims: [4, 2, 1], spacing: [2, 1, 1.5], affine: .scaling([2, 1, 1.5], origin: [10, 20, 30]),
            voxels: [1, 2, 3, 4, 5, 6, 7, 8])
        let labels: [Float] = [0, 1, 1, 0, 0, 1, 2, 0]
        let s = labelStatistics(labelMap: labels, image: image, labels: [1, 2, 3])
        XCTAssertEqual(s[0].voxels, 3)
        XCTAssertEqual(s[0].volumeML, 0.009, accuracy: 1e-12)
        XCTAssertEqual(s[0].meanIntensity!, (2 + 3 + 6) / 3, accuracy: 1e-12)
        XCTAssertEqual(s[0].boundingBox, [1, 0, 0, 2, 1, 0])
        // Centroid voxel (4/3, 1/3, 0) → world (10 + 8/3, 20 + 1/3, 30).
        XCTAssertEqual(s[0].centroidMM![0], 10 + 8.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(s[0].centroidMM![1], 20 + 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(s[1].sdIntensity!, 0, accuracy: 1e-12)
        XCTAssertEqual(s[2].voxels, 0)
        XCTAssertNil(s[2].centroidMM)
    }
}
