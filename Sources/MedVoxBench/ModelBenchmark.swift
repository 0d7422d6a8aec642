import Dispatch
import Foundation
import MedVoxCore
import MedVoxInference
import MedVoxNN
import MedVoxTensor

/// `medvox bench model CARD`: a model's network forward on a seeded normal input of the card's
/// patch size (or `size` per spatial axis), in the network's own layout; imported and native cards
/// alike. The first pass (plans, packing, page faults) is not timed.
public enum ModelBenchmark {
    public struct Row: Sendable {
        public var model: String, shape: [Int], threads: Int
        public var forwardMs: Double, forwardCpuMs: Double, peakMiB: Double

        public var json: String {
            String(format: "{\"op\":\"model\",\"model\":\"%@\",\"shape\":[%@],\"threads\":%d,\"forward_ms\":%.3f,\"forward_cpu_ms\":%.3f,\"peak_mib\":%.1f}",
                   model, shape.map(String.init).joined(separator: ","), threads, forwardMs, forwardCpuMs, peakMiB)
        }

        public var text: String {
            String(format: "model %@ on %@: forward %.1f ms (cpu %.1f ms), peak memory %.0f MiB, %d threads",
                   model, shape.map(String.init).joined(separator: "×"), forwardMs, forwardCpuMs, peakMiB, threads)
        }
    }

    public static func run(card: String, size: Int?, repeats: Int) throws -> Row {
        let model = try LoadedModel.load(card)
        let a = model.card.architecture
        var spatial = a.inputSize ?? Array(model.card.input.patchSize.prefix(a.spatialRank))
        if let size {
            guard a.inputSize == nil || a.inputSize! == [Int](repeating: size, count: a.spatialRank) else {
                throw CommandOptionError("model \(model.card.name) takes a fixed input of \(a.inputSize!); leave out --size")
            }
            spatial = [Int](repeating: size, count: a.spatialRank)
        }
        let m = a.sizeMultiple ?? (model.network as? UNet)?.sizeMultiple ?? 1
        if let bad = spatial.first(where: { $0 % m != 0 }) { throw CommandOptionError("size \(bad) is not a multiple of \(m), the network's stride") }
        let graph = model.network as? GraphNetwork
        // Sizes are i, j, k; a native network's spatial axes run k, j, i.
        if graph == nil { spatial.reverse() }
        var rng = SeededGenerator(seed: 1)
        var x = Tensor(shape: [1, a.inChannels] + spatial)
        for i in 0..<x.count { x.storage[i] = Float(rng.normal()) }
        func forward() throws {
            if let graph { _ = try graph.run(x) } else { _ = withoutGradients { model.network(Variable(x)).value } }
        }
        try forward()
        var wall: [Double] = [], cpu: [Double] = []
        for _ in 0..<max(1, repeats) {
            let c0 = ConvBenchmark.cpuMs(), t0 = DispatchTime.now().uptimeNanoseconds
            try forward()
            wall.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-6)
            cpu.append(ConvBenchmark.cpuMs() - c0)
        }
        return Row(model: model.card.name, shape: x.shape, threads: Runtime.threads, forwardMs: ConvBenchmark.median(wall),
                   forwardCpuMs: ConvBenchmark.median(cpu), peakMiB: UNetBenchmark.peakResidentMiB())
    }
}
