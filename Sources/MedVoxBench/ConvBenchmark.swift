import CMedVoxKernels
import Foundation
import MedVoxCore
import MedVoxTensor

/// The convolution speed benchmark behind `medvox bench conv`: the engine's benchmark layer shapes,
/// forward and backward (data + weights), in ms and GFLOP/s, beside the machine's measured FP32
/// peak. Inputs and weights come from a seeded generator; `dumpDirectory` writes them with the
/// forward output as raw little-endian float32 files for the peer script (Tools/bench/conv_peers.py).
public enum ConvBenchmark {
    /// One benchmark layer: N=1, kernel 3 per axis, padding 1, stride 1.
    public struct Layer: Sendable {
        public var op: String  // "conv3d" or "conv2d"
        public var cin: Int, cout: Int, size: Int
        public var geometry: ConvGeometry {
            let r = op == "conv3d" ? 3 : 2
            return try! ConvGeometry(
                batch: 1, inChannels: cin, outChannels: cout, inputSize: Array(repeating: size, count: r),
                kernel: Array(repeating: 3, count: r), stride: Array(repeating: 1, count: r),
                padding: Array(repeating: 1, count: r), dilation: Array(repeating: 1, count: r))
        }
        /// File-name stem for dumped tensors, e.g. "conv3d_16_16_128".
        public var name: String { "\(op)_\(cin)_\(cout)_\(size)" }
    }

    /// The benchmark layers: a 3D U-Net's levels from 1→16 channels at 128³ down to 256→256 at 8³,
    /// and one wide 2D layer.
    public static let layers: [Layer] = [
        Layer(op: "conv3d", cin: 1, cout: 16, size: 128),
        Layer(op: "conv3d", cin: 16, cout: 16, size: 128),
        Layer(op: "conv3d", cin: 32, cout: 32, size: 64),
        Layer(op: "conv3d", cin: 64, cout: 64, size: 32),
        Layer(op: "conv3d", cin: 128, cout: 128, size: 16),
        Layer(op: "conv3d", cin: 256, cout: 256, size: 8),
        Layer(op: "conv2d", cin: 64, cout: 64, size: 256),
    ]

    /// One measured row.
    public struct Row: Sendable {
        public var layer: Layer
        public var forwardMs: Double, backwardMs: Double, backwardDataMs: Double, backwardWeightsMs: Double
        public var flops: Double
        public var peakGflops: Double
        public var isa: String, mode: String, threads: Int
        /// CPU time (all threads) of the forward and backward passes.
        public var forwardCpuMs: Double, backwardCpuMs: Double
        public var forwardGflops: Double { flops / forwardMs / 1e6 }
        public var backwardGflops: Double { 2 * flops / backwardMs / 1e6 }

        public var json: String {
            func f(_ v: Double) -> String { String(format: "%.3f", v) }
            return "{\"op\":\"\(layer.op)\",\"cin\":\(layer.cin),\"cout\":\(layer.cout),\"size\":\(layer.size),"
                + "\"forward_ms\":\(f(forwardMs)),\"forward_gflops\":\(f(forwardGflops)),"
                + "\"backward_ms\":\(f(backwardMs)),\"backward_gflops\":\(f(backwardGflops)),"
                + "\"backward_data_ms\":\(f(backwardDataMs)),\"backward_weights_ms\":\(f(backwardWeightsMs)),"
                + "\"peak_gflops\":\(f(peakGflops)),\"forward_fraction_of_peak\":\(f(forwardGflops / peakGflops)),"
                + "\"forward_cpu_ms\":\(f(forwardCpuMs)),\"backward_cpu_ms\":\(f(backwardCpuMs)),"
                + "\"isa\":\"\(isa)\",\"mode\":\"\(mode)\",\"threads\":\(threads)}"
        }

        public var text: String {
            let shape = "\(layer.op) \(layer.cin)->\(layer.cout) @\(layer.size)"
            return shape.padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "fwd %8.2f ms %7.1f GFLOP/s (%3.0f%% of peak, cpu %7.1f ms)   bwd %8.2f ms %7.1f GFLOP/s (data %.1f + weights %.1f ms, cpu %.1f ms)  [%@]",
                         forwardMs, forwardGflops, 100 * forwardGflops / peakGflops, forwardCpuMs, backwardMs, backwardGflops,
                         backwardDataMs, backwardWeightsMs, backwardCpuMs, mode)
        }
    }

    /// Measured FP32 peak in GFLOP/s: an FMA loop with independent accumulators on `threads`
    /// threads at once (the instruction set the kernels use).
    public static func peakGflops(threads: Int = Runtime.threads, isa: KernelSettings.ISA = KernelSettings.current.isa) -> Double {
        let iters = 20_000_000 / (isa == .generic ? 20 : 1)
        var best = 0.0
        for _ in 0..<3 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            parallelFor(threads, threads: threads) { _ in _ = mvx_peak_loop(isa.rawValue, iters) }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            best = max(best, Double(threads) * Double(iters) * mvx_peak_flops_per_iter(isa.rawValue) / dt / 1e9)
        }
        return best
    }

    public static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Process CPU time in ms (all threads).
    public static func cpuMs() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) * 1e-6
    }

    /// Median wall-clock ms of `repeats` runs after a warm-up, and the median CPU ms per run
    /// (which shows the kernels' own cost when other work shares the cores).
    static func time(_ repeats: Int, _ body: () -> Void) -> (wall: Double, cpu: Double) {
        body()  // warm-up: page faults, pool buffers
        var ms = [Double](), cpu = [Double]()
        for _ in 0..<max(1, repeats) {
            let c0 = cpuMs()
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            ms.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-6)
            cpu.append(cpuMs() - c0)
        }
        return (median(ms), median(cpu))
    }

    /// Times `layer`: forward with weights packed once, then backward-data and backward-weights.
    /// With `dumpDirectory`, writes NAME.input.f32, .weight.f32, .bias.f32 and .output.f32.
    public static func run(
        _ layer: Layer, repeats: Int, peak: Double, threads: Int = Runtime.threads, dumpDirectory: String? = nil
    ) throws -> Row {
        let g = layer.geometry
        var rng = SeededGenerator(seed: UInt64(layer.cin * 1000 + layer.cout * 10 + layer.size))
        let bound = 1 / Double(g.inChannels * g.taps).squareRoot()
        let input = (0..<g.inputCount).map { _ in Float(rng.uniform(-1, 1)) }
        let weight = (0..<g.weightCount).map { _ in Float(rng.uniform(-bound, bound)) }
        let bias = (0..<g.outChannels).map { _ in Float(rng.uniform(-bound, bound)) }
        let gradOut = (0..<g.outputCount).map { _ in Float(rng.uniform(-1, 1)) }
        var output = [Float](repeating: 0, count: g.outputCount)
        var gradIn = [Float](repeating: 0, count: g.inputCount)
        var gradW = [Float](repeating: 0, count: g.weightCount)
        var gradB = [Float](repeating: 0, count: g.outChannels)
        let plan = ConvPlan(g)
        weight.withUnsafeBufferPointer { plan.pack(weight: $0.baseAddress!) }
        let fwd = input.withUnsafeBufferPointer { x in bias.withUnsafeBufferPointer { b in
            output.withUnsafeMutableBufferPointer { y in
                time(repeats) { plan.forward(input: x.baseAddress!, bias: b.baseAddress!, output: y.baseAddress!, threads: threads) }
            }
        } }
        let bwdData = gradOut.withUnsafeBufferPointer { gy in gradIn.withUnsafeMutableBufferPointer { gx in
            time(repeats) { plan.backwardData(gradOutput: gy.baseAddress!, gradInput: gx.baseAddress!, threads: threads) }
        } }
        let bwdWeights = input.withUnsafeBufferPointer { x in gradOut.withUnsafeBufferPointer { gy in
            gradW.withUnsafeMutableBufferPointer { gw in gradB.withUnsafeMutableBufferPointer { gb in
                time(repeats) {
                    plan.backwardWeights(input: x.baseAddress!, gradOutput: gy.baseAddress!, gradWeight: gw.baseAddress!,
                                         gradBias: gb.baseAddress!, threads: threads)
                }
            } }
        } }
        if let dir = dumpDirectory {
            for (suffix, data) in [("input", input), ("weight", weight), ("bias", bias), ("output", output)] {
                let bytes = data.withUnsafeBytes { Array($0) }
                try AtomicFile.write(bytes, to: "\(dir)/\(layer.name).\(suffix).f32")
            }
        }
        let m = plan.modes
        return Row(layer: layer, forwardMs: fwd.wall, backwardMs: bwdData.wall + bwdWeights.wall, backwardDataMs: bwdData.wall,
                   backwardWeightsMs: bwdWeights.wall, flops: g.flops, peakGflops: peak, isa: "\(plan.isa)",
                   mode: "fwd \(m.forward), bwd-data \(m.backwardData)", threads: threads,
                   forwardCpuMs: fwd.cpu, backwardCpuMs: bwdData.cpu + bwdWeights.cpu)
    }
}
