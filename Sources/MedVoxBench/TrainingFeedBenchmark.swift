import Dispatch
import MedVoxCore
import MedVoxNN
import MedVoxTraining
import MedVoxTransforms

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Does augmentation keep up with training? Times the example preparation of the brain-tissue
/// model's training (Models/brain-tissue.json: recipe `strong`, 48³ patches with the 6-voxel
/// context margin, on a phantom of the 2 mm MNI grid's size) on one thread, and the network part
/// of its training step (U-Net 8-16-32-64, 4 classes, batch 2, AdamW) on `Runtime.threads`.
public enum TrainingFeedBenchmark {
    public struct Result: Sendable {
        /// Examples prepared per second on one thread (crop, augmentation, extraction).
        public var samplesPerSecond: Double
        /// CPU seconds per example (one thread).
        public var cpuSecondsPerSample: Double
        /// Median wall seconds of the network part of one training step.
        public var stepSeconds: Double
        public var batch: Int
        public var detail: String
    }

    static func cpuNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func wallNow() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    public static func run(samples: Int = 32, steps: Int = 3) throws -> Result {
        // 104³ ≈ the voxel count of the MNI template at 2 mm (99 × 117 × 95); labels 0–3 by intensity.
        let image = TransformBenchmark.phantom(104)
        let label = image.withVoxels(image.voxels.map { $0 < 100 ? 0 : ($0 < 400 ? 1 : ($0 < 800 ? 2 : 3)) })
        let patch = [48, 48, 48]
        var config = TrainingConfig(task: .segmentation, spatialRank: 3, classes: 4, features: [8, 16, 32, 64], patch: patch, steps: 240)
        config.batchSize = 2
        config.learningRate = 3e-3
        config.warmupSteps = 10
        let source = ExampleSource(
            kind: .segmentation(cases: [PreparedCase(id: "phantom", image: image, label: label)], sampler: PatchSampler(patch: patch)),
            augmentation: AugmentRecipes.strong, margin: patch.map { max(4, $0 / 8) })
        let saved = Runtime.threads
        Runtime.threads = 1
        var examples = [Example]()
        let w0 = wallNow(), c0 = cpuNow()
        do {
            defer { Runtime.threads = saved }
            for n in 0..<max(samples, 1) { examples.append(try source.example(n, seed: 0)) }
        }
        let wall = wallNow() - w0, cpu = cpuNow() - c0
        let trainer = try Trainer(config: config, source: source, validation: [], labelNames: ["background", "CSF", "GM", "WM"])
        trainer.progressLabel = nil
        trainer.net.setTraining(true)
        var times = [Double]()
        for s in 0...max(steps, 1) {
            let batch = (0..<config.batchSize).map { examples[(s * config.batchSize + $0) % examples.count] }
            let t = wallNow()
            _ = trainer.networkStep(s, batch)
            if s > 0 { times.append(wallNow() - t) }  // step 0: warm-up
        }
        times.sort()
        return Result(
            samplesPerSecond: Double(examples.count) / wall, cpuSecondsPerSample: cpu / Double(examples.count),
            stepSeconds: times[times.count / 2], batch: config.batchSize,
            detail: "brain-tissue training: recipe strong on 60³ (48³ patch + 6 margin) from a 104³ phantom; U-Net 8-16-32-64, batch 2")
    }
}
