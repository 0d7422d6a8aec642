import Foundation
import MedVoxTestSupport
import XCTest

/// Runs Python oracles (nibabel, numpy, the standard library) as subprocesses. A missing oracle
/// fails the test: the error is thrown, never skipped.
enum Oracle {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `python -c script args...` (`Python.executable`) and returns stdout; throws with
    /// stderr on failure.
    static func python(_ script: String, _ args: [String] = []) throws -> String {
        let r = try Python.process(["-c", script] + args)
        guard r.status == 0 else {
            throw Failure(description: "python oracle failed (\(r.status)): " + r.stderr)
        }
        return r.stdout
    }

    /// JSON output of a Python script, decoded.
    static func json(_ script: String, _ args: [String] = []) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try python(script, args).utf8))
    }
}

/// The repository's Fixtures/ folder.
let fixturesDir: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("Fixtures").path
}()

func fixture(_ name: String) -> String { fixturesDir + "/nifti/" + name }

/// A fresh temporary folder for one test.
func temporaryFolder() throws -> String {
    let dir = NSTemporaryDirectory() + "medvox-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
