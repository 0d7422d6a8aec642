import Foundation
import MedVoxCore
import MedVoxIO

#if canImport(Glibc)
    import Glibc
#endif

/// The I/O benchmark behind `medvox bench io`: reads and writes a 256³ int16 volume as .nii and
/// .nii.gz and reports medians in MB/s of uncompressed voxel data. `Tools/bench/nibabel_io.py`
/// runs it beside nibabel and zcat on the same files.
public enum IOBenchmark {
    public struct Row: Sendable {
        public var name: String
        /// Median wall time in seconds.
        public var seconds: Double
        /// Median CPU time (user + system, all threads) in seconds: steadier than wall time on a
        /// shared machine.
        public var cpuSeconds: Double = 0
        /// Uncompressed voxel bytes moved.
        public var bytes: Int
        /// Size of the file involved.
        public var fileBytes: Int
        public var megabytesPerSecond: Double { Double(bytes) / 1e6 / seconds }
    }

    /// A head-like int16 test volume: nested ellipsoids (scalp, skull, brain, ventricles) with
    /// ±8 noise in the head, so it compresses like an MRI rather than like zeros. Deterministic.
    public static func syntheticVolume(size n: Int, seed: UInt64 = 2026) -> Volume {
        var v = Volume(
            dims: [n, n, n], spacing: [1, 1, 1],
            affine: Affine.scaling([-1, 1, 1], origin: [Double(n) / 2, -Double(n) / 2, -Double(n) / 2]),
            storedType: .int16)
        let c = Double(n - 1) / 2
        let parts = max(1, Runtime.threads)
        v.voxels.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            parallelFor(parts) { p in
                var rng = SeededGenerator(seed: seed).split(stream: UInt64(p))
                for k in chunkRange(n, part: p, of: parts) {
                    for j in 0..<n {
                        for i in 0..<n {
                            let x = (Double(i) - c) / (0.42 * Double(n)), y = (Double(j) - c) / (0.48 * Double(n))
                            let z = (Double(k) - c) / (0.45 * Double(n))
                            let r = (x * x + y * y + z * z).squareRoot()
                            var value: Double = 0
                            if r < 1 { value = r > 0.93 ? 300 : r > 0.86 ? 60 : r > 0.6 ? 650 : 820 }
                            if r < 0.3 && abs(x) > 0.08 && abs(x) < 0.2 { value = 180 }
                            if value > 0 { value += Double(rng.next() % 17) - 8 }
                            base[i + n * (j + n * k)] = Float(value)
                        }
                    }
                }
            }
        }
        return v
    }

    /// Times `body` `repeats` times: the medians of wall time and of process CPU time, in seconds.
    public static func measure(repeats: Int, _ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
        var wall: [Double] = [], cpu: [Double] = []
        for _ in 0..<max(1, repeats) {
            let c0 = cpuTime()
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            wall.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            cpu.append(cpuTime() - c0)
        }
        return (median(wall), median(cpu))
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// User + system CPU seconds of this process so far.
    static func cpuTime() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// Runs the suite in `dir`. When `dir` holds `nibabel.nii` / `nibabel.nii.gz` (written by the
    /// companion script) they are read too, and their volume is the one written; otherwise a
    /// synthetic volume of `size`³ is used.
    public static func run(size: Int, repeats: Int, dir: String, level: Int = Gzip.defaultLevel) throws -> [Row] {
        var rows: [Row] = []
        let nibNii = dir + "/nibabel.nii", nibGz = dir + "/nibabel.nii.gz"
        let fm = FileManager.default
        var volume: Volume
        if fm.fileExists(atPath: nibNii) {
            volume = try ImageFile.read(nibNii)
        } else {
            volume = syntheticVolume(size: size)
        }
        let bytes = volume.count * volume.storedType.byteSize
        for path in [nibNii, nibGz] where fm.fileExists(atPath: path) {
            let name =
                path.hasSuffix(".gz")
                ? "read .nii.gz (nibabel-written, one gzip member)" : "read .nii (nibabel-written)"
            let t = try measure(repeats: repeats) { _ = try ImageFile.read(path) }
            rows.append(Row(name: name, seconds: t.wall, cpuSeconds: t.cpu, bytes: bytes, fileBytes: fileSize(path)))
        }
        let nii = dir + "/medvox.nii", gz = dir + "/medvox.nii.gz"
        var options = NIfTIWriteOptions()
        options.compressionLevel = level
        let tw = try measure(repeats: repeats) { try ImageFile.write(volume, to: nii, options: options) }
        rows.append(
            Row(name: "write .nii", seconds: tw.wall, cpuSeconds: tw.cpu, bytes: bytes, fileBytes: fileSize(nii)))
        let tz = try measure(repeats: repeats) { try ImageFile.write(volume, to: gz, options: options) }
        rows.append(
            Row(
                name: "write .nii.gz (level \(level), \(Runtime.threads) threads)", seconds: tz.wall,
                cpuSeconds: tz.cpu, bytes: bytes,
                fileBytes: fileSize(gz)))
        let tr = try measure(repeats: repeats) { _ = try ImageFile.read(nii) }
        rows.append(
            Row(name: "read .nii", seconds: tr.wall, cpuSeconds: tr.cpu, bytes: bytes, fileBytes: fileSize(nii)))
        let trz = try measure(repeats: repeats) { _ = try ImageFile.read(gz) }
        rows.append(
            Row(
                name: "read .nii.gz (MedVox-written, parallel members)", seconds: trz.wall, cpuSeconds: trz.cpu,
                bytes: bytes,
                fileBytes: fileSize(gz)))
        return rows
    }
}
