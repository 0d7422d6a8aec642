import Foundation
import MedVoxCore
import MedVoxIO

/// The `dicom` benchmark: scan headers, decode to a Float32 volume, and convert to .nii and
/// .nii.gz with MedVox, and the same conversions with dcm2niix when it is on the PATH.
public enum DICOMBenchmark {
    public struct Row: Sendable {
        public var name: String
        public var seconds: Double
        public var note: String
    }

    /// Runs each measurement `repeats` times on a synthetic `size`²×`slices` series written
    /// under `dir`, and returns the medians.
    public static func run(size: Int, slices: Int, repeats: Int, dir: String) throws -> [Row] {
        let base = (dir as NSString).appendingPathComponent("medvox-bench-dicom-\(getpid())")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let series = base + "/series"
        try DICOMSynthetic.writeCTSeries(to: series, size: size, slices: slices)
        func median(_ body: () throws -> Void) rethrows -> Double {
            var t: [Double] = []
            for _ in 0..<max(1, repeats) {
                let s = DispatchTime.now().uptimeNanoseconds
                try body()
                t.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9)
            }
            return t.sorted()[t.count / 2]
        }
        let voxels = "\(size)x\(size)x\(slices)"
        var rows: [Row] = []
        rows.append(Row(name: "scan headers", seconds: try median { _ = try DICOMScanner.scan(series) }, note: "\(slices) files"))
        rows.append(Row(name: "decode to Float32 volume", seconds: try median {
            _ = try DICOMSource(path: series).volume()
        }, note: voxels))
        for ext in ["nii", "nii.gz"] {
            let out = base + "/out.\(ext)"
            var o = DICOMConvertOptions()
            o.sidecar = false
            rows.append(Row(name: "medvox convert .\(ext)", seconds: try median { try DICOMConverter.convert(series, to: out, options: o) }, note: voxels))
            if let dcm2niix = which("dcm2niix") {
                let t = try median {
                    let p = Process()
                    p.executableURL = URL(fileURLWithPath: dcm2niix)
                    p.arguments = ["-z", ext == "nii" ? "n" : "y", "-b", "n", "-f", "ref", "-o", base, series]
                    p.standardOutput = FileHandle.nullDevice
                    p.standardError = FileHandle.nullDevice
                    try p.run()
                    p.waitUntilExit()
                }
                rows.append(Row(name: "dcm2niix -z \(ext == "nii" ? "n" : "y")", seconds: t, note: voxels))
            }
        }
        return rows
    }

    static func which(_ name: String) -> String? {
        for d in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(d)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}
