import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference
import MedVoxNN
import MedVoxTestSupport
import MedVoxTransforms
import XCTest

@testable import MedVoxReport

final class BatchTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    func copy(_ from: String, _ to: String) throws {
        try FileManager.default.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    /// A study: an MR series split over two nested folders, a CT series, a localizer-only series,
    /// two NIfTI files, a corrupted .nii.gz and a text file.
    func makeStudy(_ dir: ScratchDirectory) throws -> String {
        let study = dir.path("study")
        let f = Self.fixtures + "/dicom"
        for (n, name) in ["IM0001.dcm", "IM0002.dcm", "IM0003.dcm", "IM0004.dcm"].enumerated() {
            try copy("\(f)/mr/\(name)", "\(study)/subject1/\(n < 2 ? "a" : "b/deeper")/\(name)")
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: "\(f)/ct") {
            try copy("\(f)/ct/\(name)", "\(study)/subject2/ct/\(name)")
        }
        try copy("\(f)/localizer/SCOUT01.dcm", "\(study)/subject2/scout/SCOUT01.dcm")
        var g = SeededGenerator(seed: 2)
        for n in 1...2 {
            var v = Volume(dims: [10, 9, 8], spacing: [1.5, 1.5, 1.5])
            for i in 0..<v.count { v.voxels[i] = Float(g.normal()) }
            try FileManager.default.createDirectory(atPath: "\(study)/nifti", withIntermediateDirectories: true)
            try ImageFile.write(v, to: "\(study)/nifti/scan\(n).nii.gz")
        }
        try Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: "\(study)/nifti/broken.nii.gz"))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: "\(study)/notes.txt"))
        return study
    }

    func tinyModel(_ dir: ScratchDirectory) throws -> String {
        var rng = SeededGenerator(seed: 4)
        var card = ModelCard(
            name: "tiny", version: "0.1.0", task: .segmentation,
            architecture: .init(kind: "unet", spatialRank: 3, inChannels: 1, classes: 2, features: [2, 4]),
            labels: [.init(value: 0, name: "background"), .init(value: 1, name: "thing")],
            input: .init(modality: "MR", spacing: [1, 1, 1], patchSize: [8, 8, 8]),
            preprocessing: PreprocessPipeline(steps: [.zscore()]),
            weights: .init(file: "tiny.safetensors", sha256: ""))
        try Safetensors.write(card.makeNetwork(rng: &rng).stateDict(), to: dir.path("tiny.safetensors"))
        card.weights.sha256 = SHA256.hash([UInt8](FileManager.default.contents(atPath: dir.path("tiny.safetensors"))!)).hex
        try card.encoded().write(to: URL(fileURLWithPath: dir.path("tiny.json")))
        return dir.path("tiny.json")
    }

    func testDiscoveryGroupsSeriesAcrossFoldersAndSkipsWhatIsNotACase() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let plan = try BatchPlanner.discover(try makeStudy(dir))
        XCTAssertEqual(plan.cases.count, 5, plan.cases.map(\.display).joined(separator: "\n"))
        let dicom = plan.cases.filter { if case .dicom = $0.kind { return true } else { return false } }
        XCTAssertEqual(dicom.count, 2)
        XCTAssertEqual(Set(dicom.map(\.files.count)), [4, 5])
        XCTAssertTrue(plan.skipped.contains { $0.path.contains("notes.txt") })
        XCTAssertTrue(plan.skipped.contains { $0.reason.contains("localizer") })
        // Case names: safe, unique, and no folder names (which may carry patient names) for DICOM.
        XCTAssertEqual(Set(plan.cases.map(\.id)).count, 5)
        for c in dicom { XCTAssertFalse(c.id.contains("subject")) }
        // Globs.
        XCTAssertEqual(try BatchPlanner.discover(plan.root, include: ["nifti/*"]).cases.count, 3)
        XCTAssertEqual(try BatchPlanner.discover(plan.root, exclude: ["*.nii.gz"]).cases.count, 2)
        // Shards are disjoint and cover every case.
        let shards = (0..<3).map { BatchPlanner.shard(plan.cases, index: $0, count: 3).map(\.id) }
        XCTAssertEqual(shards.flatMap { $0 }.sorted(), plan.cases.map(\.id).sorted())
        XCTAssertEqual(try BatchPlanner.shardFromEnvironment(["SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"], shards: nil)?.index, 2)
        XCTAssertEqual(try BatchPlanner.shardFromEnvironment(["JOB_COMPLETION_INDEX": "1"], shards: 3)?.count, 3)
        XCTAssertThrowsError(try BatchPlanner.shardFromEnvironment(["JOB_COMPLETION_INDEX": "1"], shards: nil))
        XCTAssertTrue(BatchPlanner.glob("a/*/c?.nii", "a/b/x/c1.nii"))
        XCTAssertFalse(BatchPlanner.glob("*.nii", "a.nii.gz"))
    }

    func testBatchRunRecordsEveryCaseAndResumes() throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanup() }
        let study = try makeStudy(dir)
        var options = BatchOptions()
        options.segmentModel = try tinyModel(dir)
        options.jobs = 2
        let out = dir.path("out")
        let plan = try BatchPlanner.discover(study)
        let runner = try BatchRunner(plan: plan, outDir: out, options: options)
        let records = runner.run(plan.cases)
        XCTAssertEqual(records.count, 5)
        let failed = records.filter { $0.status == "failed" }
        XCTAssertEqual(failed.map(\.id), ["nifti_broken"])
        XCTAssertTrue(failed[0].error!.contains("broken.nii.gz"), failed[0].error!)
        let listed = try BatchIndex.write(out, skipped: plan.skipped)
        XCTAssertEqual(listed.map(\.id), records.map(\.id).sorted())
        for r in records where r.status == "done" {
            for f in ["image.nii.gz", "mask.nii.gz", "report.html", "report.json", "case.json", "thumbnail.png"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(r.id)/\(f)"), "\(r.id)/\(f)")
            }
            let mask = try ImageFile.read("\(out)/\(r.id)/mask.nii.gz")
            let image = try ImageFile.read("\(out)/\(r.id)/image.nii.gz")
            XCTAssertEqual(mask.dims, image.dims)
            XCTAssertTrue(mask.affine.isClose(to: image.affine, tolerance: 1e-5))
        }
        let csv = String(decoding: FileManager.default.contents(atPath: "\(out)/summary.csv")!, as: UTF8.self)
        XCTAssertEqual(csv.split(separator: "\n").count, 6)
        XCTAssertTrue(csv.contains("nifti_broken,nifti/broken.nii.gz,failed,"))
        let index = String(decoding: FileManager.default.contents(atPath: "\(out)/index.html")!, as: UTF8.self)
        for r in records { XCTAssertTrue(index.contains(r.id)) }
        XCTAssertTrue(index.contains("notes.txt"))
        // Nothing half-written is left, and a rerun redoes only what is not done.
        let hidden = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(".") && $0 != ".failed" }
        XCTAssertEqual(hidden, [])
        let again = try BatchRunner(plan: plan, outDir: out, options: options)
        XCTAssertEqual(plan.cases.filter { !again.isDone($0) }.map(\.id), ["nifti_broken"])
        // A changed input is redone.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 100)], ofItemAtPath: "\(study)/nifti/scan1.nii.gz")
        let plan2 = try BatchPlanner.discover(study)
        XCTAssertEqual(plan2.cases.filter { !again.isDone($0) }.map(\.id).sorted(), ["nifti_broken", "nifti_scan1"])
    }
}
