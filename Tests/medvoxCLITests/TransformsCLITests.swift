import Foundation
import XCTest

/// `medvox convert` preprocessing flags and `medvox augment`, run through the built binary.
extension CLITests {
    func infoJSON(_ path: String) throws -> [String: Any] {
        let r = try medvox("info", path, "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    func testConvertPreprocessingFlagsAndSavedPipeline() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/pre.nii.gz", pipe = dir + "/pipeline.json"
        let r = try medvox("convert", example, out, "--reorient", "RAS", "--spacing", "2", "--interp", "bspline",
                           "--crop-foreground", "--normalize", "zscore-nonzero", "--save-pipeline", pipe)
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try infoJSON(out)
        XCTAssertEqual(info["orientation"] as? String, "RAS")
        XCTAssertEqual((info["spacing"] as? [Double])?.map { ($0 * 1e4).rounded() / 1e4 }, [2, 2, 2])
        let dims = info["dims"] as? [Int] ?? []
        XCTAssertTrue(dims.count == 3 && dims[0] <= 48 && dims[1] <= 56 && dims[2] <= 54, "\(dims)")
        let json = try String(contentsOfFile: pipe, encoding: .utf8)
        for op in ["reorient", "resample", "crop_foreground", "zscore"] { XCTAssertTrue(json.contains("\"\(op)\""), json) }
        // The saved pipeline repeats the same preprocessing bit for bit.
        let again = dir + "/again.nii.gz"
        XCTAssertEqual(try medvox("convert", example, again, "--pipeline", pipe).status, 0)
        XCTAssertEqual(FileManager.default.contents(atPath: out), FileManager.default.contents(atPath: again))
        // Shape alone resamples over the same field of view; PNG output takes the flags too.
        XCTAssertEqual(try medvox("convert", example, dir + "/s.nii", "--shape", "48,56,36").status, 0)
        XCTAssertEqual(try infoJSON(dir + "/s.nii")["dims"] as? [Int], [48, 56, 36])
        XCTAssertEqual(try medvox("convert", example, dir + "/p.png", "--normalize", "ct:-100,200", "--overlay", labels, "--spacing", "1.5").status, 0)
        for bad in [["--interp", "cubic"], ["--normalize", "max"], ["--spacing", "1", "--pipeline", pipe], ["--reorient", "RRS"], ["--shape", "1,2"]] {
            let e = try medvox(["convert", example, dir + "/x.nii"] + bad)
            XCTAssertEqual(e.status, 2, "\(bad): \(e.stderr)")
        }
        let missing = try medvox("convert", example, dir + "/y.nii", "--pipeline", dir + "/nope.json")
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nope.json"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/y.nii"))
    }

    func testAugmentIsSeededWritesLabelsPreviewAndRecord() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func run(_ seed: String, _ name: String, _ extra: [String] = []) throws -> CLITests.Run {
            try medvox(["augment", example, "-o", dir + "/\(name).nii.gz", "--label", labels, "--seed", seed,
                        "--transforms", "flip,affine,elastic,gamma,noise@0.5"] + extra)
        }
        let a = try run("5", "a", ["--preview", dir + "/grid.png", "--count", "3", "--record", dir + "/rec.json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.contains("affine degrees="), a.stdout)
        XCTAssertEqual(try run("5", "b").status, 0)
        XCTAssertEqual(try run("6", "c").status, 0)
        let fa = FileManager.default.contents(atPath: dir + "/a.nii.gz"), fb = FileManager.default.contents(atPath: dir + "/b.nii.gz")
        XCTAssertNotNil(fa)
        XCTAssertEqual(fa, fb, "same seed, same bytes")
        XCTAssertNotEqual(fa, FileManager.default.contents(atPath: dir + "/c.nii.gz"))
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/a_label.nii.gz"), FileManager.default.contents(atPath: dir + "/b_label.nii.gz"))
        let li = try infoJSON(dir + "/a_label.nii.gz")
        XCTAssertEqual(li["dims"] as? [Int], [96, 112, 72])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/grid.png"))
        let rec = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: dir + "/rec.json") ?? Data()) as? [String: Any]
        XCTAssertEqual(rec?["seed"] as? Int, 5)
        XCTAssertEqual(((rec?["transforms"] as? [[String: Any]]) ?? []).first?["name"] as? String, "flip")
        // Bad inputs: usage errors (2), a bad config (1, names the file, no output left).
        for bad in [["augment", example], ["augment", example, "-o", dir + "/x.nii", "--transforms", "teleport"],
                    ["augment", example, "-o", dir + "/x.nii", "--transforms", "flip", "--config", "c.json"]] {
            XCTAssertEqual(try medvox(bad).status, 2, "\(bad)")
        }
        try Data("{\"transforms\": 5}".utf8).write(to: URL(fileURLWithPath: dir + "/bad.json"))
        let e = try medvox("augment", example, "-o", dir + "/x.nii", "--config", dir + "/bad.json")
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.stderr.contains("bad.json"), e.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.nii"))
    }
}
