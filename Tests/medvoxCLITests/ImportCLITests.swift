import Foundation
import MedVoxTestSupport
import XCTest

/// `medvox import`, `run`, `info CARD`, `bench model` and a graph card in `segment`, through the
/// built binary, against onnxruntime on networks from Fixtures/onnx/make_import_fixtures.py.
final class ImportCLITests: XCTestCase {
    func medvox(_ args: String...) throws -> CLITests.Run { try CLITests.medvox(args) }

    /// Fixtures in a fresh folder, and an output folder.
    func fixtures() throws -> (String, String) {
        let dir = try CLITests.temporaryFolder()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Python.process([repositoryRoot + "/Fixtures/onnx/make_import_fixtures.py", dir + "/fx"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        return (dir + "/fx", dir + "/out")
    }

    struct Comparison: Decodable {
        var max_error: Double, scale: Double, shape_ok: Bool, affine_ok: Bool
    }

    func compare(_ model: String, _ input: String, _ output: String) throws -> Comparison {
        let r = try Python.process([repositoryRoot + "/Fixtures/onnx/make_import_fixtures.py", "compare", model, input, output])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONDecoder().decode(Comparison.self, from: Data(r.stdout.utf8))
    }

    /// `medvox run CARD INPUT -o OUTPUT` agrees with onnxruntime on `model` within 1e-4 of the
    /// output's scale, on the input's affine.
    func assertRunMatches(card: String, model: String, input: String, output: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let run = try medvox("run", card, input, "-o", output)
        XCTAssertEqual(run.status, 0, run.stderr, file: file, line: line)
        let c = try compare(model, input, output)
        XCTAssertTrue(c.shape_ok && c.affine_ok, file: file, line: line)
        XCTAssertLessThanOrEqual(c.max_error, 1e-4 * c.scale, file: file, line: line)
    }

    func testImportThenRunMatchesOnnxruntime() throws {
        let (fx, out) = try fixtures()
        let imp = try medvox("import", fx + "/small_unet.onnx", "-o", out + "/unet", "--labels", "bg,a,b")
        XCTAssertEqual(imp.status, 0, imp.stderr)
        for f in ["unet.json", "unet.safetensors", "unet.graph.json"] { XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f) }
        // A non-symmetric 20×16×24 input: the network's axes are the array's i, j, k.
        try assertRunMatches(card: out + "/unet.json", model: fx + "/small_unet.onnx", input: fx + "/input.nii.gz", output: out + "/logits.nii.gz")
    }

    /// A card whose size multiple does not divide the network's strides (a hand-edited card) is
    /// refused when it loads, with one line naming the card: never a failure inside a window.
    func testCardWithAMultipleTheNetworkCannotTakeIsRefused() throws {
        let (fx, out) = try fixtures()
        XCTAssertEqual(try medvox("import", fx + "/small_unet.onnx", "-o", out + "/unet").status, 0)
        let card = try String(contentsOfFile: out + "/unet.json", encoding: .utf8)
        let edited = card.replacingOccurrences(of: #""sizeMultiple" *: *[0-9]+"#, with: #""sizeMultiple" : 1"#, options: .regularExpression)
        XCTAssertNotEqual(edited, card, "the imported card names no size multiple above 1")
        try edited.write(toFile: out + "/edited.json", atomically: true, encoding: .utf8)
        let seg = try medvox("segment", fx + "/input.nii.gz", "-o", out + "/m.nii.gz", "--model", out + "/edited.json", "--quiet")
        XCTAssertEqual(seg.status, 1, seg.stderr)
        XCTAssertTrue(seg.stderr.contains("edited.json") && seg.stderr.contains("sizeMultiple 1 is not a multiple"), seg.stderr)
        XCTAssertEqual(seg.stderr.split(separator: "\n").count, 1, seg.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/m.nii.gz"))
    }

    func testClassifierRunsAsOneByOneByOneByC() throws {
        let (fx, out) = try fixtures()
        XCTAssertEqual(try medvox("import", fx + "/classifier.onnx", "-o", out + "/qc").status, 0)
        try assertRunMatches(card: out + "/qc.json", model: fx + "/classifier.onnx", input: fx + "/input16.nii.gz", output: out + "/p.nii")
        // The fixed input size is named when the input does not have it.
        let wrong = try medvox("run", out + "/qc.json", fx + "/input.nii.gz", "-o", out + "/q.nii")
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("[1, 1, 16, 16, 16]"), wrong.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/q.nii"))
        // classify takes the card (the card's preprocessing pads or crops to 16³).
        let cls = try medvox("classify", fx + "/input.nii.gz", "--model", out + "/qc.json", "--json")
        XCTAssertEqual(cls.status, 0, cls.stderr)
        XCTAssertTrue(cls.stdout.contains("\"topClass\""), cls.stdout)
    }

    func testUnsupportedOperatorsAreListedOnOneLine() throws {
        let (fx, out) = try fixtures()
        let r = try medvox("import", fx + "/unsupported.onnx", "-o", out + "/bad")
        XCTAssertEqual(r.status, 1)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr)
        for item in ["top_values", "TopK", "cubic_up", "mode=cubic", "ms_fused", "com.microsoft.FusedConv"] {
            XCTAssertTrue(r.stderr.contains(item), "\(item) missing from: \(r.stderr)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), [])
    }

    func testImportedCardSegmentsAndBenchmarksAndShowsItsPreprocessing() throws {
        let (fx, out) = try fixtures()
        let imp = try medvox("import", fx + "/small_unet.onnx", "-o", out + "/unet", "--normalize", "zscore", "--spacing", "1,1,2",
                             "--patch", "16,16,16", "--modality", "CT")
        XCTAssertEqual(imp.status, 0, imp.stderr)
        let seg = try medvox("segment", fx + "/input.nii.gz", "-o", out + "/mask.nii.gz", "--model", out + "/unet.json", "--quiet")
        XCTAssertEqual(seg.status, 0, seg.stderr)
        let info = try medvox("info", out + "/mask.nii.gz", "--json")
        XCTAssertTrue(info.stdout.contains("\"dims\": [20, 16, 24]"), info.stdout)
        let card = try medvox("info", out + "/unet.json")
        XCTAssertEqual(card.status, 0, card.stderr)
        for s in ["z-score", "resample to spacing 1,1,2", "reorient to RAS", "CT", "patch 16×16×16"] {
            XCTAssertTrue(card.stdout.contains(s), "\(s) missing from: \(card.stdout)")
        }
        let bench = try medvox("bench", "model", out + "/unet.json", "--size", "16", "--repeat", "1", "--json")
        XCTAssertEqual(bench.status, 0, bench.stderr)
        XCTAssertTrue(bench.stdout.contains("\"forward_ms\"") && bench.stdout.contains("\"peak_mib\""), bench.stdout)
    }

    /// A 2D network with a fixed input: run on one slice as [1, C, i, j]; segment slides windows
    /// of exactly that size over a volume, slice by slice.
    func testFixedSize2DNetwork() throws {
        let (fx, out) = try fixtures()
        XCTAssertEqual(try medvox("import", fx + "/fixed2d.onnx", "-o", out + "/f2").status, 0)
        try assertRunMatches(card: out + "/f2.json", model: fx + "/fixed2d.onnx", input: fx + "/slice.nii.gz", output: out + "/y.nii.gz")
        let seg = try medvox("segment", fx + "/input.nii.gz", "-o", out + "/m.nii.gz", "--model", out + "/f2.json", "--quiet")
        XCTAssertEqual(seg.status, 0, seg.stderr)
        XCTAssertTrue(try medvox("info", out + "/m.nii.gz", "--json").stdout.contains("\"dims\": [20, 16, 24]"))
    }
}
