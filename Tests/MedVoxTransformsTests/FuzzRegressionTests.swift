import Foundation
import MedVoxCore
import XCTest

@testable import MedVoxTransforms

/// Configs on which the FuzzConfigs target crashed (Fixtures/fuzz-regressions/configs-*.json).
final class FuzzRegressionTests: XCTestCase {
    /// "ghosts": [4, 2.2e97] made the ghost count's Double→Int conversion trap.
    func testAugmentConfigWithAHugeGhostingRangeDoesNotTrap() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz-regressions/configs-ghosting-huge-range.json")
        let p = try AugmentPipeline.decode(Data(contentsOf: url), source: url.path)
        let dims = [8, 7, 6]
        let image = Volume(dims: dims, voxels: (0..<dims.reduce(1, *)).map { Float($0 % 37) })
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
}
