import Foundation
import MedVoxCore
import MedVoxIO

extension BenchSuite {
    /// `medvox bench io`: NIfTI read/write speed (library side: `IOBenchmark`).
    public static let io = BenchSuite(name: "io") { args, emit in
        let size = try args.int("size", range: 8...1024) ?? 256
        let repeats = try args.int("repeat", range: 1...100) ?? 5
        let dir = args.value("dir") ?? NSTemporaryDirectory() + "medvox-bench-io"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let rows = try IOBenchmark.run(size: size, repeats: repeats, dir: dir)
        for r in rows {
            if args.flag("json") {
                emit(
                    "{\"suite\": \"io\", \"name\": \(jsonString(r.name)), \"seconds\": \(r.seconds), \"cpu_seconds\": \(r.cpuSeconds), "
                        + "\"mb_per_s\": \(r.megabytesPerSecond), "
                        + "\"bytes\": \(r.bytes), \"file_bytes\": \(r.fileBytes), \"threads\": \(Runtime.threads)}")
            } else {
                let name = r.name.padding(toLength: 52, withPad: " ", startingAt: 0)
                emit(
                    "io  " + name
                        + String(
                            format: " %8.1f MB/s  (median of %d: %.3f s wall, %.3f s CPU; file %.1f MB)",
                            r.megabytesPerSecond, repeats, r.seconds, r.cpuSeconds, Double(r.fileBytes) / 1e6))
            }
        }
    }
}
