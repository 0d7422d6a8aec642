import Foundation
import MedVoxTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `medvox batch`, `medvox report` and `--report` through the built binary: a study folder with
/// DICOM series in nested folders, NIfTI files, a corrupted file and a text file; resuming after
/// SIGKILL; and a real Slurm job array (Tools/slurm/test_slurm_array.sh).
final class BatchCLITests: XCTestCase {
    /// The shared CLI test helpers (binary, fixtures, temporary folders).
    enum cli {
        static func medvox(_ args: [String]) throws -> CLITests.Run { try CLITests.medvox(args) }
        static func temporaryFolder() throws -> String { try CLITests.temporaryFolder() }
        static var example: String { CLITests.fixtures + "/example/head.nii.gz" }
    }

    static func makeStudy(_ root: String) throws -> String {
        let study = root + "/study"
        let fm = FileManager.default
        let f = CLITests.fixtures
        for d in ["s1/a", "s1/b", "s2", "nifti"] { try fm.createDirectory(atPath: "\(study)/\(d)", withIntermediateDirectories: true) }
        for (n, name) in ["IM0001.dcm", "IM0002.dcm", "IM0003.dcm", "IM0004.dcm"].enumerated() {
            try fm.copyItem(atPath: "\(f)/dicom/mr/\(name)", toPath: "\(study)/s1/\(n < 2 ? "a" : "b")/\(name)")
        }
        for name in try fm.contentsOfDirectory(atPath: "\(f)/dicom/oblique") where name.hasSuffix(".dcm") {
            try fm.copyItem(atPath: "\(f)/dicom/oblique/\(name)", toPath: "\(study)/s2/\(name)")
        }
        try fm.copyItem(atPath: "\(f)/example/head.nii.gz", toPath: "\(study)/nifti/head.nii.gz")
        try fm.copyItem(atPath: "\(f)/example/head.nii.gz", toPath: "\(study)/nifti/head2.nii.gz")
        try Data((0..<400).map { UInt8(truncatingIfNeeded: $0 &* 13) }).write(to: URL(fileURLWithPath: "\(study)/nifti/broken.nii.gz"))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: "\(study)/notes.txt"))
        return study
    }

    /// A small segmentation model trained by `medvox train` in a few seconds.
    func tinyModel(_ root: String) throws -> String {
        let r = try cli.medvox(["train", "--task", "segment", "--synth-from", CLITests.fixtures + "/example/head_labels.nii.gz",
                                "-o", root + "/tiny", "--classes", "3", "--features", "4,8", "--patch", "16,16,16",
                                "--spacing", "4", "--steps", "3", "--batch", "1", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return root + "/tiny.json"
    }

    func testBatchDryRunRunAndReport() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let study = try Self.makeStudy(root)
        let model = try tinyModel(root)
        let dry = try cli.medvox(["batch", study, "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stdout.contains("5 case(s)"), dry.stdout)
        XCTAssertTrue(dry.stdout.contains("notes.txt"), dry.stdout)
        let out = root + "/out"
        let run = try cli.medvox(["batch", study, "-o", out, "--segment", model, "--jobs", "2", "--quiet"])
        XCTAssertEqual(run.status, 1, "one case is corrupted: \(run.stderr)")
        XCTAssertTrue(run.stderr.contains("1 of 5 case(s) failed"), run.stderr)
        XCTAssertTrue(run.stderr.contains("broken.nii.gz"), run.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        XCTAssertEqual(summary["done"] as? Int, Optional(4))
        XCTAssertEqual(summary["failed"] as? Int, Optional(1))
        // Rerun: everything done is skipped.
        let again = try cli.medvox(["batch", study, "-o", out, "--segment", model, "--quiet"])
        XCTAssertTrue(again.stderr.contains("4 case(s) already done"), again.stderr)
        // `medvox report` rebuilds a case's report from its folder.
        let caseDir = out + "/nifti_head"
        try FileManager.default.removeItem(atPath: caseDir + "/report.html")
        let rebuilt = try cli.medvox(["report", caseDir])
        XCTAssertEqual(rebuilt.status, 0, rebuilt.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: caseDir + "/report.html"))
        // `segment --report` writes the same kind of folder.
        let seg = try cli.medvox(["segment", cli.example, "-o", root + "/r/mask.nii.gz", "--model", model, "--report", root + "/r"])
        XCTAssertEqual(seg.status, 0, seg.stderr)
        let html = try String(contentsOfFile: root + "/r/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("data:image/png;base64,"))
        XCTAssertTrue(html.contains("head.nii.gz"))
        XCTAssertEqual(try cli.medvox(["report", root + "/nowhere"]).status, 1)
    }

    /// SIGKILL at several moments, then a rerun: every case ends complete, no half-written
    /// folder remains, and the masks equal those of an uninterrupted run.
    func testBatchResumesAfterSIGKILL() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let study = try Self.makeStudy(root)
        try FileManager.default.removeItem(atPath: study + "/nifti/broken.nii.gz")
        let model = try tinyModel(root)
        let reference = root + "/reference"
        XCTAssertEqual(try cli.medvox(["batch", study, "-o", reference, "--segment", model, "--quiet"]).status, 0)
        let out = root + "/out"
        for delay in [0.3, 0.8, 1.5] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.binary)
            p.arguments = ["batch", study, "-o", out, "--segment", model, "--quiet"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        let final = try cli.medvox(["batch", study, "-o", out, "--segment", model, "--quiet"])
        XCTAssertEqual(final.status, 0, final.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: out)
        XCTAssertEqual(names.filter { $0.hasPrefix(".") && $0 != ".failed" }, [], "half-written folders left: \(names)")
        for c in try FileManager.default.contentsOfDirectory(atPath: reference) where !c.hasPrefix(".") && !c.contains(".") {
            let a = try cli.medvox(["info", "\(reference)/\(c)/mask.nii.gz", "--json"])
            XCTAssertEqual(a.status, 0, "\(c): \(a.stderr)")
            let x = try Data(contentsOf: URL(fileURLWithPath: "\(reference)/\(c)/mask.nii.gz"))
            let y = try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(c)/mask.nii.gz"))
            XCTAssertEqual(x, y, "\(c): mask differs from the uninterrupted run")
        }
    }

    /// A real Slurm job array on a single-node cluster started here (root, slurm-wlm, munge).
    func testSlurmJobArrayMatchesASingleMachineRun() throws {
        let script = URL(fileURLWithPath: CLITests.fixtures).deletingLastPathComponent().appendingPathComponent("Tools/slurm/test_slurm_array.sh").path
        let r = try Subprocess.run("/bin/bash", [script, CLITests.binary])
        let text = r.output
        XCTAssertEqual(r.status, 0, text)
        XCTAssertTrue(text.contains("8 passed, 0 failed"), text)
    }
}
