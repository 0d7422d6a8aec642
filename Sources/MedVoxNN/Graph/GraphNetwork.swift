import Foundation
import MedVoxCore
import MedVoxTensor

/// An imported network as a `Module`, so that it runs wherever a native one does (sliding-window
/// segmentation, classification, benchmarks), in inference mode only.
///
/// Axis convention: a native MedVox network sees a volume as `[N, C, D = k, H = j, W = i]` (i
/// fastest, no copy); an imported network was trained on arrays as MONAI loads them, `[N, C, i,
/// j, k]` (k fastest). `callAsFunction` takes and returns MedVox's layout and reverses the spatial
/// axes on the way in and out; `run` feeds the network's own layout unchanged.
///
/// `outputIsProbability`: the network ends in its own softmax, so `callAsFunction` returns the
/// logarithm of its output, whose softmax (what segmentation and classification apply) is the
/// network's output again.
public final class GraphNetwork: Module {
    public let executor: GraphExecutor
    public let outputIsProbability: Bool
    public var training = false

    public init(executor: GraphExecutor, outputIsProbability: Bool = false) {
        self.executor = executor
        self.outputIsProbability = outputIsProbability
    }

    /// The first output on `x` in the network's own layout (`[N, C, i, j, k]` for imported models).
    public func run(_ x: Tensor) throws -> Tensor { try executor.run([x])[0] }

    /// The network on `x` in MedVox's layout (`[N, C, k, j, i]`); outputs with spatial axes come
    /// back in that layout too. A run error (a shape the network refuses) is a programming error
    /// here: callers size windows by the card (`inputSize`, `sizeMultiple`).
    public func callAsFunction(_ x: Variable) -> Variable {
        let y: Tensor
        do { y = try run(reversingSpatialAxes(x.value)) } catch { preconditionFailure("imported network: \(error)") }
        var out = y.rank > 2 ? reversingSpatialAxes(y) : y
        if outputIsProbability {
            for i in 0..<out.count { out.storage[i] = out.storage[i] > 0 ? Foundation.log(out.storage[i]) : -100 }
        }
        return Variable(out)
    }
}

/// `x` (`[N, C, a, b, c]`, any number of spatial axes) with its spatial axes in reverse order
/// (`[N, C, c, b, a]`): between MedVox's volume layout and the i, j, k order MONAI loads arrays in.
public func reversingSpatialAxes(_ x: Tensor) -> Tensor {
    guard x.rank > 3 else { return x }
    let perm = [0, 1] + Array((2..<x.rank).reversed())
    let st = x.strides
    let shape = perm.map { x.shape[$0] }
    return Tensor(shape: shape, storage: gathered(x.storage, strides: perm.map { st[$0] }, outShape: shape))
}

extension Graph {
    /// The largest factor by which any value is downsampled from the inputs (the product of the
    /// strides of convolutions and pools along the way, per axis at most): spatial sizes that are
    /// multiples of it pass through an encoder–decoder without rounding.
    public var downsamplingFactor: Int {
        var factor: [String: Int] = [:]
        for i in inputs { factor[i.name] = 1 }
        var best = 1
        for n in nodes {
            let f = n.inputs.compactMap { factor[$0] }.max() ?? 0
            guard f > 0 else { continue }
            var out = f
            if ["Conv", "MaxPool", "AveragePool"].contains(n.op), let s = n.ints("strides") { out *= s.max() ?? 1 }
            for o in n.outputs { factor[o] = out }
            best = max(best, out)
        }
        return best
    }

    /// Whether output `k` is made by a Softmax node (the network returns probabilities).
    public func outputIsSoftmax(_ k: Int = 0) -> Bool {
        guard k < outputs.count else { return false }
        return nodes.last { $0.outputs.contains(outputs[k]) }?.op == "Softmax"
    }
}
