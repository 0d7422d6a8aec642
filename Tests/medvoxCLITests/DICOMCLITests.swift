import Foundation
import MedVoxTestSupport
import XCTest

/// `medvox info` / `medvox convert` on DICOM input, running the built binary: the NIfTI it writes,
/// read back by nibabel, lands where dcm2niix's does (world space, same voxels); bad input exits 1
/// with one line naming the file and leaves nothing behind.
final class DICOMCLITests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let fixtures = repo + "/Fixtures/dicom"
    static let oracle = repo + "/Tests/Oracles/dicom_oracle.py"

    /// The built binary (found as the other CLI tests find it).
    var medvox: String { CLITests.binary }

    func run(_ exe: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let r = try Subprocess.run(exe, args)
        return (r.status, r.stdout, r.stderr)
    }

    func tempDir() -> String {
        let d = NSTemporaryDirectory() + "medvox-dicomcli-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    func dump(_ mode: String, _ input: String, _ dir: String) throws -> [String] {
        let r = try run(try Python.interpreter(), [Self.oracle, mode, input, dir])
        XCTAssertEqual(r.status, 0, "oracle \(mode) \(input): \(r.err)")
        guard r.status == 0 else { throw NSError(domain: "oracle", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.err]) }
        return r.out.split(separator: "\n").map(String.init)
    }

    func load(_ dir: String, _ name: String) throws -> (shape: [Int], affine: [Double], voxels: [Float]) {
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/\(name).json"))) as! [String: Any]
        let d = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(name).f32"))
        return (meta["shape"] as! [Int], (meta["affine"] as! [[Double]]).flatMap { $0 }, d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
    }

    func testConvertMatchesDcm2niixThroughNibabel() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: medvox), "build medvox first: \(medvox)")
        for (folder, ext, flags) in [("ct", ".nii.gz", [String]()), ("mr", ".nii", []), ("oblique", ".nii.gz", []),
                                     ("bigendian", ".nii", []), ("tilted", ".nii", [])] {
            let dir = tempDir()
            let out = dir + "/out" + ext
            let r = try run(medvox, ["convert", Self.fixtures + "/" + folder, out, "--quiet"] + flags)
            XCTAssertEqual(r.status, 0, "\(folder): \(r.err)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out.json"), "\(folder): sidecar")
            _ = try dump("nifti", out, dir + "/mine")
            let names = try dump("dcm2niix", Self.fixtures + "/" + folder, dir + "/ref").filter { !$0.contains("Tilt") }
            let mine = try load(dir + "/mine", "nifti"), ref = try load(dir + "/ref", names[0])
            XCTAssertEqual(mine.shape, ref.shape, folder)
            XCTAssertEqual(mine.affine.count, 16)
            XCTAssertLessThanOrEqual(maxAbsError(mine.affine, ref.affine), 1e-3, "\(folder): \(mine.affine) vs \(ref.affine)")
            XCTAssertEqual(mine.voxels.count, ref.voxels.count, folder)
            XCTAssertGreaterThan(mine.voxels.count, 0, folder)
            XCTAssertLessThanOrEqual(maxAbsError(mine.voxels, ref.voxels), 1e-3, folder)
        }
    }

    func testTiltCorrectionOnDcm2niixGridAndExactInWorldSpace() throws {
        let out = tempDir() + "/tilt.nii"
        let r = try run(medvox, ["convert", Self.fixtures + "/tilted", out, "--correct-tilt", "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("gantry tilt of 15.00°"), r.err)
        let check = try run(try Python.interpreter(), [Self.oracle, "tilt", Self.fixtures + "/tilted", out])
        XCTAssertEqual(check.status, 0, check.err)
        let j = try JSONSerialization.jsonObject(with: Data(check.out.utf8)) as! [String: Any]
        XCTAssertEqual(j["shape"] as? Bool, true, check.out)
        XCTAssertEqual(j["affine"] as? Bool, true, check.out)
        XCTAssertGreaterThan(j["compared"] as! Int, 800, check.out)
        XCTAssertLessThanOrEqual(j["maxdiff"] as! Double, 0.5, check.out)  // int16 storage rounds
    }

    func testDICOMDIRIsSkippedWithANote() throws {
        // A media folder: DATA/IM1… plus the DICOMDIR dcmtk's dcmmkdir makes for it.
        let root = tempDir()
        try FileManager.default.createDirectory(atPath: root + "/DATA", withIntermediateDirectories: true)
        for i in 1...5 {
            try FileManager.default.copyItem(atPath: Self.fixtures + "/ct/IM000\(i).dcm", toPath: root + "/DATA/IM\(i)")
        }
        let mk = Process()
        mk.executableURL = URL(fileURLWithPath: try Subprocess.locate("dcmmkdir"))
        mk.currentDirectoryURL = URL(fileURLWithPath: root)
        mk.arguments = ["-q", "+I", "+r", "+id", root, "DATA"]
        try mk.run()
        mk.waitUntilExit()
        XCTAssertEqual(mk.terminationStatus, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/DICOMDIR"))
        let out = tempDir() + "/ct.nii"
        let r = try run(medvox, ["convert", root, out])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("DICOMDIR: DICOMDIR"), r.err)
        let one = try run(medvox, ["info", root + "/DICOMDIR"])
        XCTAssertEqual(one.status, 1)
        XCTAssertTrue(one.err.contains("a DICOMDIR; give the folder instead"), one.err)
    }

    func testFolderOfSeriesToOutdirWithSidecarsAndNoPHI() throws {
        let study = tempDir()
        for s in ["ct", "mr", "enhanced", "localizer"] {
            try FileManager.default.copyItem(atPath: Self.fixtures + "/" + s, toPath: study + "/" + s)
        }
        let info = try run(medvox, ["info", study, "--json", "--header-only"])
        XCTAssertEqual(info.status, 0, info.err)
        let list = try JSONSerialization.jsonObject(with: Data(info.out.utf8)) as! [String: Any]
        XCTAssertEqual((list["series"] as! [[String: Any]]).count, 4)
        XCTAssertFalse(info.out.contains("Fixture^Synthetic"))
        let out = tempDir() + "/nifti/"
        let r = try run(medvox, ["convert", study, out, "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(files, ["10_with_scout.json", "10_with_scout.nii.gz", "17_enhanced.json", "17_enhanced.nii.gz",
                               "3_CT_head_rescale.json", "3_CT_head_rescale.nii.gz", "4_T1_sagittal.json", "4_T1_sagittal.nii.gz"])
        let side = try String(contentsOfFile: out + "4_T1_sagittal.json", encoding: .utf8)
        let j = try JSONSerialization.jsonObject(with: Data(side.utf8)) as! [String: Any]
        XCTAssertEqual(j["RepetitionTime"] as? Double, 0.45)
        XCTAssertEqual(j["EchoTime"] as? Double, 0.0125)
        XCTAssertEqual(j["FlipAngle"] as? Double, 90)
        XCTAssertEqual(j["MagneticFieldStrength"] as? Double, 3)
        XCTAssertNil(j["PatientName"])
        XCTAssertNil(j["InstitutionName"])
        let phiOut = tempDir() + "/p.nii"
        XCTAssertEqual(try run(medvox, ["convert", study + "/mr", phiOut, "--phi", "--quiet"]).status, 0)
        let pj = try String(contentsOfFile: phiOut.replacingOccurrences(of: ".nii", with: ".json"), encoding: .utf8)
        XCTAssertTrue(pj.contains("Fixture^Synthetic") && pj.contains("Hôpital Fixture"), pj)
        // info --tags lists the attributes; patient data only with --phi.
        let tags = try run(medvox, ["info", study + "/mr", "--tags", "--header-only"])
        XCTAssertEqual(tags.status, 0, tags.err)
        XCTAssertTrue(tags.out.contains("(0018,0080) DS RepetitionTime = 450"), tags.out)
        XCTAssertTrue(tags.out.contains("(0010,0010) PN PatientName = <hidden>"), tags.out)
        XCTAssertFalse(tags.out.contains("Fixture^Synthetic"))
        XCTAssertTrue(try run(medvox, ["info", study + "/mr", "--tags", "--header-only", "--phi"]).out.contains("Fixture^Synthetic"))
        // Several series into one file: refused, listing them.
        let many = try run(medvox, ["convert", study, tempDir() + "/x.nii"])
        XCTAssertEqual(many.status, 1)
        XCTAssertTrue(many.err.contains("--series"), many.err)
    }

    func testBadInputExitsOneWithOneLineAndWritesNothing() throws {
        let bad = Self.fixtures + "/bad"
        for f in try FileManager.default.contentsOfDirectory(atPath: bad).sorted() {
            let dir = tempDir()
            let r = try run(medvox, ["convert", bad + "/" + f, dir + "/out.nii.gz"])
            XCTAssertEqual(r.status, 1, "\(f): \(r.err)")
            let lines = r.err.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(f): \(r.err)")
            XCTAssertTrue(r.err.contains(f), "\(f): \(r.err)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], f)
        }
        let dir = tempDir()
        let irregular = try run(medvox, ["convert", Self.fixtures + "/irregular", dir + "/i.nii"])
        XCTAssertEqual(irregular.status, 1)
        XCTAssertTrue(irregular.err.contains("--allow-irregular"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }
}
