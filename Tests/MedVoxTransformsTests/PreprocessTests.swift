import Foundation
import MedVoxCore
import XCTest

@testable import MedVoxTransforms

final class PreprocessTests: XCTestCase {
    func testPadModesMatchNumpyPad() {
        let v = testVolume([5, 4, 3], seed: 4)
        for mode in PadMode.allCases {
            let r = try! v.extracted(VoxelBox(start: [-3, -2, -1], size: [11, 7, 6]), mode: mode, value: 2.5)
            let extra = mode == .constant ? ", constant_values=2.5" : ""
            let script = """
                a = load(0).reshape((5, 4, 3), order='F')
                p = np.pad(a, ((3, 3), (2, 1), (1, 2)), mode='\(mode.rawValue)'\(extra))
                save(0, p)
                """
            guard let o = Oracle.run(script, inputs: [v.voxels.map(Double.init)], outputs: 1) else { return }
            assertClose(r.voxels, o[0], atol: 0, "pad \(mode)")
            // Every voxel keeps its world position.
            let w0 = r.affine.apply([3, 2, 1]), w1 = v.affine.apply([0, 0, 0])
            XCTAssertEqual(w0, w1)
        }
    }

    func testCropToForegroundAndRestore() {
        var v = Volume(dims: [12, 10, 8], affine: Affine.scaling([0.9, 1.1, 1.3], origin: [5, 6, 7]))
        for k in 3...5 { for j in 2...6 { for i in 4...9 { v[i, j, k] = Float(i + j + k) } } }
        let (c, box) = try! v.croppedToForeground(margin: 1)
        XCTAssertEqual(box, VoxelBox(start: [3, 1, 2], size: [8, 7, 5]))
        XCTAssertEqual(c[1, 1, 1], v[4, 2, 3])
        XCTAssertTrue(c.affine.apply([0, 0, 0]) == v.affine.apply([3, 1, 2]))
        let back = try! c.restored(intoDims: v.shape3, box: box)
        XCTAssertEqual(back.voxels, v.voxels)
        XCTAssertTrue(back.affine.isClose(to: v.affine, tolerance: 1e-12))
        // Mask-driven box.
        var mask = Volume(dims: [12, 10, 8])
        mask[2, 3, 4] = 1
        XCTAssertEqual(try v.foregroundBox(mask: mask), VoxelBox(start: [2, 3, 4], size: [1, 1, 1]))
        XCTAssertNil(try Volume(dims: [3, 3, 3]).foregroundBox())
    }

    func testCentreCropAndPadOrCrop() {
        let v = testVolume([9, 8, 5])
        let c = try! v.centreCropped(to: [5, 4, 5])
        XCTAssertEqual(c[0, 0, 0], v[2, 2, 0])
        let p = try! v.paddedOrCropped(to: [12, 6, 5], mode: .edge)
        XCTAssertEqual(p[0, 0, 0], v[0, 1, 0])
        XCTAssertEqual(p[11, 5, 4], v[8, 6, 4])
        XCTAssertThrowsError(try v.centreCropped(to: [10, 4, 5]))
    }

    func testIntensityNormalisation() {
        var v = Volume(dims: [101, 1, 1])
        for i in 0...100 { v.voxels[i] = Float(i) }
        let z = try! v.zScored()
        let mean = z.voxels.reduce(0, +) / 101
        let std = (z.voxels.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 101).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 1e-5)
        XCTAssertEqual(std, 1, accuracy: 1e-5)
        // Non-zero: voxel 0 excluded from statistics, set to 0.
        let nz = try! v.zScored(over: .nonZero)
        XCTAssertEqual(nz.voxels[0], 0)
        XCTAssertEqual(Double(nz.voxels[1]), (1 - 50.5) / (Array(1...100).map { pow(Double($0) - 50.5, 2) }.reduce(0, +) / 100).squareRoot(), accuracy: 1e-5)
        // Percentiles of 0…100 are the values themselves: 10→0, 90→1.
        let p = try! v.percentileScaled(lower: 10, upper: 90)
        XCTAssertEqual(p.voxels[5], 0)
        XCTAssertEqual(p.voxels[50], 0.5, accuracy: 1e-6)
        XCTAssertEqual(p.voxels[95], 1)
        let ct = v.windowed(low: 20, high: 60)
        XCTAssertEqual(ct.voxels[40], 0.5, accuracy: 1e-6)
        XCTAssertEqual(ct.voxels[0], 0)
        XCTAssertEqual(ct.voxels[100], 1)
        var m = Volume(dims: [101, 1, 1])
        for i in 0..<50 { m.voxels[i] = 1 }
        let zm = try! v.zScored(over: .mask(m))
        // Mean of 0…49 is 24.5, std √((50² − 1)/12); outside the mask → 0.
        XCTAssertEqual(Double(zm.voxels[24]), -0.5 / ((2500.0 - 1) / 12).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(zm.voxels[60], 0)
        XCTAssertThrowsError(try v.zScored(over: .mask(Volume(dims: [101, 1, 1])))) { XCTAssertTrue($0 is TransformError) }
    }

    func testPercentileMatchesNumpy() {
        let v = testVolume([13, 7, 5], seed: 8)
        let sorted = v.voxels.sorted()
        let qs = [0.5, 2, 37.3, 50, 99.5]
        guard let o = Oracle.run("save(0, np.percentile(load(0), \(qs)))", inputs: [v.voxels.map(Double.init)], outputs: 1) else { return }
        for (q, expected) in zip(qs, o[0]) { XCTAssertEqual(percentile(sorted: sorted, q), expected, accuracy: 1e-5) }
    }

    func testHistogramStandardisation() throws {
        let a = testVolume([10, 10, 10], seed: 1)
        var b = testVolume([10, 10, 10], seed: 2)
        b.mapVoxels { $0 * 3 + 10 }
        let h = try HistogramStandardization.learn(from: [a, b])
        XCTAssertEqual(h.landmarks.first!, 0, accuracy: 1e-9)
        XCTAssertEqual(h.landmarks.last!, 100, accuracy: 1e-9)
        // Applying maps an image's own percentiles onto the landmarks.
        let out = try h.apply(b)
        let p = try HistogramStandardization.imagePercentiles(b, h.percentiles)
        let q = try HistogramStandardization.imagePercentiles(out, h.percentiles)
        XCTAssertEqual(p.count, q.count)
        for (x, y) in zip(q, h.landmarks) { XCTAssertEqual(x, y, accuracy: 0.05) }
        // JSON round trip.
        let data = try JSONEncoder().encode(h)
        XCTAssertEqual(try JSONDecoder().decode(HistogramStandardization.self, from: data), h)
    }

    func testPipelineRoundTripAndRestore() throws {
        // An LPS-ish oblique-free volume with a bright block; labels = block.
        let a = Affine(rows: [[-1.2, 0, 0, 30], [0, -1, 0, 40], [0, 0, 2, -10], [0, 0, 0, 1]])
        var img = Volume(dims: [20, 18, 9], spacing: [1.2, 1, 2], affine: a)
        var lab = Volume(dims: [20, 18, 9], spacing: [1.2, 1, 2], affine: a)
        for k in 2...6 { for j in 4...12 { for i in 5...14 { img[i, j, k] = 100 + Float(i); lab[i, j, k] = 1 } } }
        let pipeline = PreprocessPipeline(steps: [
            .reorient("RAS"), .resample(spacing: [1, 1, 1], interpolation: .bspline), .cropForeground(threshold: 50, margin: 2),
            .zscore(nonZero: true),
        ])
        let json = pipeline.encoded()
        XCTAssertEqual(try PreprocessPipeline.decode(json, source: "p.json"), pipeline)
        XCTAssertTrue(String(decoding: json, as: UTF8.self).contains("\"op\" : \"crop_foreground\""))
        let r = try pipeline.apply(to: img, labels: [lab])
        XCTAssertEqual(r.image.orientation.codes, "RAS")
        XCTAssertEqual(r.image.shape3, r.labels[0].shape3)
        for s in r.image.affine.columnNorms { XCTAssertEqual(s, 1, accuracy: 1e-9) }
        // The label map restored onto the input grid lands on the input's block (up to the boundary voxels of resampling).
        let back = try r.restore(r.labels[0])
        XCTAssertEqual(back.shape3, lab.shape3)
        XCTAssertTrue(back.affine.isClose(to: img.affine, tolerance: 1e-9))
        var agree = 0
        for i in 0..<lab.count where back.voxels[i] == lab.voxels[i] { agree += 1 }
        XCTAssertGreaterThan(Double(agree) / Double(lab.count), 0.98)
        XCTAssertThrowsError(try PreprocessPipeline.decode(Data("{\"steps\": 3}".utf8), source: "bad.json")) {
            XCTAssertTrue("\($0)".hasPrefix("bad.json: "))
        }
    }
}
