import Foundation
import MedVoxCore
import MedVoxTransforms

/// `medvox bench transforms`: resampling and augmentation timings (the cases live in
/// `MedVoxTransforms.TransformBenchmark`; Tools/bench/transforms_peers.py runs the peers).
let transformsBenchSuite = BenchSuite(name: "transforms") { args in
    let size = try args.int("size", range: 16...512) ?? 256
    let repeats = try args.int("repeat", range: 1...100) ?? 3
    let json = args.flag("json")
    if !json { print("transforms (threads \(Runtime.threads)): median of \(repeats)") }
    try TransformBenchmark.run(size: size, repeats: repeats) { row in
        if json {
            let obj: [String: Any] = ["suite": "transforms", "case": row.name, "detail": row.detail, "seconds": row.seconds, "cpu_seconds": row.cpuSeconds, "threads": Runtime.threads]
            let data = try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            let name = row.name.padding(toLength: 20, withPad: " ", startingAt: 0)
            print("  \(name) \(String(format: "%9.4f s  cpu %8.4f s", row.seconds, row.cpuSeconds))   \(row.detail)")
        }
        fflush(stdout)
    }
}
