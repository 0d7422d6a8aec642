import Foundation
import MedVoxTestSupport
import XCTest

/// `medvox segment … --dicom-seg` and `medvox batch … --dicom-seg` through the built binary:
/// the SEG validates with dciodvfy and, read back with pydicom/highdicom, equals the NIfTI mask
/// on the source slices (matched by world position, independently of MedVox's reader).
final class DICOMSegCLITests: XCTestCase {
    static let oracle = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path + "/Oracles/dicomseg_oracle.py"

    func tool(_ args: [String]) throws -> (status: Int32, output: String) {
        let r = try Subprocess.run(args[0], Array(args.dropFirst()))
        return (r.status, r.output)
    }

    func check(seg: String, folder: String, mask: String, card: String, slices: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try Dciodvfy.errors(seg, iod: "Segmentation"), [], file: file, line: line)
        let r = try tool([try Python.interpreter(), Self.oracle, seg, folder, mask, card])
        XCTAssertEqual(r.status, 0, r.output, file: file, line: line)
        let j = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as! [String: Any]
        XCTAssertEqual(j["nifti_mismatch"] as? [String], [], file: file, line: line)
        XCTAssertEqual(j["position_mismatch"] as? [Int], [], file: file, line: line)
        XCTAssertEqual(j["matched_slices"] as? Int, slices, file: file, line: line)
        XCTAssertEqual(j["patient"] as? [String], ["", ""], "no PHI without --phi", file: file, line: line)
        XCTAssertEqual(j["study_matches"] as? Bool, true, file: file, line: line)
    }

    func testSegmentAndBatchWriteValidSegmentations() throws {
        let root = try CLITests.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let f = CLITests.fixtures
        let t = try CLITests.medvox(["train", "--task", "segment", "--synth-from", f + "/example/head_labels.nii.gz",
                                     "-o", root + "/tiny", "--classes", "3", "--features", "4,8", "--patch", "16,16,16",
                                     "--spacing", "4", "--steps", "3", "--batch", "1", "--quiet"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let card = root + "/tiny.json"
        // Slices per fixture series (Fixtures/dicom/README.md); enhanced stores its frames in reverse order.
        for (series, slices) in [("ct", 5), ("oblique", 4), ("enhanced", 4)] {
            let r = try CLITests.medvox(["segment", f + "/dicom/" + series, "-o", "\(root)/\(series).nii.gz", "--model", card,
                                         "--dicom-seg", "\(root)/\(series)_seg.dcm"])
            XCTAssertEqual(r.status, 0, r.stderr)
            try check(seg: "\(root)/\(series)_seg.dcm", folder: f + "/dicom/" + series, mask: "\(root)/\(series).nii.gz", card: card, slices: slices)
        }
        // NIfTI input: a one-line error, exit 1, nothing written.
        let bad = try CLITests.medvox(["segment", f + "/example/head.nii.gz", "-o", root + "/n.nii.gz", "--model", card, "--dicom-seg", root + "/n.dcm"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("--dicom-seg needs DICOM input"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/n.dcm"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/n.nii.gz"))

        // Batch: seg.dcm in each DICOM case folder, none for NIfTI cases.
        let fm = FileManager.default
        let study = root + "/study"
        for d in ["ct", "nifti"] { try fm.createDirectory(atPath: "\(study)/\(d)", withIntermediateDirectories: true) }
        for name in try fm.contentsOfDirectory(atPath: f + "/dicom/ct") { try fm.copyItem(atPath: "\(f)/dicom/ct/\(name)", toPath: "\(study)/ct/\(name)") }
        try fm.copyItem(atPath: f + "/example/head.nii.gz", toPath: study + "/nifti/head.nii.gz")
        let b = try CLITests.medvox(["batch", study, "-o", root + "/out", "--segment", card, "--dicom-seg", "--quiet"])
        XCTAssertEqual(b.status, 0, b.stderr)
        let cases = try fm.contentsOfDirectory(atPath: root + "/out").filter { fm.fileExists(atPath: "\(root)/out/\($0)/case.json") }
        XCTAssertEqual(cases.count, 2, "\(cases)")
        let withSeg = cases.filter { fm.fileExists(atPath: "\(root)/out/\($0)/seg.dcm") }
        XCTAssertEqual(withSeg.count, 1, "\(cases)")
        if let c = withSeg.first {
            try check(seg: "\(root)/out/\(c)/seg.dcm", folder: study + "/ct", mask: "\(root)/out/\(c)/mask.nii.gz", card: card, slices: 5)
        }
    }
}
