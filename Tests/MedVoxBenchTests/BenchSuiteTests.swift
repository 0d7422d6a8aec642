import Foundation
import MedVoxCore
import XCTest

@testable import MedVoxBench

/// Options given by name, as `medvox bench` would pass them.
struct Options: CommandOptions {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    func value(_ name: String) -> String? { values[name] }
    func flag(_ name: String) -> Bool { flags.contains(name) }
}

final class BenchSuiteTests: XCTestCase {
    func run(_ suite: BenchSuite, _ options: Options) throws -> [String] {
        var lines: [String] = []
        try suite.run(options) { lines.append($0) }
        return lines
    }

    func testSuitesInTheOrderBenchRunsThem() {
        XCTAssertEqual(BenchSuite.all.map(\.name), ["conv", "io", "dicom", "codecs", "transforms", "unet", "model"])
    }

    func testRequestsASuiteCannotHonourAreOptionErrors() {
        XCTAssertThrowsError(try run(.conv, Options(values: ["case": "conv3d_1_1_1"]))) { e in
            XCTAssertEqual((e as? CommandOptionError)?.message.hasPrefix("no conv benchmark layer is named conv3d_1_1_1 (names: conv3d_1_16_128,"), true)
        }
        XCTAssertThrowsError(try run(.conv, Options(values: ["size": "7"]))) { e in
            XCTAssertEqual((e as? CommandOptionError)?.message, "no conv benchmark layer has size 7")
        }
        XCTAssertThrowsError(try run(.unet, Options(values: ["size": "24"]))) { e in
            XCTAssertEqual((e as? CommandOptionError)?.message, "the U-Net benchmark needs a size divisible by 16, not 24")
        }
        XCTAssertThrowsError(try run(.io, Options(values: ["size": "2"]))) { e in
            XCTAssertEqual((e as? CommandOptionError)?.message, "--size expects a whole number in 8...1024, got '2'")
        }
    }

    func testCodecsWithoutAFolderSaysWhatItNeeds() throws {
        XCTAssertEqual(try run(.codecs, Options()), ["codecs  skipped: needs --dir DIR made by Tools/bench/codecs_vs_dcmtk.py"])
    }

    func testIOSuiteWritesAndReadsBackOneRowPerMeasurement() throws {
        let dir = NSTemporaryDirectory() + "medvox-bench-test-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let lines = try run(.io, Options(values: ["size": "16", "repeat": "1", "dir": dir], flags: ["json"]))
        XCTAssertEqual(lines.count, 4)
        for line in lines {
            let row = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual(row["suite"] as? String, "io")
            XCTAssertEqual(row["bytes"] as? Int, 16 * 16 * 16 * 2)
            XCTAssertGreaterThan(row["seconds"] as? Double ?? 0, 0)
        }
    }

    func testDICOMSuiteConvertsTheSyntheticSeries() throws {
        let lines = try run(.dicom, Options(values: ["size": "16", "repeat": "1", "dir": NSTemporaryDirectory()]))
        let names = lines.map { String($0.dropFirst(7).prefix(28)).trimmingCharacters(in: .whitespaces) }
        for name in ["scan headers", "decode to Float32 volume", "medvox convert .nii", "medvox convert .nii.gz"] {
            XCTAssertTrue(names.contains(name), "\(name) missing from \(lines)")
        }
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("dicom  ") && $0.contains("16x16x8") || $0.contains("8 files") })
    }
}
