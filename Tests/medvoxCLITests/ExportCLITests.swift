import Foundation
import MedVoxTestSupport
import XCTest

/// `medvox export` through the built binary: a shipped model to an ONNX file that onnxruntime
/// loads, usage errors (exit 2), and failures (exit 1, one line, nothing written): an unknown
/// model, a broken card, an output under a file.
final class ExportCLITests: XCTestCase {
    func testExportShippedModel() throws {
        let dir = try CLITests.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/qc.onnx"
        let r = try CLITests.medvox(["export", CLITests.fixtures + "/../Models/brain-qc.json", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("output 'logits'"), r.stdout)
        let shapes = try Python.run(
            """
            import sys, onnxruntime as ort
            s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])
            print(s.get_inputs()[0].shape, s.get_outputs()[0].shape)
            """, [out])
        XCTAssertEqual(shapes.trimmingCharacters(in: .whitespacesAndNewlines), "['batch', 1, 'i', 'j', 'k'] ['batch', 6]")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["qc.onnx"])
    }

    func testUsageErrorsAndFailuresWriteNothing() throws {
        let dir = try CLITests.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for args in [["export", "brain-tissue"], ["export", "brain-tissue", "-o", dir + "/m.txt"], ["export"]] {
            let r = try CLITests.medvox(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
        }
        let broken = dir + "/broken.json"
        try Data("{\"name\": 1}".utf8).write(to: URL(fileURLWithPath: broken))
        for (card, out) in [("no-such-model", dir + "/a.onnx"), (broken, dir + "/b.onnx"), ("brain-tissue", broken + "/c.onnx")] {
            let r = try CLITests.medvox(["export", card, "-o", out])
            XCTAssertEqual(r.status, 1, "\(card): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("medvox: "), r.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["broken.json"])
    }
}
