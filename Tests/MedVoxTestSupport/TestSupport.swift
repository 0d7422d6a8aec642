import Foundation
import XCTest

/// Shared helpers for MedVox tests: closeness assertions, scratch folders, and running the Python
/// oracles (nibabel, scipy, scikit-learn, onnxruntime …) that DESIGN.md names.

/// Asserts |a − e| ≤ atol + rtol·|e| elementwise, reporting the worst element.
public func assertClose<T: BinaryFloatingPoint>(
    _ actual: [T], _ expected: [T], rtol: Double = 1e-5, atol: Double = 1e-6, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("count \(actual.count) != \(expected.count) \(message)", file: file, line: line)
        return
    }
    var worst = 0.0, worstIndex = -1
    for i in actual.indices {
        let a = Double(actual[i]), e = Double(expected[i])
        let excess = abs(a - e) - (atol + rtol * abs(e))
        if excess > worst || (a.isNaN != e.isNaN) {
            worst = excess.isNaN ? .infinity : excess
            worstIndex = i
        }
    }
    if worstIndex >= 0 {
        XCTFail(
            "element \(worstIndex): \(actual[worstIndex]) vs \(expected[worstIndex]) (rtol \(rtol), atol \(atol)) \(message)",
            file: file, line: line)
    }
}

/// A fresh temporary folder removed by `cleanup()`.
public struct ScratchDirectory {
    public let url: URL
    public init(_ name: String = "medvox-test") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(name)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    public func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// What a finished child process printed and returned.
public struct ProcessResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// Standard output followed by standard error.
    public var output: String { stdout + stderr }
}

/// Runs programs from tests (the built binary, Python oracles, DICOM tools).
public enum Subprocess {
    /// Runs `executable` (a path, or a name looked up on PATH) with `args` and waits for it.
    public static func run(_ executable: String, _ args: [String] = []) throws -> ProcessResult {
        let p = Process()
        if executable.contains("/") {
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = args
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [executable] + args
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes while the child runs, so a full stderr pipe cannot block it.
        nonisolated(unsafe) var errData = Data()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        reading.wait()
        p.waitUntilExit()
        return ProcessResult(
            status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}

public enum Python {
    public struct Failure: Error, CustomStringConvertible {
        public var status: Int32
        public var stderr: String
        public var description: String { "python3 exited \(status): \(stderr)" }
    }

    /// Runs `python3 -c script args...` and returns its standard output. A missing oracle package
    /// makes the script fail, and with it the test: oracles are required, never skipped.
    @discardableResult
    public static func run(_ script: String, _ args: [String] = []) throws -> String {
        let r = try Subprocess.run("python3", ["-c", script] + args)
        guard r.status == 0 else { throw Failure(status: r.status, stderr: r.stderr) }
        return r.stdout
    }

    /// Writes values as little-endian float64 (numpy: `np.fromfile(path, '<f8')`).
    public static func writeDoubles(_ values: [Double], to path: String) throws {
        try values.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: path))
    }

    /// Reads little-endian float64 values written by numpy's `tofile`.
    public static func readDoubles(_ path: String) throws -> [Double] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        return d.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
    }
}
