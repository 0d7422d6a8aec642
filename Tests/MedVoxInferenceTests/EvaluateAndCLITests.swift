import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxTestSupport
import XCTest

@testable import MedVoxInference

/// Runs the built `medvox` binary (beside the test bundle) and returns (status, stdout, stderr).
func runMedvox(_ args: [String]) throws -> (Int32, String, String) {
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("medvox").path
    guard FileManager.default.isExecutableFile(atPath: exe) else {
        throw FileError.cannotRead(path: exe, reason: "the medvox binary is not built beside the tests")
    }
    let r = try Subprocess.run(exe, args + ["--quiet"])
    return (r.status, r.stdout, r.stderr)
}

final class EvaluationTests: XCTestCase {
    /// Hand-computed: 5×1×1 voxels of 2×1×1 mm. Case a: reference label 1 at i = 0…2, prediction
    /// at i = 1…3 → Dice 2·2/6; surface distances {0,0,2} and {2,0,0} mm → HD95 2, mean 2/3 mm.
    /// Label 2: reference at i = 4, prediction empty → Dice 0, no distances. Case b: identical.
    func testSegmentationCSVAgainstHandValues() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        for d in ["pred", "ref"] { try FileManager.default.createDirectory(atPath: dir.path(d), withIntermediateDirectories: true) }
        func save(_ v: [Float], _ path: String) throws {
            try ImageFile.write(Volume(dims: [5, 1, 1], spacing: [2, 1, 1], voxels: v), to: dir.path(path), as: .uint8)
        }
        try save([0, 1, 1, 1, 0], "pred/a.nii.gz")
        try save([1, 1, 1, 0, 2], "ref/a.nii.gz")
        try save([1, 1, 1, 0, 2], "pred/b.nii.gz")
        try save([1, 1, 1, 0, 2], "ref/b.nii.gz")
        let e = try SegmentationEvaluation.run(pairs: try SegmentationEvaluation.pairs(prediction: dir.path("pred"), reference: dir.path("ref")), labels: nil)
        XCTAssertEqual(e.labels, [1, 2])
        let lines = e.csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "case,label,dice,hd95_mm,mean_surface_distance_mm,predicted_ml,reference_ml,volume_difference_ml")
        XCTAssertEqual(lines[1], "a.nii.gz,1,0.666667,2,0.666667,0.006,0.006,0")
        XCTAssertEqual(lines[2], "a.nii.gz,2,0,,,0,0.002,-0.002")
        XCTAssertEqual(lines[3], "b.nii.gz,1,1,0,0,0.006,0.006,0")
        XCTAssertEqual(lines[5], "a.nii.gz,mean,0.333333,2,0.666667,,,")
        XCTAssertEqual(lines[7], "mean,1,0.833333,1,0.333333,,,0")
        XCTAssertEqual(lines[8], "sd,1,0.235702,1.41421,0.471405,,,0")

        // Through the CLI: same CSV, exit 0; a grid mismatch is exit 1 and writes nothing.
        let (status, out, err) = try runMedvox(["evaluate", "--task", "segment", "--pred", dir.path("pred"), "--ref", dir.path("ref"), "-o", dir.path("m.csv")])
        XCTAssertEqual(status, 0, err)
        XCTAssertTrue(out.contains("label 1: Dice 0.8333"), out)
        XCTAssertEqual(try String(contentsOfFile: dir.path("m.csv"), encoding: .utf8), e.csv)
        try ImageFile.write(Volume(dims: [4, 1, 1], voxels: [0, 1, 1, 0]), to: dir.path("pred/b.nii.gz"), as: .uint8)
        let (s2, _, e2) = try runMedvox(["evaluate", "--task", "segment", "--pred", dir.path("pred"), "--ref", dir.path("ref"), "-o", dir.path("m2.csv")])
        XCTAssertEqual(s2, 1)
        XCTAssertTrue(e2.contains("b.nii.gz") && e2.contains("does not match"), e2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("m2.csv")))
    }

    /// Hand-computed classification: 4 cases, 2 classes.
    func testClassificationCSVAgainstHandValues() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        try "case,clean,motion\nc1,0.9,0.1\nc2,0.4,0.6\nc3,0.3,0.7\nc4,0.8,0.2\n".write(toFile: dir.path("p.csv"), atomically: true, encoding: .utf8)
        try "case,label\nc1,clean\nc2,clean\nc3,motion\nc4,1\n".write(toFile: dir.path("t.csv"), atomically: true, encoding: .utf8)
        let e = try ClassificationEvaluation.run(predictions: dir.path("p.csv"), reference: dir.path("t.csv"))
        // Predicted: clean, motion, motion, clean → correct c1, c3 → accuracy 0.5; recalls 1/2, 1/2.
        // AUC(motion): positives c3 (0.7), c4 (0.2); negatives c1 (0.1), c2 (0.6): pairs won 0.7>0.1,
        // 0.7>0.6, 0.2>0.1 → 3/4.
        // ECE, 10 bins: c1 0.9 correct (bin 9), c2 0.6 wrong, c3 0.7 correct, c4 0.8 wrong:
        // (|1-0.9| + |0-0.6| + |1-0.7| + |0-0.8|)/4 = 0.45.
        let lines = e.csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(8)), [
            "metric,class,value", "cases,,4", "accuracy,,0.5", "balanced_accuracy,,0.5", "auc,clean,0.75",
            "auc,motion,0.75", "macro_auc,,0.75", "expected_calibration_error,,0.45",
        ])
        XCTAssertEqual(Array(lines.suffix(4)), ["confusion,clean>clean,1", "confusion,clean>motion,1", "confusion,motion>clean,1", "confusion,motion>motion,1"])
        try "case,clean,motion\nc1,0.9\n".write(toFile: dir.path("bad.csv"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ClassificationEvaluation.run(predictions: dir.path("bad.csv"), reference: nil)) {
            XCTAssertTrue("\($0)".contains("bad.csv:2"), "\($0)")
        }
    }
}

final class CLITests: XCTestCase {
    func testSegmentAndClassifyCommands() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let card = try writeTinyModel(in: dir, patch: [8, 8, 8], steps: [.zscore()])
        let clf = try writeTinyModel(in: dir, name: "qc", task: .classification, classes: 2)
        let input = dir.path("t1.nii.gz")
        try ImageFile.write(randomVolume(dims: [10, 12, 9], seed: 21, spacing: [1, 1, 1.2]), to: input)
        let mask = dir.path("mask.nii.gz"), probs = dir.path("p.nii.gz"), png = dir.path("p.png")

        let (s, out, err) = try runMedvox(["segment", input, "-o", mask, "--model", card, "--probabilities", probs, "--preview", png, "--tta"])
        XCTAssertEqual(s, 0, err)
        XCTAssertTrue(out.contains("window"), out)
        let m = try ImageFile.read(mask)
        XCTAssertEqual(m.shape3, [10, 12, 9])
        XCTAssertEqual(m.storedType, .uint8)
        let p = try ImageFile.read(probs)
        XCTAssertEqual(p.dims, [10, 12, 9, 3])
        XCTAssertTrue(FileManager.default.fileExists(atPath: png))

        // Missing model, unreadable input: exit 1, one line naming the cause, nothing written.
        let out2 = dir.path("none.nii.gz")
        var (s2, _, e2) = try runMedvox(["segment", input, "-o", out2, "--model", "no-such-model"])
        XCTAssertEqual(s2, 1)
        XCTAssertTrue(e2.contains("model 'no-such-model' not found"), e2)
        try "not an image".write(toFile: dir.path("junk.nii"), atomically: true, encoding: .utf8)
        (s2, _, e2) = try runMedvox(["segment", dir.path("junk.nii"), "-o", out2, "--model", card])
        XCTAssertEqual(s2, 1)
        XCTAssertTrue(e2.contains("junk.nii"), e2)
        XCTAssertEqual(e2.split(separator: "\n").count, 1, e2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out2))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains("none") }
        XCTAssertEqual(leftovers, [])
        // A classification model given to segment: exit 1.
        (s2, _, e2) = try runMedvox(["segment", input, "-o", out2, "--model", clf])
        XCTAssertEqual(s2, 1)
        XCTAssertTrue(e2.contains("not a segmentation model"), e2)
        // Usage errors: exit 2.
        (s2, _, e2) = try runMedvox(["segment", input, "--model", card])
        XCTAssertEqual(s2, 2)
        XCTAssertTrue(e2.contains("missing -o"), e2)
        (s2, _, _) = try runMedvox(["segment", input, "-o", dir.path("x.png"), "--model", card])
        XCTAssertEqual(s2, 2)

        let (s3, out3, e3) = try runMedvox(["classify", input, "--model", clf, "--json"])
        XCTAssertEqual(s3, 0, e3)
        let j = try JSONSerialization.jsonObject(with: Data(out3.utf8)) as! [String: Any]
        let r = j["result"] as! [String: Any]
        let probabilities = r["probabilities"] as! [Double]
        XCTAssertEqual(probabilities.reduce(0, +), 1, accuracy: 1e-6)  // single-precision probabilities (the softmax kernel)
        XCTAssertEqual(r["topClass"] as? String, "class\(probabilities[1] > probabilities[0] ? 1 : 0)")
    }
}
