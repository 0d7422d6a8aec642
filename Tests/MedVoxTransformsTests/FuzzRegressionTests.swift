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
}
