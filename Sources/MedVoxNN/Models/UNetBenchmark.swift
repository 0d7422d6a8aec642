import Foundation
import MedVoxCore
import MedVoxTensor

#if canImport(Glibc)
    import Glibc
#endif

/// The whole-network benchmark behind `medvox bench unet`: issue 4's 3D U-Net (features
/// 16-32-64-128-256, conv–instance-norm–leaky-ReLU blocks, max-pool down, transposed conv up,
/// 1 input channel, 4 classes, softmax) on a seeded size³ volume. With `dumpDirectory` it writes
/// the weights (unet3d_SIZE.safetensors), the input and the probabilities (.input.f32,
/// .output.f32, raw little-endian float32) for Tools/bench/conv_peers.py --unet.
public enum UNetBenchmark {
    /// Times `predict` (median of `repeats` after a warm-up); returns one JSON line with
    /// forward_ms and the process's peak resident memory so far.
    public static func run(size: Int, repeats: Int, threads: Int = Runtime.threads, dumpDirectory: String? = nil) throws -> String {
        var rng = SeededGenerator(seed: 2026)
        let net = UNet(spatialRank: 3, inChannels: 1, classes: 4, features: [16, 32, 64, 128, 256], rng: &rng)
        net.training = false
        // Non-trivial biases and norm affines, so the comparison checks every parameter.
        for (name, p) in net.namedParameters() where !(name.hasSuffix("weight") && p.value.rank > 1) {
            let isScale = name.contains("norm") && name.hasSuffix("weight")
            p.value = Tensor(shape: p.value.shape, storage: (0..<p.value.count).map { _ in
                Float(isScale ? rng.uniform(0.5, 1.5) : rng.uniform(-0.2, 0.2))
            })
        }
        let input = Tensor(shape: [1, 1, size, size, size], storage: (0..<(size * size * size)).map { _ in Float(rng.normal()) })
        let saved = Runtime.threads
        Runtime.threads = threads
        defer { Runtime.threads = saved }
        var output = net.predict(input)  // warm-up: plans, packing, pool buffers
        var ms = [Double]()
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            output = net.predict(input)
            ms.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-6)
        }
        ms.sort()
        let median = ms.count % 2 == 1 ? ms[ms.count / 2] : (ms[ms.count / 2 - 1] + ms[ms.count / 2]) / 2
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let peakMiB = Double(usage.ru_maxrss) / 1024
        if let dir = dumpDirectory {
            try net.save(to: "\(dir)/unet3d_\(size).safetensors")
            for (suffix, t) in [("input", input), ("output", output)] {
                try AtomicFile.write(t.storage.withUnsafeBytes { Array($0) }, to: "\(dir)/unet3d_\(size).\(suffix).f32")
            }
        }
        return String(format: "{\"op\":\"unet3d\",\"size\":%d,\"forward_ms\":%.1f,\"peak_rss_mib\":%.0f,\"threads\":%d,\"isa\":\"%@\"}",
                      size, median, peakMiB, threads, "\(ConvKernels.isa)")
    }
}
