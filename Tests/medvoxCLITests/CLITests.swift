import Foundation
import MedVoxTestSupport
import XCTest

/// Runs the built `medvox` binary (rule 18 of STYLE.md): help text, exit codes, outputs, and that a
/// failed run leaves no file behind.
final class CLITests: XCTestCase {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let binary: String = {
        // The binary sits beside the test executable (.build/<triple>/<configuration>/).
        if let b = ProcessInfo.processInfo.environment["MEDVOX_BINARY"] { return b }
        let me =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: me)
        while url.path != "/" && !url.lastPathComponent.hasSuffix(".xctest") { url.deleteLastPathComponent() }
        if url.path == "/" { url = URL(fileURLWithPath: me) }
        return url.deletingLastPathComponent().appendingPathComponent("medvox").path
    }()

    static let fixtures: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fixtures").path
    }()

    func medvox(_ args: String...) throws -> Run { try medvox(args) }

    var example: String { Self.fixtures + "/example/head.nii.gz" }
    var labels: String { Self.fixtures + "/example/head_labels.nii.gz" }

    func temporaryFolder() throws -> String { try Self.temporaryFolder() }

    static func temporaryFolder() throws -> String {
        let dir = NSTemporaryDirectory() + "medvox-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func testHelpVersionAndUsageErrors() throws {
        let help = try medvox("--help")
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("info"), help.stdout)
        XCTAssertTrue(help.stdout.contains("convert"))
        XCTAssertTrue(try medvox("--version").stdout.hasPrefix("medvox "))
        let info = try medvox("help", "info")
        XCTAssertEqual(info.status, 0)
        XCTAssertTrue(info.stdout.contains("Usage: medvox info INPUT"), info.stdout)
        XCTAssertTrue(try medvox("convert", "--help").stdout.contains("--montage N"))
        for args in [
            ["info"], ["info", "a.nii", "--bogus"], ["convert", "a.nii"], ["frobnicate"],
            ["convert", example, "out.txt"], ["convert", example, "o.png", "--level", "3"],
            ["convert", example, "o.nii", "--plane", "axial"], ["convert", example, "o.png", "--window", "1"],
        ] {
            let r = try medvox(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("Usage:") || r.stderr.contains("Subcommands:"), "\(args): \(r.stderr)")
        }
    }

    func medvox(_ args: [String]) throws -> Run { try Self.medvox(args) }

    /// Runs the built binary with `args` and collects its exit status and output.
    static func medvox(_ args: [String]) throws -> Run {
        let r = try Subprocess.run(binary, args)
        return Run(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }

    func testInfoTextAndJSON() throws {
        let r = try medvox("info", example)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("orientation     LAS"), r.stdout)
        XCTAssertTrue(r.stdout.contains("96 × 112 × 72"), r.stdout)
        let j = try medvox("info", example, "--json")
        let d = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(d["dims"] as? [Int], [96, 112, 72])
        XCTAssertEqual(d["spacing"] as? [Double], [1, 1, 1.5])
        XCTAssertEqual(d["orientation"] as? String, "LAS")
        XCTAssertEqual(d["datatype"] as? String, "int16")
        XCTAssertEqual((d["affine"] as? [[Double]])?.first, [-1, 0, 0, 47.5])
        XCTAssertNotNil(d["range"])
    }

    func testBadInputsExitOneWithOneLineNamingTheFile() throws {
        let dir = Self.fixtures + "/nifti"
        let bad = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("bad_") }
        XCTAssertFalse(bad.isEmpty)
        for name in bad + ["does_not_exist.nii"] {
            let r = try medvox("info", dir + "/" + name)
            XCTAssertEqual(r.status, 1, name)
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(name), "\(name): \(r.stderr)")
        }
    }

    func testConvertWritesNIfTIAndPNGAndNothingOnFailure() throws {
        let dir = try temporaryFolder()
        XCTAssertEqual(try medvox("convert", example, dir + "/a.nii").status, 0)
        XCTAssertEqual(
            try medvox("convert", dir + "/a.nii", dir + "/b.nii.gz", "--datatype", "float32", "--level", "6").status, 0)
        let j = try medvox("info", dir + "/b.nii.gz", "--json")
        let d = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(d["datatype"] as? String, "float32")
        XCTAssertEqual(d["orientation"] as? String, "LAS")
        for (name, extra) in [
            ("three.png", []), ("mont.png", ["--montage", "6", "--overlay", labels]),
            ("ax.png", ["--plane", "axial", "--slice", "10", "--window", "500,800", "--neurological"]),
        ] {
            let r = try medvox(["convert", example, dir + "/" + name] + extra)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            let head = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)).prefix(8)
            XCTAssertEqual(Array(head), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        }
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        for args in [
            ["convert", Self.fixtures + "/nifti/bad_truncated.nii.gz", dir + "/x.nii.gz"],
            ["convert", example, dir + "/y.png", "--overlay", Self.fixtures + "/nifti/int16.nii"],
            ["convert", example, dir + "/z.png", "--plane", "axial", "--slice", "999"],
            ["convert", dir + "/a.nii", dir + "/a.nii"],
        ] {
            let r = try medvox(args)
            XCTAssertEqual(r.status, 1, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
        XCTAssertEqual(
            Set(try FileManager.default.contentsOfDirectory(atPath: dir)), before, "a failed run left a file")
    }
}
