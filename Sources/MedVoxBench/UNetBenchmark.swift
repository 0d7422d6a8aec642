import Dispatch
import Foundation
import MedVoxCore
import MedVoxNN
import MedVoxTensor

/// The whole-network benchmark: a 3D U-Net (features 16-32-64-128-256, two
/// conv–instance-norm–leaky-ReLU stages per level, max-pool down, transposed-conv up, 4 classes,
/// softmax) forward on a 1×1×size³ input, with seeded weights and input.
/// `Tools/bench/unet_peers.py` runs the same network in onnxruntime and OpenVINO from the files
/// written to `dumpDirectory` and compares outputs and times.
public enum UNetBenchmark {
    public struct Row: Sendable {
        public var size: Int, threads: Int
        /// Median wall-clock ms of a forward pass (softmax included), and its median CPU ms.
        public var forwardMs: Double, forwardCpuMs: Double
        /// The process's peak resident memory (VmHWM) after the runs, in MiB.
        public var peakMiB: Double
        public var parameters: Int

        public var json: String {
            String(format: "{\"op\":\"unet3d\",\"size\":%d,\"threads\":%d,\"forward_ms\":%.3f,\"forward_cpu_ms\":%.3f,\"peak_mib\":%.1f,\"parameters\":%d}",
                   size, threads, forwardMs, forwardCpuMs, peakMiB, parameters)
        }

        public var text: String {
            String(format: "unet3d 16-32-64-128-256 @%d³: forward %.1f ms (cpu %.1f ms), peak memory %.0f MiB, %d parameters, %d threads",
                   size, forwardMs, forwardCpuMs, peakMiB, parameters, threads)
        }
    }

    /// The benchmark network with weights from `seed`.
    public static func network(seed: UInt64 = 0) -> UNet {
        var rng = SeededGenerator(seed: seed)
        return UNet(spatialRank: 3, inChannels: 1, classes: 4, features: [16, 32, 64, 128, 256], rng: &rng)
    }

    /// Times `repeats` forward passes after a warm-up. With `dumpDirectory`, writes
    /// `unet.safetensors` (weights), `unet_input.safetensors` and `unet_output.safetensors`.
    public static func run(size: Int, repeats: Int, dumpDirectory: String? = nil) throws -> Row {
        let net = network()
        net.setTraining(false)
        var rng = SeededGenerator(seed: 1)
        var x = Tensor(shape: [1, 1, size, size, size])
        for i in 0..<x.count { x.storage[i] = Float(rng.normal()) }
        try net.validate(inputShape: x.shape)
        var output = net.predict(x)  // warm-up (page faults, plans)
        var wall: [Double] = [], cpu: [Double] = []
        for _ in 0..<max(1, repeats) {
            let c0 = ConvBenchmark.cpuMs(), t0 = DispatchTime.now().uptimeNanoseconds
            output = net.predict(x)
            wall.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-6)
            cpu.append(ConvBenchmark.cpuMs() - c0)
        }
        if let dir = dumpDirectory {
            try net.save(to: dir + "/unet.safetensors")
            try Safetensors.write(["input": x], to: dir + "/unet_input.safetensors")
            try Safetensors.write(["output": output], to: dir + "/unet_output.safetensors")
        }
        return Row(size: size, threads: Runtime.threads, forwardMs: ConvBenchmark.median(wall), forwardCpuMs: ConvBenchmark.median(cpu),
                   peakMiB: peakResidentMiB(), parameters: net.parameterCount)
    }

    /// VmHWM from /proc/self/status (Linux), 0 where unavailable.
    static func peakResidentMiB() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb / 1024
    }
}
