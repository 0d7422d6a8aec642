import Foundation
import MedVoxTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Outputs: every file any subcommand writes goes through a temporary name in the same
/// folder, is fsync'ed, then renamed into place — checked on the system calls themselves (strace)
/// — and no subcommand ever writes over its input, whatever path names it.
final class WriterDisciplineCLITests: XCTestCase {
    typealias cli = BatchCLITests.cli

    /// What strace saw one process tree do to files under `root`.
    struct Trace {
        var violations: [String] = []
        /// Final paths that were the target of a rename of an fsync'ed temporary file (folders
        /// renamed afterwards carry their files' paths with them).
        var published: Set<String> = []
    }

    /// Parses `strace -ff` output files (one per thread, so no call is split across lines of
    /// different threads) for writes under `root`.
    static func parse(traceFiles: [String], root: String) throws -> Trace {
        var t = Trace()
        let quoted = try NSRegularExpression(pattern: #""((?:[^"\\]|\\.)*)""#)
        func strings(_ line: String) -> [String] {
            quoted.matches(in: line, range: NSRange(line.startIndex..., in: line)).map {
                String(line[Range($0.range(at: 1), in: line)!])
            }
        }
        func result(_ line: String) -> Int? {
            guard let r = line.range(of: " = ", options: .backwards) else { return nil }
            return Int(line[r.upperBound...].prefix { $0 == "-" || $0.isNumber })
        }
        // Calls are ordered within a thread file; temporaries are opened, synced and renamed by
        // one thread (AtomicFile.write), so per-file state is enough. Folder renames (a batch
        // publishing a case) are applied after all files are read.
        var folderRenames: [(String, String)] = []
        for file in traceFiles {
            var fds: [Int: String] = [:]
            var synced: Set<String> = []
            for line in try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init) {
                guard let ret = result(line) else { continue }
                if line.hasPrefix("openat(") || line.hasPrefix("open(") || line.hasPrefix("creat(") {
                    let writes = line.contains("O_WRONLY") || line.contains("O_RDWR") || line.contains("O_CREAT") || line.hasPrefix("creat(")
                    guard writes, ret >= 0, let path = strings(line).first, path.hasPrefix(root) else { continue }
                    let name = (path as NSString).lastPathComponent
                    if !(name.hasPrefix(".") && name.contains(".tmp-")) {
                        t.violations.append("opened for writing under its final name: \(path)")
                    }
                    fds[ret] = path
                } else if line.hasPrefix("fsync(") || line.hasPrefix("fdatasync(") {
                    let fd = Int(line.drop { !$0.isNumber }.prefix { $0.isNumber }) ?? -1
                    if ret == 0, let p = fds[fd] { synced.insert(p) }
                } else if line.hasPrefix("close(") {
                    let fd = Int(line.drop { !$0.isNumber }.prefix { $0.isNumber }) ?? -1
                    fds[fd] = nil
                } else if line.hasPrefix("rename") {
                    let s = strings(line)
                    guard ret == 0, s.count == 2, s[1].hasPrefix(root) else { continue }
                    let name = (s[0] as NSString).lastPathComponent
                    if name.contains(".tmp-") {
                        if !synced.contains(s[0]) { t.violations.append("renamed into place without fsync: \(s[1])") }
                        t.published.insert(s[1])
                    } else {
                        folderRenames.append((s[0], s[1]))
                    }
                }
            }
        }
        for (from, to) in folderRenames {
            for p in t.published where p.hasPrefix(from + "/") {
                t.published.remove(p)
                t.published.insert(to + p.dropFirst(from.count))
            }
        }
        return t
    }

    /// Runs medvox under strace; returns its exit status and what it did under `root`.
    func traced(_ args: [String], root: String, scratch: String) throws -> (status: Int32, stderr: String, trace: Trace) {
        let dir = scratch + "/strace-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Subprocess.run(
            "/usr/bin/strace",
            ["-f", "-ff", "-qq", "-e", "trace=open,openat,creat,fsync,fdatasync,close,rename,renameat,renameat2",
             "-s", "4096", "-o", dir + "/t", CLITests.binary] + args)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).map { dir + "/" + $0 }
        XCTAssertFalse(files.isEmpty, "strace wrote nothing: \(r.stderr)")
        return (r.status, r.stderr, try Self.parse(traceFiles: files, root: root))
    }

    /// Every regular file below `dir`.
    func files(under dir: String) -> [String] {
        let fm = FileManager.default
        var out: [String] = []
        let walk = fm.enumerator(atPath: dir)
        while let rel = walk?.nextObject() as? String {
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: dir + "/" + rel, isDirectory: &isDir), !isDir.boolValue { out.append(dir + "/" + rel) }
        }
        return out.sorted()
    }

    func digest(_ paths: [String]) throws -> [String: Data] {
        var d: [String: Data] = [:]
        for p in paths { d[p] = try Data(contentsOf: URL(fileURLWithPath: p)) }
        return d
    }

    func testEveryOutputIsWrittenToATemporaryFsyncedAndRenamed() throws {
        let scratch = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fm = FileManager.default
        let f = CLITests.fixtures
        // Inputs live apart from the outputs so that every file under `out` must be published.
        let input = scratch + "/in"
        try fm.createDirectory(atPath: input + "/dicom", withIntermediateDirectories: true)
        try fm.copyItem(atPath: f + "/example/head.nii.gz", toPath: input + "/head.nii.gz")
        try fm.copyItem(atPath: f + "/example/head_labels.nii.gz", toPath: input + "/labels.nii.gz")
        for name in try fm.contentsOfDirectory(atPath: f + "/dicom/mr") where name.hasSuffix(".dcm") {
            try fm.copyItem(atPath: f + "/dicom/mr/" + name, toPath: input + "/dicom/" + name)
        }
        let study = try BatchCLITests.makeStudy(input)
        try fm.removeItem(atPath: study + "/nifti/broken.nii.gz")
        let model = try ReliabilityCLITests.tinyModel(input)
        let before = try digest(files(under: input))
        let out = (scratch as NSString).resolvingSymlinksInPath + "/out"
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        let head = input + "/head.nii.gz", labels = input + "/labels.nii.gz"
        let runs: [[String]] = [
            ["convert", head, out + "/c.nii.gz"],
            ["convert", head, out + "/c.png", "--overlay", labels],
            ["convert", head, out + "/pre.nii", "--spacing", "3", "--normalize", "zscore", "--save-pipeline", out + "/pipeline.json"],
            ["convert", input + "/dicom", out + "/dicom/"],
            ["segment", head, "-o", out + "/s/mask.nii.gz", "--model", model, "--probabilities", out + "/s/p.nii.gz",
             "--preview", out + "/s/preview.png", "--report", out + "/s/report"],
            ["segment", input + "/dicom", "-o", out + "/d/mask.nii.gz", "--model", model, "--dicom-seg", out + "/d/seg.dcm"],
            ["classify", head, "--report", out + "/k"],
            ["augment", head, "-o", out + "/a/aug.nii.gz", "--label", labels, "--seed", "3", "--transforms", "flip,affine,noise",
             "--preview", out + "/a/grid.png", "--count", "2", "--record", out + "/a/record.json"],
            ["evaluate", "--task", "segment", "--pred", out + "/s/mask.nii.gz", "--ref", labels, "-o", out + "/e.csv"],
            ["train", "--task", "segment", "--synth-from", labels, "-o", out + "/t/tiny", "--classes", "3", "--features", "4,8",
             "--patch", "16,16,16", "--spacing", "4", "--steps", "2", "--batch", "1"],
            ["batch", study, "-o", out + "/b", "--segment", model, "--jobs", "2"],
            ["report", out + "/s/report"],
        ]
        var published: Set<String> = []
        for args in runs {
            let r = try traced(args + ["--quiet"], root: out, scratch: scratch)
            XCTAssertEqual(r.status, 0, "\(args.joined(separator: " ")): \(r.stderr)")
            XCTAssertEqual(r.trace.violations, [], args.joined(separator: " "))
            published.formUnion(r.trace.published)
        }
        let written = files(under: out)
        XCTAssertGreaterThan(written.count, 30, "\(written)")
        for path in written {
            XCTAssertTrue(published.contains(path), "\(path) was not written through temporary + fsync + rename")
        }
        XCTAssertEqual(written.filter { $0.contains(".tmp-") }, [])
        XCTAssertEqual(try digest(files(under: input)), before, "an input changed")
    }

    /// Every subcommand asked to write over its own input (by the same path, another spelling, a
    /// hard link or a symbolic link) refuses with one line naming the file and leaves it intact.
    func testNoSubcommandWritesOverItsInput() throws {
        let scratch = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fm = FileManager.default
        let head = scratch + "/head.nii.gz", labels = scratch + "/labels.nii.gz"
        try fm.copyItem(atPath: CLITests.fixtures + "/example/head.nii.gz", toPath: head)
        try fm.copyItem(atPath: CLITests.fixtures + "/example/head_labels.nii.gz", toPath: labels)
        try fm.createDirectory(atPath: scratch + "/sub", withIntermediateDirectories: true)
        XCTAssertEqual(link(head, scratch + "/hard.nii.gz"), 0)
        try fm.createSymbolicLink(atPath: scratch + "/soft.nii.gz", withDestinationPath: head)
        let model = try ReliabilityCLITests.tinyModel(scratch + "/sub")
        let before = try digest([head, labels])
        let cases: [(args: [String], target: String)] = [
            (["convert", head, head], head),
            (["convert", head, scratch + "/sub/../head.nii.gz"], "sub/../head.nii.gz"),
            (["convert", scratch + "/soft.nii.gz", scratch + "/hard.nii.gz"], "hard.nii.gz"),
            (["segment", head, "-o", head, "--model", model], head),
            (["segment", head, "-o", scratch + "/hard.nii.gz", "--model", model], "hard.nii.gz"),
            (["segment", head, "-o", scratch + "/m.nii.gz", "--probabilities", head, "--model", model], head),
            (["augment", head, "-o", scratch + "/a.nii.gz", "--label", labels, "--label-output", labels], labels),
            (["evaluate", "--task", "segment", "--pred", labels, "--ref", labels, "-o", labels], labels),
            (["classify", head, "--report", scratch], head),
        ]
        for (args, target) in cases {
            let r = try cli.medvox(args + ["--quiet"])
            let line = args.joined(separator: " ")
            if args[0] == "classify" {
                // The report folder is the input's folder: its own files are written, never the input.
                XCTAssertEqual(r.status, 0, "\(line): \(r.stderr)")
            } else {
                XCTAssertEqual(r.status, 1, "\(line): \(r.stderr)")
                let errors = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("medvox: warning:") }
                XCTAssertEqual(errors.count, 1, "\(line): \(r.stderr)")
                XCTAssertTrue(r.stderr.contains(target), "\(line): \(r.stderr)")
            }
            XCTAssertEqual(try digest([head, labels]), before, "\(line) changed an input")
            XCTAssertEqual(try fm.contentsOfDirectory(atPath: scratch).filter { $0.contains(".tmp-") }, [], line)
        }
        // A batch whose output folder is the study folder (or holds it) is refused before any work.
        let study = try BatchCLITests.makeStudy(scratch + "/sub")
        try fm.removeItem(atPath: study + "/nifti/broken.nii.gz")
        for out in [study, scratch + "/sub"] {
            let r = try cli.medvox(["batch", study, "-o", out, "--segment", model, "--quiet"])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("holds the study"), r.stderr)
        }
        XCTAssertEqual(try cli.medvox(["batch", study, "-o", study + "/results", "--segment", model, "--quiet"]).status, 0)
    }
}
