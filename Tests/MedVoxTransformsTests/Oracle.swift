import Foundation
import MedVoxCore
import MedVoxTestSupport
import XCTest

/// Runs a Python oracle (numpy / scipy / SimpleITK) on arrays exchanged as raw files.
///
/// `inputs` are written as float64 files `in0.bin, in1.bin, …` in a fresh folder; the script runs
/// with that folder as its working directory (`import numpy as np` is prepended) and must write
/// `out0.bin, out1.bin, …` as float64. A missing interpreter or module fails the test (no skip).
enum Oracle {
    static func run(_ script: String, inputs: [[Double]], outputs: Int, file: StaticString = #filePath, line: UInt = #line) -> [[Double]]? {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medvox-oracle-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (k, a) in inputs.enumerated() {
            let data = a.withUnsafeBufferPointer { Data(buffer: $0) }
            try? data.write(to: dir.appendingPathComponent("in\(k).bin"))
        }
        let python: String
        do { python = try Python.interpreter() } catch {
            XCTFail("oracle: \(error)", file: file, line: line)
            return nil
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, "-c", "import numpy as np\ndef load(k): return np.fromfile(f'in{k}.bin', dtype=np.float64)\ndef save(k, a): np.asarray(a, dtype=np.float64).ravel(order='F').tofile(f'out{k}.bin')\n" + script]
        p.currentDirectoryURL = dir
        let err = Pipe()
        p.standardError = err
        do { try p.run() } catch {
            XCTFail("oracle: cannot start \(python): \(error)", file: file, line: line)
            return nil
        }
        p.waitUntilExit()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard p.terminationStatus == 0 else {
            XCTFail("oracle failed (numpy/scipy/SimpleITK missing from \(python)? run Tools/setup.sh): \(errText)", file: file, line: line)
            return nil
        }
        var out = [[Double]]()
        for k in 0..<outputs {
            guard let d = try? Data(contentsOf: dir.appendingPathComponent("out\(k).bin")) else {
                XCTFail("oracle wrote no out\(k).bin", file: file, line: line)
                return nil
            }
            out.append(d.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) })
        }
        return out
    }
}

/// |a − b| ≤ atol + rtol·|b| elementwise (rtol 0 by default); a NaN or an infinity in either
/// operand fails (see `closenessFailure`).
func assertClose(_ a: [Float], _ b: [Double], atol: Double, rtol: Double = 0, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    if let failure = closenessFailure(a, b, rtol: rtol, atol: atol) {
        XCTFail("\(message): \(failure)", file: file, line: line)
    }
}

/// A reproducible test volume: smooth structure plus seeded noise.
func testVolume(_ dims: [Int], seed: UInt64 = 1, affine: Affine? = nil) -> Volume {
    var rng = SeededGenerator(seed: seed)
    var v = Volume(dims: dims, affine: affine)
    if let affine { v.spacing = affine.columnNorms }
    for k in 0..<dims[2] {
        for j in 0..<dims[1] {
            for i in 0..<dims[0] {
                v[i, j, k] = Float(sin(Double(i) * 0.7) + cos(Double(j) * 0.5) + 0.3 * Double(k) + rng.uniform(0, 0.5))
            }
        }
    }
    return v
}
