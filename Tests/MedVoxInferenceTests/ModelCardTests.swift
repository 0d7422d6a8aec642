import Foundation
import MedVoxCore
import MedVoxNN
import MedVoxTestSupport
import MedVoxTransforms
import XCTest

@testable import MedVoxInference

final class ModelCardTests: XCTestCase {
    func makeCard(weights: String, sha: String) -> ModelCard {
        ModelCard(
            name: "tiny", version: "0.1.0", task: .segmentation,
            architecture: .init(kind: "unet", spatialRank: 3, inChannels: 1, classes: 2, features: [2, 4]),
            labels: [.init(value: 0, name: "background"), .init(value: 1, name: "thing", color: [255, 0, 0])],
            input: .init(modality: "MR", spacing: [1, 1, 1], patchSize: [8, 8, 8]),
            preprocessing: PreprocessPipeline(steps: [.reorient("RAS"), .zscore(nonZero: true)]),
            weights: .init(file: weights, sha256: sha))
    }

    /// The voxel-size warning fires only where the input is coarser than the model's grid by more
    /// than 1.5× on an axis; finer inputs (a 1 mm scan through a 2 mm model) lose nothing.
    func testSpacingWarningOnlyWhereResolutionIsLost() {
        var card = makeCard(weights: "w.safetensors", sha: "")
        card.input.spacing = [2, 2, 2]
        func warnings(_ spacing: [Double], modality: String? = "MR") -> [String] {
            card.inputWarnings(for: randomVolume(dims: [4, 4, 4], seed: 1, spacing: spacing), modality: modality)
        }
        XCTAssertEqual(warnings([1, 1, 1]), [])
        XCTAssertEqual(warnings([0.5, 0.5, 0.5]), [])
        XCTAssertEqual(warnings([3, 3, 3]), [], "exactly 1.5× coarser is still allowed")
        XCTAssertEqual(warnings([1, 1, 3.2]).count, 1, "1.6× coarser along k")
        XCTAssertTrue(warnings([1, 1, 3.2])[0].contains("coarser than the model's"), warnings([1, 1, 3.2])[0])
        XCTAssertEqual(warnings([1, 1, 1], modality: "CT").count, 1, "another modality")
    }

    func testSaveLoadRoundTripAndChecksum() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        var rng = SeededGenerator(seed: 1)
        let card0 = makeCard(weights: "tiny.safetensors", sha: "")
        let net = card0.makeNetwork(rng: &rng)
        try Safetensors.write(net.stateDict(), to: dir.path("tiny.safetensors"))
        let sha = SHA256.hash([UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path("tiny.safetensors"))))).hex
        let card = makeCard(weights: "tiny.safetensors", sha: sha)
        try card.encoded().write(to: URL(fileURLWithPath: dir.path("tiny.json")))
        let loaded = try LoadedModel.load(dir.path("tiny.json"))
        XCTAssertEqual(loaded.card, card)
        XCTAssertEqual(loaded.network.stateDict(), net.stateDict())

        // A tampered weights file is refused.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path("tiny.safetensors"))))
        bytes[bytes.count - 1] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: dir.path("tiny.safetensors")))
        XCTAssertThrowsError(try LoadedModel.load(dir.path("tiny.json"))) { e in
            XCTAssertTrue("\(e)".contains("SHA-256"), "\(e)")
        }
    }

    func testInvalidCardsAreRejectedWithTheReason() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        var card = makeCard(weights: "../evil", sha: "00")
        try card.encoded().write(to: URL(fileURLWithPath: dir.path("a.json")))
        XCTAssertThrowsError(try ModelCard.read(dir.path("a.json"))) { XCTAssertTrue("\($0)".contains("plain name")) }
        card = makeCard(weights: "w.safetensors", sha: "00")
        card.labels.removeLast()
        try card.encoded().write(to: URL(fileURLWithPath: dir.path("b.json")))
        XCTAssertThrowsError(try ModelCard.read(dir.path("b.json"))) { XCTAssertTrue("\($0)".contains("1 labels for 2 classes")) }
        try Data("{\"name\": 3}".utf8).write(to: URL(fileURLWithPath: dir.path("c.json")))
        XCTAssertThrowsError(try ModelCard.read(dir.path("c.json"))) { XCTAssertTrue("\($0)".contains("c.json")) }
        XCTAssertThrowsError(try LoadedModel.resolve("no-such-model")) { XCTAssertTrue("\($0)".contains("not found")) }
        XCTAssertThrowsError(try LoadedModel.resolve("../etc")) { XCTAssertTrue("\($0)".contains("not found")) }
    }
}
