import Foundation
import MedVoxTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Reliability through the built binary: determinism across --threads, disk full (a tmpfs mounted
/// by the test), a 100-case batch with corrupted inputs killed five times, and no PHI in outputs.
final class ReliabilityCLITests: XCTestCase {
    typealias cli = BatchCLITests.cli

    // MARK: Helpers

    /// A minimal NIfTI-1 single file (.nii), float32, 2 mm voxels, sform and qform set.
    static func nifti(dims: [Int], voxels: [Float]) -> Data {
        var h = [UInt8](repeating: 0, count: 352)
        func put<T>(_ v: T, _ at: Int) { withUnsafeBytes(of: v) { for (k, b) in $0.enumerated() { h[at + k] = b } } }
        put(Int32(348), 0)
        put(Int16(3), 40)
        for (k, d) in dims.enumerated() { put(Int16(d), 42 + 2 * k) }
        for k in dims.count..<7 { put(Int16(1), 42 + 2 * k) }
        put(Int16(16), 70)
        put(Int16(32), 72)
        put(Float(1), 76)
        for k in 1...3 { put(Float(2), 76 + 4 * k) }
        put(Float(352), 108)
        put(Float(1), 112)
        put(UInt8(10), 123)
        put(Int16(1), 252)
        put(Int16(1), 254)
        for (row, at) in [280, 296, 312].enumerated() { for c in 0..<3 { put(Float(c == row ? 2 : 0), at + 4 * c) } }
        for (k, b) in "n+1\0".utf8.enumerated() { h[344 + k] = b }
        var d = Data(h)
        voxels.withUnsafeBytes { d.append(contentsOf: $0) }
        return d
    }

    /// A blob whose position and brightness depend on `seed`, on a 20×18×14 grid.
    static func blob(seed: Int) -> Data {
        let dims = [20, 18, 14]
        let c = [8 + seed % 5, 7 + (seed / 5) % 4, 6 + (seed / 20) % 3].map(Double.init)
        var v = [Float](repeating: 0, count: dims.reduce(1, *))
        for z in 0..<dims[2] { for y in 0..<dims[1] { for x in 0..<dims[0] {
            let r = ((Double(x) - c[0]) * (Double(x) - c[0]) + (Double(y) - c[1]) * (Double(y) - c[1]) + (Double(z) - c[2]) * (Double(z) - c[2])).squareRoot()
            v[x + dims[0] * (y + dims[1] * z)] = Float(max(0, 6 - r) * 40 + Double(seed % 7) + Double((x * 7 + y * 3 + z) % 5))
        } } }
        return nifti(dims: dims, voxels: v)
    }

    /// A tiny segmentation model from `medvox train` (as BatchCLITests makes it).
    static func tinyModel(_ root: String) throws -> String {
        let r = try cli.medvox(["train", "--task", "segment", "--synth-from", CLITests.fixtures + "/example/head_labels.nii.gz",
                                "-o", root + "/tiny", "--classes", "3", "--features", "4,8", "--patch", "16,16,16",
                                "--spacing", "4", "--steps", "3", "--batch", "1", "--seed", "5", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return root + "/tiny.json"
    }

    static func sha(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(String(decoding: d, as: UTF8.self).prefix(64))
    }

    /// Every regular file under `dir` (relative paths), hidden ones included.
    static func files(_ dir: String) -> [String] {
        var list = [String]()
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        while let p = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + p, isDirectory: &isDir), !isDir.boolValue { list.append(p) }
        }
        return list.sorted()
    }

    static func sh(_ command: String) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try? p.run()
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: d, as: UTF8.self))
    }

    /// report.json without its timestamps and timings (the only parts allowed to differ).
    static func stableReport(_ path: String) throws -> String {
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        func strip(_ o: Any) -> Any {
            if let d = o as? [String: Any] {
                var r = [String: Any]()
                for (k, v) in d {
                    let l = k.lowercased()
                    if l.contains("time") || l.contains("date") || l.contains("seconds") || l == "created" || l == "generatedat" || l.contains("threads") { continue }
                    r[k] = strip(v)
                }
                return r
            }
            if let a = o as? [Any] { return a.map(strip) }
            return o
        }
        let d = try JSONSerialization.data(withJSONObject: strip(obj), options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: d, as: UTF8.self)
    }

    // MARK: Determinism

    /// The same input and model give bit-identical masks, probabilities and report.json
    /// (timestamps and timings aside) at --threads 1, 2 and 4.
    func testSegmentIsBitIdenticalAtOneTwoAndFourThreads() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let model = try Self.tinyModel(root)
        var masks = [String](), probs = [String](), reports = [String]()
        for t in ["1", "2", "4"] {
            // Same names in a folder per run: the report records the mask's path.
            let dir = "\(root)/t\(t)"
            let r = try cli.medvox(["segment", cli.example, "-o", "\(dir)/mask.nii.gz", "--model", model, "--threads", t,
                                    "--probabilities", "\(dir)/p.nii.gz", "--report", "\(dir)/r", "--quiet"])
            XCTAssertEqual(r.status, 0, r.stderr)
            masks.append(try Self.sha("\(dir)/mask.nii.gz"))
            probs.append(try Self.sha("\(dir)/p.nii.gz"))
            reports.append(try Self.stableReport("\(dir)/r/report.json").replacingOccurrences(of: dir, with: "DIR"))
        }
        XCTAssertEqual(Set(masks).count, 1, "masks differ across --threads 1/2/4: \(masks)")
        XCTAssertEqual(Set(probs).count, 1, "probabilities differ across --threads 1/2/4: \(probs)")
        XCTAssertEqual(Set(reports).count, 1, "report.json differs across --threads 1/2/4")
    }

    // MARK: Disk full

    struct CannotMount: Error, CustomStringConvertible {
        var output: String
        var description: String { "cannot mount a tmpfs here (the disk-full tests need root, as CI runs): \(output)" }
    }

    /// Mounts a tmpfs of `size` at a new folder; throws (the test fails, it is not skipped) when
    /// it cannot.
    func mountTmpfs(_ dir: String, size: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (s, out) = Self.sh("mount -t tmpfs -o size=\(size) tmpfs '\(dir)'")
        if s != 0 { throw CannotMount(output: out) }
    }

    func testDiskFullDuringConvertAndBatch() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // convert: 96×112×72 float32 needs ≈3 MB uncompressed; the disk holds 1 MB.
        let disk = root + "/disk"
        try mountTmpfs(disk, size: "1m")
        defer { _ = Self.sh("umount '\(disk)'") }
        let full = try cli.medvox(["convert", cli.example, disk + "/head.nii", "--quiet"])
        XCTAssertEqual(full.status, 1, full.stderr)
        XCTAssertTrue(full.stderr.contains("head.nii"), full.stderr)
        XCTAssertTrue(full.stderr.lowercased().contains("space"), "the error should say the disk is full: \(full.stderr)")
        XCTAssertEqual(full.stderr.split(separator: "\n").count, 1, full.stderr)
        XCTAssertEqual(Self.files(disk), [], "partial files left on the full disk")
        XCTAssertEqual(Self.sh("mount -o remount,size=16m '\(disk)'").0, 0)
        let ok = try cli.medvox(["convert", cli.example, disk + "/head.nii", "--quiet"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(Self.files(disk), ["head.nii"])

        // batch: twelve cases onto a disk that holds only a few of them.
        let study = root + "/study"
        try FileManager.default.createDirectory(atPath: study, withIntermediateDirectories: true)
        for i in 0..<12 { try Self.blob(seed: i).write(to: URL(fileURLWithPath: "\(study)/case\(i).nii")) }
        let model = try Self.tinyModel(root)
        let reference = root + "/reference"
        XCTAssertEqual(try cli.medvox(["batch", study, "-o", reference, "--segment", model, "--quiet"]).status, 0)
        let bdisk = root + "/bdisk"
        try mountTmpfs(bdisk, size: "160k")
        defer { _ = Self.sh("umount '\(bdisk)'") }
        let out = bdisk + "/out"
        let b = try cli.medvox(["batch", study, "-o", out, "--segment", model, "--quiet"])
        XCTAssertEqual(b.status, 1, "the disk should have filled: \(b.stderr)")
        XCTAssertTrue(b.stderr.lowercased().contains("space"), b.stderr)
        for f in Self.files(out) where f.contains(".partial-") || f.contains(".tmp") {
            XCTFail("partial file left after disk full: \(f)")
        }
        XCTAssertEqual(Self.sh("mount -o remount,size=64m '\(bdisk)'").0, 0)
        let again = try cli.medvox(["batch", study, "-o", out, "--segment", model, "--quiet"])
        XCTAssertEqual(again.status, 0, again.stderr)
        for i in 0..<12 {
            XCTAssertEqual(try Self.sha("\(out)/case\(i)/mask.nii.gz"), try Self.sha("\(reference)/case\(i)/mask.nii.gz"), "case\(i)")
        }
    }

    // MARK: Batch under SIGKILL

    /// 100 cases, 10 of them corrupted; killed with SIGKILL at five seeded random moments and
    /// resumed: every good case done exactly once (one folder, one record), the bad ones
    /// reported, every mask identical to an uninterrupted run's.
    func testHundredCaseBatchWithCorruptCasesSurvivesFiveKills() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let study = root + "/study"
        try FileManager.default.createDirectory(atPath: study, withIntermediateDirectories: true)
        var bad = Set<String>()
        for i in 0..<100 {
            var d = Self.blob(seed: i)
            let name = String(format: "case%03d", i)
            if i % 10 == 3 {
                bad.insert(name)
                switch (i / 10) % 3 {
                case 0: d = d.prefix(2000)  // truncated voxels
                case 1: d.replaceSubrange(0..<4, with: [0, 0, 0, 0])  // not NIfTI
                default: d.replaceSubrange(42..<44, with: [0xff, 0x7f])  // dims past the file
                }
            }
            try d.write(to: URL(fileURLWithPath: "\(study)/\(name).nii"))
        }
        let model = try Self.tinyModel(root)
        let reference = root + "/reference"
        let first = try cli.medvox(["batch", study, "-o", reference, "--segment", model, "--jobs", "2", "--quiet"])
        XCTAssertEqual(first.status, 1, first.stderr)
        XCTAssertTrue(first.stderr.contains("10 of 100 case(s) failed"), first.stderr)

        let out = root + "/out"
        var rng = UInt64(8)
        for _ in 0..<5 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let delay = 0.2 + Double(rng >> 40) / Double(1 << 24) * 2.5
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.binary)
            p.arguments = ["batch", study, "-o", out, "--segment", model, "--jobs", "2", "--quiet"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        let final = try cli.medvox(["batch", study, "-o", out, "--segment", model, "--jobs", "2", "--quiet"])
        XCTAssertEqual(final.status, 1, final.stderr)
        XCTAssertTrue(final.stderr.contains("10 of"), final.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        XCTAssertEqual(summary["done"] as? Int, 90)
        XCTAssertEqual(summary["failed"] as? Int, 10)
        let names = try FileManager.default.contentsOfDirectory(atPath: out)
        XCTAssertEqual(names.filter { $0.hasPrefix(".") && $0 != ".failed" }, [], "half-written folders left: \(names)")
        let failed = Set(try FileManager.default.contentsOfDirectory(atPath: out + "/.failed").map { String($0.dropLast(5)) })
        XCTAssertEqual(failed, bad)
        for i in 0..<100 {
            let name = String(format: "case%03d", i)
            if bad.contains(name) {
                XCTAssertFalse(FileManager.default.fileExists(atPath: "\(out)/\(name)"), name)
                continue
            }
            let rec = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/\(name)/case.json"))) as! [String: Any]
            XCTAssertEqual(rec["status"] as? String, "done", name)
            XCTAssertEqual(try Self.sha("\(out)/\(name)/mask.nii.gz"), try Self.sha("\(reference)/\(name)/mask.nii.gz"), name)
            XCTAssertEqual(Self.files("\(out)/\(name)"), Self.files("\(reference)/\(name)"), name)
        }
    }

    // MARK: Privacy

    /// The distinctive patient attributes `phiStudy` writes, and pieces of them.
    static let phiNeedles = ["Zyxwvut^Qponmlk", "PID8675309XQ", "Zyxwvut", "Qponmlk", "8675309", "19010203"]

    /// A study folder `root/study` with the oblique DICOM fixture series (in `series/`) whose
    /// patient name, ID and birth date are the distinctive `phiNeedles`, written by pydicom.
    static func phiStudy(_ root: String) throws -> String {
        let study = root + "/study"
        try FileManager.default.createDirectory(atPath: study + "/series", withIntermediateDirectories: true)
        let script = """
            import glob, os, sys, pydicom
            for f in sorted(glob.glob(sys.argv[1] + '/*.dcm')):
                d = pydicom.dcmread(f)
                d.PatientName = sys.argv[3]; d.PatientID = sys.argv[4]
                d.OtherPatientIDs = sys.argv[4]; d.PatientBirthDate = '19010203'
                d.save_as(os.path.join(sys.argv[2], os.path.basename(f)))
            """
        try script.write(toFile: root + "/phi.py", atomically: true, encoding: .utf8)
        let (s, o) = sh("'\(try Python.interpreter())' '\(root)/phi.py' '\(CLITests.fixtures)/dicom/oblique' '\(study)/series' '\(phiNeedles[0])' '\(phiNeedles[1])'")
        XCTAssertEqual(s, 0, "pydicom (the oracle) is required: \(o)")
        XCTAssertFalse(files(study + "/series").isEmpty)
        return study
    }

    /// Every file under `dir` whose name or content (gzip members decompressed) holds one of the
    /// `phiNeedles`, as "file: needle".
    static func phiLeaks(_ dir: String) throws -> [String] {
        var found = [String]()
        for f in files(dir) {
            var data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f))
            if data.starts(with: [0x1f, 0x8b]) {
                let (st, text) = sh("gzip -dc '\(dir)/\(f)' | strings -n 4")
                XCTAssertEqual(st, 0)
                data = Data(text.utf8)
            }
            let text = String(decoding: data, as: UTF8.self) + String(decoding: data.filter { $0 != 0 }, as: UTF8.self)
            for n in phiNeedles where f.contains(n) || text.contains(n) { found.append("\(f): \(n)") }
        }
        return found
    }

    /// A DICOM series whose patient name and ID are distinctive strings goes through a batch
    /// with reports: no output file's name or content (gzip members decompressed) contains them,
    /// nor stdout/stderr; with --phi the report does.
    func testNoPatientIdentifiersInAnyBatchOutput() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let study = try Self.phiStudy(root)
        let model = try Self.tinyModel(root)
        let out = root + "/out"
        let r = try cli.medvox(["batch", study, "-o", out, "--segment", model])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Self.phiLeaks(out), [])
        for n in Self.phiNeedles { XCTAssertFalse(r.stdout.contains(n) || r.stderr.contains(n), "console shows \(n)") }
        let withPHI = root + "/phi"
        XCTAssertEqual(try cli.medvox(["batch", study, "-o", withPHI, "--segment", model, "--phi", "--quiet"]).status, 0)
        XCTAssertFalse(try Self.phiLeaks(withPHI).isEmpty, "--phi should put the patient's name in the report (the scan must be able to find it)")
    }

    /// The options that change outputs belong to a case's record: a batch made with --phi and
    /// rerun without it is redone and leaves no patient attribute anywhere under OUT (reports,
    /// JSON, index, summaries, seg.dcm); --dicom-seg redoes the DICOM case only; a case made with
    /// --phi that the rerun leaves out is named in a warning.
    func testRerunWithoutPHIRedoesTheCasesAndLeavesNoPatientData() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let study = try Self.phiStudy(root)
        try FileManager.default.createDirectory(atPath: study + "/nifti", withIntermediateDirectories: true)
        try Self.blob(seed: 3).write(to: URL(fileURLWithPath: study + "/nifti/blob.nii"))
        let model = try Self.tinyModel(root)
        let out = root + "/out"
        func batch(_ extra: [String], status: Int32 = 0) throws -> String {
            let r = try cli.medvox(["batch", study, "-o", out, "--segment", model, "--quiet"] + extra)
            XCTAssertEqual(r.status, status, "\(extra): \(r.stderr)")
            for n in Self.phiNeedles { XCTAssertFalse(r.stdout.contains(n) || r.stderr.contains(n), "\(extra): console shows \(n)") }
            return r.stderr
        }
        func phiIncluded() throws -> [Bool] {
            try Self.files(out).filter { $0.hasSuffix("/report.json") }.sorted().map { f in
                let d = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/" + f))) as! [String: Any]
                return (d["input"] as! [String: Any])["phiIncluded"] as! Bool
            }
        }
        _ = try batch(["--phi", "--dicom-seg"])
        XCTAssertFalse(try Self.phiLeaks(out).isEmpty, "--phi should put the patient's name in the outputs")
        XCTAssertTrue(Self.files(out).contains { $0.hasSuffix("/seg.dcm") })
        // Without --phi (and --dicom-seg) both cases are redone: no patient data, no seg.dcm.
        XCTAssertFalse(try batch([]).contains("already done"))
        XCTAssertEqual(try Self.phiLeaks(out), [])
        XCTAssertEqual(try phiIncluded(), [false, false])
        XCTAssertFalse(Self.files(out).contains { $0.hasSuffix("/seg.dcm") })
        XCTAssertTrue(try batch([]).contains("2 case(s) already done"))
        // --dicom-seg changes only the DICOM case's outputs.
        XCTAssertTrue(try batch(["--dicom-seg"]).contains("1 case(s) already done"))
        XCTAssertTrue(Self.files(out).contains { $0.hasSuffix("/seg.dcm") })
        XCTAssertEqual(try Self.phiLeaks(out), [])
        // A case made with --phi that a rerun without it leaves out is named.
        XCTAssertFalse(try batch(["--phi", "--dicom-seg"]).contains("already done"))
        let partial = try batch(["--dicom-seg", "--exclude", "series/*"])
        XCTAssertTrue(partial.contains("1 case(s) outside this run still hold patient-identifying data"), partial)
        let dicomCase = try FileManager.default.contentsOfDirectory(atPath: out).filter {
            $0 != "nifti_blob" && FileManager.default.fileExists(atPath: "\(out)/\($0)/case.json")
        }
        XCTAssertEqual(dicomCase.count, 1)
        XCTAssertTrue(partial.contains(dicomCase.first ?? "?"), partial)
        XCTAssertFalse(try batch(["--dicom-seg"]).contains("outside this run"))
        XCTAssertEqual(try Self.phiLeaks(out), [])
        XCTAssertEqual(try phiIncluded(), [false, false])
    }

    /// The input fingerprint samples the content: a file replaced by one of the same size and
    /// modification time is redone when its first or last MiB changed, and with --verify when any
    /// byte changed; a case that fails on a rerun leaves no earlier outputs behind.
    func testReplacedInputWithSameSizeAndTimeIsRedone() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let study = root + "/study"
        try FileManager.default.createDirectory(atPath: study, withIntermediateDirectories: true)
        // 128 × 128 × 40 float32: 2.5 MiB of voxels after the 352-byte header.
        let dims = [128, 128, 40]
        let count = dims.reduce(1, *)
        var voxels = [Float](repeating: 0, count: count)
        for i in 0..<count { voxels[i] = Float((i * 7919) % 1000) / 10 }
        let big = study + "/big.nii"
        try Self.nifti(dims: dims, voxels: voxels).write(to: URL(fileURLWithPath: big))
        try Self.blob(seed: 1).write(to: URL(fileURLWithPath: study + "/small.nii"))
        let size = try FileManager.default.attributesOfItem(atPath: big)[.size] as! Int
        XCTAssertGreaterThan(size, 2 << 20)
        let time = Date(timeIntervalSince1970: 1_700_000_000)
        /// Overwrites the float at byte `offset` in place and restores the modification time.
        func poke(_ offset: Int, _ value: Float) throws {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
            try h.seek(toOffset: UInt64(offset))
            try h.write(contentsOf: withUnsafeBytes(of: value) { Data($0) })
            try h.close()
            try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: big)
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: big)[.size] as? Int, size)
        }
        try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: big)
        let help = try cli.medvox(["help", "batch"]).stdout
        XCTAssertTrue(help.contains("SHA-256 of its first and last MiB") && help.contains("--verify"), help)
        let model = try Self.tinyModel(root)
        let out = root + "/out"
        func batch(_ extra: [String] = [], status: Int32 = 0) throws -> String {
            let r = try cli.medvox(["batch", study, "-o", out, "--segment", model, "--quiet"] + extra)
            XCTAssertEqual(r.status, status, "\(extra): \(r.stderr)")
            return r.stderr
        }
        func fingerprint() throws -> String {
            let d = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/big/case.json"))) as! [String: Any]
            return d["fingerprint"] as! String
        }
        XCTAssertFalse(try batch().contains("already done"))
        let first = try fingerprint()
        XCTAssertTrue(try batch().contains("2 case(s) already done"))
        // A changed voxel in the first MiB: same size and time, redone.
        try poke(352 + 4 * 1000, 12345)
        XCTAssertTrue(try batch().contains("1 case(s) already done"))
        let second = try fingerprint()
        XCTAssertNotEqual(first, second)
        // In the last MiB: redone.
        try poke(size - 4 * 1000, 23456)
        XCTAssertTrue(try batch().contains("1 case(s) already done"))
        // Between them the fast fingerprint cannot see it; --verify (whole files) does.
        let middle = 352 + 4 * (count / 2)
        XCTAssertTrue(middle > 1 << 20 && middle < size - (1 << 20))
        try poke(middle, 34567)
        XCTAssertTrue(try batch().contains("2 case(s) already done"))
        XCTAssertTrue(try batch(["--verify"]).contains("1 case(s) already done"))
        XCTAssertTrue(try batch(["--verify"]).contains("2 case(s) already done"))
        // Garbage of the same size: the case fails, and its earlier outputs are gone.
        try Data(repeating: 0x5a, count: size).write(to: URL(fileURLWithPath: big))
        try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: big)
        XCTAssertTrue(try batch(status: 1).contains("1 case(s) already done"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/big"))
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        XCTAssertEqual(summary["done"] as? Int, 1)
        XCTAssertEqual(summary["failed"] as? Int, 1)
    }
}
