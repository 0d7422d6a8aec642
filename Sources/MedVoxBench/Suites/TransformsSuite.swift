import Foundation
import MedVoxCore

extension BenchSuite {
    /// `medvox bench transforms`: resampling and augmentation timings (the cases live in
    /// `TransformBenchmark`; Tools/bench/transforms_peers.py runs the peers) and whether one thread
    /// of augmentation keeps up with a training step (`TrainingFeedBenchmark`).
    public static let transforms = BenchSuite(name: "transforms") { args, emit in
        let size = try args.int("size", range: 16...512) ?? 256
        let repeats = try args.int("repeat", range: 1...100) ?? 3
        let json = args.flag("json")
        let only = args.value("case").map { Set($0.split(separator: ",").map(String.init)) }
        if !json { emit("transforms (threads \(Runtime.threads)): median of \(repeats)") }
        try TransformBenchmark.run(size: size, repeats: repeats, only: only) { row in
            if json {
                let obj: [String: Any] = ["suite": "transforms", "case": row.name, "detail": row.detail, "seconds": row.seconds, "cpu_seconds": row.cpuSeconds, "threads": Runtime.threads]
                let data = try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
                emit(String(decoding: data, as: UTF8.self))
            } else {
                let name = row.name.padding(toLength: 20, withPad: " ", startingAt: 0)
                emit("  \(name) \(String(format: "%9.4f s  cpu %8.4f s", row.seconds, row.cpuSeconds))   \(row.detail)")
            }
        }
        if only != nil && only?.contains("training_feed") != true { return }
        // Augmentation throughput beside the time of the training step it feeds.
        let feed = try TrainingFeedBenchmark.run(samples: max(16, 8 * repeats), steps: repeats)
        let need = Double(feed.batch) / feed.stepSeconds
        if json {
            let obj: [String: Any] = [
                "suite": "transforms", "case": "training_feed", "detail": feed.detail, "seconds": 1 / feed.samplesPerSecond,
                "cpu_seconds": feed.cpuSecondsPerSample, "samples_per_second": feed.samplesPerSecond, "step_seconds": feed.stepSeconds,
                "batch": feed.batch, "threads": Runtime.threads,
            ]
            let data = try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            emit(String(decoding: data, as: UTF8.self))
        } else {
            emit(String(format: "  training feed: augmentation %.1f samples/s on 1 thread (%.4f s CPU each) vs training step %.3f s (network, batch %d, %d threads) needing %.1f samples/s: one thread covers it %.1f×",
                         feed.samplesPerSecond, feed.cpuSecondsPerSample, feed.stepSeconds, feed.batch, Runtime.threads, need, feed.samplesPerSecond / need))
            emit("    \(feed.detail)")
        }
    }
}
