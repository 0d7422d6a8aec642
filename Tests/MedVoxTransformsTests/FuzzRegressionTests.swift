import Foundation
import MedVoxCore
import XCTest

@testable import MedVoxTransforms

/// Configs on which the FuzzConfigs target crashed (Fixtures/fuzz-regressions/configs-*.json).
final class FuzzRegressionTests: XCTestCase {
    static let image = Volume(dims: [8, 7, 6], voxels: (0..<336).map { Float($0 % 37) })

    func fixture(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz-regressions/" + name)
    }

    /// "ghosts": [4, 2.2e97] made the ghost count's Double→Int conversion trap.
    func testAugmentConfigWithAHugeGhostingRangeDoesNotTrap() throws {
        let url = fixture("configs-ghosting-huge-range.json")
        let p = try AugmentPipeline.decode(Data(contentsOf: url), source: url.path)
        let image = Self.image
        let dims = image.dims
        for seed in 0..<8 as Range<UInt64> {
            do {
                let (out, _) = try p.apply(to: Sample(image: image), seed: seed)
                XCTAssertEqual(out.image.dims, dims)
                XCTAssertTrue(out.image.voxels.allSatisfy(\.isFinite))
            } catch {
                XCTAssertTrue(error is MedVoxError, "\(error)")
            }
        }
    }

    /// A preprocessing pipeline resampling to 2.2e24 mm voxels: the anti-aliasing Gaussian's
    /// radius overflowed Int. Now a one-voxel axis whose value is the (smoothed) axis mean.
    func testPipelineResamplingToAbsurdSpacingDoesNotTrap() throws {
        let url = fixture("configs-resample-huge-spacing.json")
        let p = try PreprocessPipeline.decode(Data(contentsOf: url), source: url.path)
        let image = Self.image
        let dims = image.dims
        do {
            let r = try p.apply(to: image)
            XCTAssertTrue(r.image.voxels.allSatisfy(\.isFinite))
        } catch {
            XCTAssertTrue(error is MedVoxError, "\(error)")
        }
        // The capped kernel still smooths like an enormous one: a constant axis stays constant
        // and a ramp goes to its mean.
        var ramp = (0..<16).map { Float($0) }
        ramp.withUnsafeMutableBufferPointer { gaussianSmooth($0, dims: [16, 1, 1], sigma: [1e30, 0, 0]) }
        for v in ramp { XCTAssertEqual(v, 7.5, accuracy: 1e-3) }
    }

    /// Every configs-*.json found by the fuzzer, through both pipelines as the fuzz target runs
    /// them (a second pipeline found 30 minutes in resampled to 2.9e70 mm, after which the next
    /// step's voxel count overflowed Int): success or a MedVoxError, never a trap.
    func testEveryFuzzFoundConfigRunsOrFailsCleanly() throws {
        let dir = fixture("").path
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("configs-") && $0.hasSuffix(".json") }
        XCTAssertGreaterThanOrEqual(names.count, 3)
        for name in names.sorted() {
            let started = Date()
            defer { XCTAssertLessThan(Date().timeIntervalSince(started), 10, "\(name) took too long") }
            let data = try Data(contentsOf: fixture(name))
            for run in [{ _ = try PreprocessPipeline.decode(data, source: name).apply(to: Self.image) },
                        { _ = try AugmentPipeline.decode(data, source: name).apply(to: Sample(image: Self.image), seed: 1) }] {
                do { try run() } catch { XCTAssertTrue(error is MedVoxError, "\(name): \(error)") }
            }
        }
    }

    /// Non-finite or huge label values are refused by label synthesis (they trapped converting
    /// to Int), and non-finite coordinates from an absurd map clamp instead of trapping.
    func testNonFiniteLabelsAndCoordinatesDoNotTrap() throws {
        var labels = Self.image
        labels.voxels[5] = .nan
        let p = AugmentPipeline(transforms: [AugmentSpec(.labelSynthesis, p: 1)])
        XCTAssertThrowsError(try p.apply(to: Sample(image: Self.image, labels: [labels]), seed: 1)) { e in
            XCTAssertTrue(e is MedVoxError, "\(e)")
        }
        XCTAssertEqual(clampCoordinate(.nan, 0, 5), 0)
        XCTAssertEqual(clampCoordinate(1e300, 0, 5), 5)
        XCTAssertEqual(clampCoordinate(-.infinity, -1, 5), -1)
        XCTAssertEqual(percentile(sorted: [1, 2, 3], .nan), 1)
    }

    /// Wide Gaussians go through the FFT path; it equals the direct reflect-boundary sum
    /// (computed here naively in Double) on every axis, and a σ of 4× a 300-voxel axis is fast.
    func testWideGaussianByFFTMatchesTheDirectSum() throws {
        let dims = [37, 5, 4]
        let n = dims.reduce(1, *)
        let input = (0..<n).map { Float(sin(Double($0) * 0.37) * 50 + Double($0 % 11)) }
        for axis in 0..<3 {
            // Wide enough for the FFT path (> 128 taps), within the 4n cap so the reference is exact.
            let sigma = min(4 * Double(dims[axis]), max(2.5 * Double(dims[axis]), 17))
            var got = input
            var s = [0.0, 0.0, 0.0]
            s[axis] = sigma
            got.withUnsafeMutableBufferPointer { gaussianSmooth($0, dims: dims, sigma: s) }
            let r = Int(4 * sigma + 0.5)
            XCTAssertGreaterThan(2 * r + 1, fftSmoothingTaps)
            let w = (-r...r).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
            let total = w.reduce(0, +)
            let len = dims[axis], stride = axis == 0 ? 1 : (axis == 1 ? dims[0] : dims[0] * dims[1])
            func reflect(_ i: Int) -> Int {
                var k = ((i % (2 * len)) + 2 * len) % (2 * len)
                if k >= len { k = 2 * len - 1 - k }
                return k
            }
            for v in 0..<n {
                let pos = (v / stride) % len, base = v - pos * stride
                var acc = 0.0
                for t in -r...r { acc += w[t + r] / total * Double(input[base + reflect(pos + t) * stride]) }
                XCTAssertEqual(Double(got[v]), acc, accuracy: 1e-4 * 60, "axis \(axis) voxel \(v)")
            }
        }
        // A 300-voxel axis downsampled 1200×: σ capped at 4·300, radius 4800 — by FFT in well under a second.
        var big = [Float](repeating: 1, count: 300 * 40 * 40)
        let start = Date()
        big.withUnsafeMutableBufferPointer { gaussianSmooth($0, dims: [300, 40, 40], sigma: [1e6, 0, 0]) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertEqual(big[12345], 1, accuracy: 1e-4)
    }
}
