import Foundation
import MedVoxTestSupport
import XCTest

/// Every DICOM in Fixtures/fuzz-regressions (inputs on which a fuzz target crashed, README there)
/// goes through `medvox convert` in a child process: exit 1, one line naming the file, no output.
final class FuzzRegressionCLITests: XCTestCase {
    func testFuzzFoundInputsEndInACleanError() throws {
        let dir = CLITests.fixtures + "/fuzz-regressions"
        let inputs = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".dcm") }.sorted()
        XCTAssertFalse(inputs.isEmpty, "no regression inputs in \(dir)")
        let root = try CLITests.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in inputs {
            let out = "\(root)/\(name).nii.gz"
            let r = try CLITests.medvox(["convert", "\(dir)/\(name)", out, "--quiet"])
            XCTAssertEqual(r.status, 1, "\(name): expected a clean refusal, got exit \(r.status): \(r.stderr.prefix(300))")
            let errors = r.stderr.split(separator: "\n").filter { !$0.contains("warning:") }
            XCTAssertEqual(errors.count, 1, "\(name): \(r.stderr.prefix(300))")
            XCTAssertTrue(errors.first?.contains(name) ?? false, "\(name): \(r.stderr.prefix(300))")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), name)
        }
    }
}
