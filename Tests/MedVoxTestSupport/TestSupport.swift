import Foundation
import XCTest

/// Shared helpers for MedVox tests: closeness assertions, scratch folders, and running the Python
/// oracles (nibabel, scipy, scikit-learn, onnxruntime …) that docs/architecture.md names.

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

/// The repository's root folder (this file is Tests/MedVoxTestSupport/TestSupport.swift).
public let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

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

/// The Python interpreter of the test oracles (numpy, nibabel, pydicom, onnxruntime … from
/// Tools/requirements-dev.txt): `$MEDVOX_PYTHON` when set (a path, or a name looked up on PATH),
/// else `.venv/bin/python3` in the repository, the virtual environment Tools/setup.sh makes. Every
/// test that runs Python goes through it; when the interpreter is missing the test fails with a
/// message naming Tools/setup.sh (oracles are required, never skipped).
public enum Python {
    public struct Failure: Error, CustomStringConvertible {
        public var status: Int32
        public var stderr: String
        public var description: String { "\(Python.executable) exited \(status): \(stderr)" }
    }

    /// No interpreter where `executable` points.
    public struct Missing: Error, CustomStringConvertible {
        public var path: String
        public var description: String {
            "no Python for the test oracles at \(path): run Tools/setup.sh (it makes .venv), or set MEDVOX_PYTHON"
        }
    }

    /// `$MEDVOX_PYTHON`, else `<repository>/.venv/bin/python3`.
    public static var executable: String {
        if let p = ProcessInfo.processInfo.environment["MEDVOX_PYTHON"], !p.isEmpty { return p }
        return repositoryRoot + "/.venv/bin/python3"
    }

    /// `executable`, checked: throws `Missing` when no such file is executable (a bare name is
    /// left to the PATH lookup of `Subprocess.run`).
    public static func interpreter() throws -> String {
        let p = executable
        if p.contains("/") && !FileManager.default.isExecutableFile(atPath: p) { throw Missing(path: p) }
        return p
    }

    /// Runs the interpreter with `args` (a script and its arguments, or `-c`, code, arguments).
    public static func process(_ args: [String]) throws -> ProcessResult {
        try Subprocess.run(try interpreter(), args)
    }

    /// Runs `python -c script args...` and returns its standard output. A missing oracle package
    /// makes the script fail, and with it the test: oracles are required, never skipped.
    @discardableResult
    public static func run(_ script: String, _ args: [String] = []) throws -> String {
        let r = try process(["-c", script] + args)
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
