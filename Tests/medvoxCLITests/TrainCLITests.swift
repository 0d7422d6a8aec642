import Foundation
import MedVoxTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `medvox train` through the binary: an nnU-Net/MSD folder (imagesTr/, labelsTr/), the files
/// it writes (card, weights, checkpoint, log, search table), resume after SIGKILL giving the same
/// weights as an uninterrupted run, a classification CSV, and bad data or arguments.
final class TrainCLITests: XCTestCase {
    typealias cli = BatchCLITests.cli

    /// imagesTr/case_k_0000.nii and labelsTr/case_k.nii: blobs and their thresholded labels.
    func makeTask(_ root: String, cases: Int = 4) throws -> String {
        let task = root + "/task"
        let fm = FileManager.default
        for d in ["imagesTr", "labelsTr"] { try fm.createDirectory(atPath: "\(task)/\(d)", withIntermediateDirectories: true) }
        for k in 0..<cases {
            let image = ReliabilityCLITests.blob(seed: 3 * k + 1)
            try image.write(to: URL(fileURLWithPath: "\(task)/imagesTr/case_\(k)_0000.nii"))
            // Labels: 1 where the blob is brighter than 100, 2 where brighter than 180.
            var label = image
            let count = 20 * 18 * 14
            label.withUnsafeMutableBytes { raw in
                let v = raw.baseAddress!.advanced(by: 352).assumingMemoryBound(to: Float.self)
                for i in 0..<count { v[i] = v[i] > 180 ? 2 : (v[i] > 100 ? 1 : 0) }
            }
            try label.write(to: URL(fileURLWithPath: "\(task)/labelsTr/case_\(k).nii"))
        }
        return task
    }

    /// The arguments of a small segmentation run on `task` written to `stem`.
    func trainArguments(_ task: String, _ stem: String, _ extra: [String] = []) -> [String] {
        ["train", "--task", "segment", "--data", task, "-o", stem, "--labels", "background,rim,core",
         "--features", "4,8", "--patch", "16,16,8", "--spacing", "2", "--batch", "1",
         "--steps-per-epoch", "4", "--val-variants", "1", "--eval-variants", "1", "--seed", "3"] + extra
    }

    func train(_ task: String, _ stem: String, _ extra: [String] = []) throws -> CLITests.Run {
        try cli.medvox(trainArguments(task, stem, extra))
    }

    func testSegmentationFolderTrainsAndWritesEverything() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let task = try makeTask(root)
        let stem = root + "/models/blob"
        let r = try train(task, stem, ["--steps", "8", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("wrote \(stem).json"), r.stdout)
        for suffix in [".json", ".safetensors", ".ckpt", ".log.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: stem + suffix), suffix)
        }
        // The card: labels, the exact command, hashes of the data, evaluation figures.
        let card = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stem + ".json"))) as! [String: Any]
        let labels = (card["labels"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        XCTAssertEqual(labels, ["background", "rim", "core"])
        let text = try String(contentsOfFile: stem + ".json", encoding: .utf8)
        XCTAssertTrue(text.contains("--data") && text.contains("sha256"), text)
        XCTAssertTrue(text.contains("dice"), text)
        // The log: a header and one row per validation (every 4 steps).
        let log = try String(contentsOfFile: stem + ".log.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(log.first?.hasPrefix("step,") ?? false, "\(log)")
        XCTAssertGreaterThanOrEqual(log.count, 3, "\(log)")
        // The model segments a training image through `segment`, with a mask of its labels.
        let seg = try cli.medvox(["segment", "\(task)/imagesTr/case_0_0000.nii", "-o", root + "/mask.nii.gz", "--model", stem + ".json", "--quiet"])
        XCTAssertEqual(seg.status, 0, seg.stderr)
        let info = try cli.medvox(["info", root + "/mask.nii.gz", "--json"])
        XCTAssertTrue(info.stdout.contains("uint8"), info.stdout)
    }

    /// Killed mid-run and resumed with --resume: the weights equal an uninterrupted run's.
    func testResumeAfterSIGKILLEqualsAnUninterruptedRun() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let task = try makeTask(root)
        let whole = root + "/whole", parted = root + "/parted"
        XCTAssertEqual(try train(task, whole, ["--steps", "60", "--quiet"]).status, 0)
        // Kill once a checkpoint exists (written at each validation, every 4 steps).
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = trainArguments(task, parted, ["--steps", "60", "--quiet"])
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: parted + ".ckpt") && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertTrue(FileManager.default.fileExists(atPath: parted + ".ckpt"), "no checkpoint before the kill")
        XCTAssertFalse(FileManager.default.fileExists(atPath: parted + ".safetensors"), "the run finished before the kill")
        let resumed = try train(task, parted, ["--steps", "60", "--resume", "--quiet"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        // Same tensors, same bytes; only the metadata's model name (the stem) differs.
        func tensors(_ stem: String) throws -> (header: Data, payload: Data) {
            let d = try Data(contentsOf: URL(fileURLWithPath: stem + ".safetensors"))
            let n = d.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            var h = try JSONSerialization.jsonObject(with: d.subdata(in: 8..<(8 + n))) as! [String: Any]
            h["__metadata__"] = nil
            return (try JSONSerialization.data(withJSONObject: h, options: .sortedKeys), d.subdata(in: (8 + n)..<d.count))
        }
        let (a, b) = (try tensors(whole), try tensors(parted))
        XCTAssertEqual(a.header, b.header)
        XCTAssertEqual(a.payload, b.payload, "resumed weights differ")
    }

    func testGridSearchClassificationCSVAndBadInput() throws {
        let root = try cli.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let task = try makeTask(root)
        // Grid search: a table with one row per configuration and the best in the card.
        let stem = root + "/searched"
        let r = try train(task, stem, ["--steps", "4", "--search", "grid", "--search-steps", "2", "--search-lr", "1e-3,3e-3",
                                       "--search-wd", "1e-4", "--search-width", "4", "--search-depth", "2", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let table = try String(contentsOfFile: stem + ".search.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(table.count, 3, "\(table)")
        XCTAssertTrue(try String(contentsOfFile: stem + ".json", encoding: .utf8).contains("search"))
        // Classification from a CSV of path,label.
        var csv = "path,label\n"
        for k in 0..<4 { csv += "\(task)/imagesTr/case_\(k)_0000.nii,\(k % 2 == 0 ? "small" : "large")\n" }
        try csv.write(toFile: root + "/classes.csv", atomically: true, encoding: .utf8)
        let c = try cli.medvox(["train", "--task", "classify", "--data", root + "/classes.csv", "-o", root + "/clf",
                                "--shape", "16,16,8", "--features", "4,8", "--steps", "4", "--batch", "2", "--spacing", "2",
                                "--steps-per-epoch", "2", "--val-variants", "1", "--eval-variants", "1", "--quiet"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let k = try cli.medvox(["classify", "\(task)/imagesTr/case_1_0000.nii", "--model", root + "/clf.json", "--json"])
        XCTAssertEqual(k.status, 0, k.stderr)
        XCTAssertTrue(k.stdout.contains("small") && k.stdout.contains("large"), k.stdout)
        // Bad data: exit 1, one line naming the file; nothing written.
        try Data("not a nifti".utf8).write(to: URL(fileURLWithPath: "\(task)/labelsTr/case_2.nii"))
        let bad = try train(task, root + "/bad", ["--steps", "2", "--quiet"])
        XCTAssertEqual(bad.status, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("case_2.nii"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/bad.json"))
        // Usage errors: exit 2.
        XCTAssertEqual(try cli.medvox(["train", "--task", "segment", "-o", root + "/x", "--steps", "2"]).status, 2)
        XCTAssertEqual(try cli.medvox(["train", "--task", "segment", "--data", task, "-o", root + "/x"]).status, 2)
    }
}
