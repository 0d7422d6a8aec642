import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference
import MedVoxNN
import MedVoxTestSupport
import MedVoxTransforms
import XCTest

@testable import MedVoxReport

final class ReportTests: XCTestCase {
    func testEscapingTurnsMarkupIntoText() {
        XCTAssertEqual(htmlEscape("<script>alert('x')</script> & \"q\""),
                       "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")
        XCTAssertEqual(htmlEscape("a\u{0}b\u{1B}c\nd"), "abc\nd")
    }

    /// A tiny random segmentation model written to `dir` (card + weights).
    func tinyModel(in dir: ScratchDirectory) throws -> LoadedModel {
        var rng = SeededGenerator(seed: 4)
        var card = ModelCard(
            name: "tiny", version: "0.1.0", task: .segmentation,
            architecture: .init(kind: "unet", spatialRank: 3, inChannels: 1, classes: 3, features: [2, 4]),
            labels: [.init(value: 0, name: "background"), .init(value: 1, name: "<b>bold</b>"), .init(value: 2, name: "two")],
            input: .init(modality: "CT", spacing: [1, 1, 1], patchSize: [8, 8, 8], intensityRange: [-0.5, 0.5]),
            preprocessing: PreprocessPipeline(steps: [.zscore()]),
            weights: .init(file: "tiny.safetensors", sha256: ""))
        let net = card.makeNetwork(rng: &rng)
        try Safetensors.write(net.stateDict(), to: dir.path("tiny.safetensors"))
        card.weights.sha256 = SHA256.hash([UInt8](FileManager.default.contents(atPath: dir.path("tiny.safetensors"))!)).hex
        try card.encoded().write(to: URL(fileURLWithPath: dir.path("tiny.json")))
        return try LoadedModel.load(dir.path("tiny.json"))
    }

    func testSegmentationReportHasTheJSONFactsAndRebuilds() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let model = try tinyModel(in: dir)
        var g = SeededGenerator(seed: 9)
        var image = Volume(dims: [12, 10, 9], spacing: [1, 1, 3.5], affine: .scaling([-1, 1, 3.5], origin: [5, -3, 2]))
        for i in 0..<image.count { image.voxels[i] = Float(g.normal()) }
        try ImageFile.write(image, to: dir.path("img.nii.gz"))
        let source = try ImageFile.open(dir.path("img.nii.gz"))
        let volume = try source.volume()
        let result = try Segmenter(model: model).segment(volume)
        try FileManager.default.createDirectory(atPath: dir.path("case"), withIntermediateDirectories: true)
        try ImageFile.write(result.mask, to: dir.path("case/mask.nii.gz"), as: .uint8)

        var b = ReportBuilder(source: source, image: volume, phi: false, version: "test")
        try b.addSegmentation(model: model, result: result, maskFile: "mask.nii.gz")
        var report = b.report
        report.input.imageFile = dir.path("img.nii.gz")
        try ReportWriter.write(report, figures: b.figures, to: dir.path("case"))

        let saved = try ReportWriter.read(dir.path("case"))
        XCTAssertEqual(saved, report)
        XCTAssertEqual(saved.input.orientation, "LAS")
        XCTAssertEqual(saved.runs.first?.weightsSHA256, model.card.weights.sha256)
        XCTAssertTrue(saved.warnings.contains { $0.code == "anisotropic-voxels" })
        // The label rows agree with an independent count of the mask.
        let seg = try XCTUnwrap(saved.segmentation)
        for row in seg.labels {
            XCTAssertEqual(row.voxels, result.mask.voxels.filter { Int($0) == row.value }.count)
            XCTAssertEqual(row.volumeML, Double(row.voxels) * 3.5 / 1000, accuracy: 1e-9)
        }
        let html = String(decoding: FileManager.default.contents(atPath: dir.path("case/report.html"))!, as: UTF8.self)
        XCTAssertFalse(html.contains("<b>bold</b>"), "a label name from a file must be escaped")
        XCTAssertTrue(html.contains("&lt;b&gt;bold&lt;/b&gt;"))
        XCTAssertFalse(html.lowercased().contains("<script"))
        for row in seg.labels {
            XCTAssertTrue(html.contains(">\(row.voxels)<"), "voxel count \(row.voxels) missing")
            XCTAssertTrue(html.contains(String(format: "%.2f", row.volumeML)))
        }
        for f in saved.figures {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.path("case/\(f.file)")))
            let png = [UInt8](FileManager.default.contents(atPath: dir.path("case/\(f.file)"))!)
            XCTAssertTrue(html.contains(Data(png).base64EncodedString()), "\(f.file) not embedded")
        }
        for w in saved.warnings { XCTAssertTrue(html.contains(htmlEscape(w.message))) }

        // Rebuild from the folder alone: same facts, same figures, a fresh HTML.
        try FileManager.default.removeItem(atPath: dir.path("case/report.html"))
        try ReportWriter.rebuild(dir.path("case"))
        XCTAssertEqual(try ReportWriter.read(dir.path("case")), saved)
        let rebuilt = String(decoding: FileManager.default.contents(atPath: dir.path("case/report.html"))!, as: UTF8.self)
        XCTAssertEqual(rebuilt, html)
    }

    func testRebuildRefusesAFolderWithoutReport() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        XCTAssertThrowsError(try ReportWriter.rebuild(dir.url.path)) { XCTAssertTrue("\($0)".contains("no report.json")) }
        try Data("{\"schemaVersion\": 1}".utf8).write(to: URL(fileURLWithPath: dir.path("report.json")))
        XCTAssertThrowsError(try ReportWriter.rebuild(dir.url.path)) { XCTAssertTrue("\($0)".contains("schema")) }
    }
}
