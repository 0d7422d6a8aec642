import Foundation
import XCTest

/// Shared helpers for MedVox tests: closeness assertions, scratch folders, and running the Python
/// oracles (nibabel, scipy, scikit-learn, onnxruntime …) that docs/architecture.md names.

/// Why `actual` is not within atol + rtol·|e| of `expected` elementwise, naming the worst element;
/// nil when it is. A NaN or an infinity in either operand is never close: it is the failure, unless
/// `matchingNonFinite` is set and both operands hold the same non-finite value there (NaN and NaN,
/// +∞ and +∞), for the tests that expect such values. Non-throwing, so tests can check it directly.
public func closenessFailure<A: BinaryFloatingPoint, E: BinaryFloatingPoint>(
    _ actual: [A], _ expected: [E], rtol: Double, atol: Double, matchingNonFinite: Bool = false
) -> String? {
    guard actual.count == expected.count else { return "count \(actual.count) != \(expected.count)" }
    var worst = 0.0, worstIndex = -1
    for i in actual.indices {
        let a = Double(actual[i]), e = Double(expected[i])
        if !a.isFinite || !e.isFinite {
            if matchingNonFinite && (a == e || (a.isNaN && e.isNaN)) { continue }
            return "element \(i): \(a) vs \(e) (not finite)"
        }
        let excess = abs(a - e) - (atol + rtol * abs(e))
        // `!(excess <= worst)` also catches a NaN tolerance.
        if !(excess <= worst) {
            worst = excess.isNaN ? .infinity : excess
            worstIndex = i
        }
    }
    guard worstIndex >= 0 else { return nil }
    return "element \(worstIndex): \(actual[worstIndex]) vs \(expected[worstIndex]) (rtol \(rtol), atol \(atol))"
}

/// Asserts |a − e| ≤ atol + rtol·|e| elementwise, reporting the worst element; a NaN or an
/// infinity in either operand fails (see `closenessFailure`).
public func assertClose<A: BinaryFloatingPoint, E: BinaryFloatingPoint>(
    _ actual: [A], _ expected: [E], rtol: Double = 1e-5, atol: Double = 1e-6, matchingNonFinite: Bool = false,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    if let failure = closenessFailure(actual, expected, rtol: rtol, atol: atol, matchingNonFinite: matchingNonFinite) {
        XCTFail("\(failure) \(message)", file: file, line: line)
    }
}

/// max |a − b| over the elements; +∞ when the counts differ or either operand holds a NaN or an
/// infinity, so a bound on it fails there (`Array.max()` and `Swift.max` skip a NaN that is not
/// first, which would let a NaN result pass).
public func maxAbsError<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(_ a: [A], _ b: [B]) -> Double {
    guard a.count == b.count else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let (dx, dy) = (Double(x), Double(y))
        guard dx.isFinite && dy.isFinite else { return .infinity }
        worst = Swift.max(worst, abs(dx - dy))
    }
    return worst
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

/// An external program a test needs (an oracle such as dciodvfy, dcmdump, dcm2niix, python3, or a
/// tool such as strace) is not installed: the test fails with this, it is never skipped.
public struct MissingTool: Error, CustomStringConvertible {
    public var tool: String
    public var description: String { "\(tool) is not installed or not on PATH; the tests need it: run Tools/setup.sh" }
}

/// Runs programs from tests (the built binary, Python oracles, DICOM tools).
public enum Subprocess {
    /// The path of `executable`: itself when it contains a "/", else the first match on PATH.
    /// Throws `MissingTool` when there is no such executable file.
    public static func locate(_ executable: String) throws -> String {
        let fm = FileManager.default
        if executable.contains("/") {
            guard fm.isExecutableFile(atPath: executable) else { throw MissingTool(tool: executable) }
            return executable
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where fm.isExecutableFile(atPath: "\(dir)/\(executable)") {
            return "\(dir)/\(executable)"
        }
        throw MissingTool(tool: executable)
    }

    /// Runs `executable` (a path, or a name looked up on PATH) with `args` and waits for it.
    /// A missing executable throws `MissingTool`.
    public static func run(_ executable: String, _ args: [String] = []) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try locate(executable))
        p.arguments = args
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

/// dciodvfy (dicom3tools), the DICOM IOD validator.
public enum Dciodvfy {
    public struct DidNotVerify: Error, CustomStringConvertible {
        public var path: String, output: String
        public var description: String { "dciodvfy did not verify \(path):\n\(output)" }
    }

    /// The "Error" lines dciodvfy prints for `path`, which must verify as the IOD `iod` (e.g.
    /// "Segmentation"). Throws when dciodvfy is missing, aborted, or did not name that IOD: an
    /// empty list means the file was checked, not that the check was skipped.
    public static func errors(_ path: String, iod: String) throws -> [String] {
        let r = try Subprocess.run("dciodvfy", [path])
        let lines = r.output.split(separator: "\n").map(String.init)
        guard lines.contains(iod), !lines.contains(where: { $0.hasPrefix("Abort") }) else {
            throw DidNotVerify(path: path, output: r.output)
        }
        return lines.filter { $0.hasPrefix("Error") }
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
        public var description: String {
            let hint = stderr.contains("ModuleNotFoundError") ? " (an oracle module is missing: run Tools/setup.sh)" : ""
            return "\(Python.executable) exited \(status)\(hint): \(stderr)"
        }
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
