import MedVoxCore
import MedVoxTensor

// Thin layer objects around the free functions of MedVoxTensor (STYLE #5). Normalisation and
// pooling layers work for any number of spatial axes (BatchNorm serves 1D/2D/3D alike).

/// Batch normalisation (Ioffe & Szegedy 2015): batch statistics in training (and running
/// averages updated with `momentum`, unbiased variance), running statistics in inference.
public final class BatchNorm: Module {
    public let weight: Variable, bias: Variable
    public let runningMean: Variable, runningVar: Variable
    public var momentum: Float, eps: Float
    public var training = true

    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) {
        weight = Variable(Tensor(shape: [channels], repeating: 1), requiresGrad: true)
        bias = Variable(Tensor(shape: [channels]), requiresGrad: true)
        runningMean = Variable(Tensor(shape: [channels]))
        runningVar = Variable(Tensor(shape: [channels], repeating: 1))
        self.momentum = momentum
        self.eps = eps
    }

    public var localParameters: [(String, Variable)] { [("weight", weight), ("bias", bias)] }
    public var localBuffers: [(String, Variable)] { [("running_mean", runningMean), ("running_var", runningVar)] }

    public func callAsFunction(_ x: Variable) -> Variable {
        guard training else {
            let y = batchNormInference(x.value, runningMean: runningMean.value, runningVar: runningVar.value,
                                       gamma: weight.value, beta: bias.value, eps: eps)
            let scale = Tensor(shape: [weight.value.count], storage: zip(weight.value.storage, runningVar.value.storage).map { $0 / ($1 + eps).squareRoot() })
            let shape = x.shape
            return Variable.result(y, inputs: [x]) { g in [scaleChannels(g, scale, shape: shape)] }
        }
        let (y, stats) = normalize(x, .batch, gamma: weight, beta: bias, eps: eps)
        let m = Float(stats.groupSize), unbias = m > 1 ? m / (m - 1) : 1
        for c in 0..<weight.value.count {
            runningMean.value.storage[c] += momentum * (stats.mean[c] - runningMean.value.storage[c])
            runningVar.value.storage[c] += momentum * (stats.variance[c] * unbias - runningVar.value.storage[c])
        }
        return y
    }
}

/// Multiplies channel c of `[N, C, …]` by `scale[c]`.
func scaleChannels(_ x: Tensor, _ scale: Tensor, shape: [Int]) -> Tensor {
    let c = shape[1], inner = shape.dropFirst(2).reduce(1, *)
    var y = x
    for i in 0..<y.count { y.storage[i] *= scale.storage[(i / inner) % c] }
    return y
}

/// Group normalisation (Wu & He 2018): statistics per batch item over groups of channels and
/// space, then a per-channel affine. `groups == channels` is instance normalisation.
public final class GroupNorm: Module {
    public let groups: Int
    public let weight: Variable?, bias: Variable?
    public var eps: Float
    public var training = true

    public init(groups: Int, channels: Int, affine: Bool = true, eps: Float = 1e-5) {
        precondition(channels % groups == 0, "\(channels) channels do not split into \(groups) groups")
        self.groups = groups
        weight = affine ? Variable(Tensor(shape: [channels], repeating: 1), requiresGrad: true) : nil
        bias = affine ? Variable(Tensor(shape: [channels]), requiresGrad: true) : nil
        self.eps = eps
    }

    public var localParameters: [(String, Variable)] {
        guard let weight, let bias else { return [] }
        return [("weight", weight), ("bias", bias)]
    }

    public func callAsFunction(_ x: Variable) -> Variable { normalize(x, .groups(groups), gamma: weight, beta: bias, eps: eps).0 }
}

/// Instance normalisation (Ulyanov et al. 2016) with a per-channel affine, as nnU-Net uses:
/// statistics per item and channel over space, in training and inference alike.
public func InstanceNorm(_ channels: Int, affine: Bool = true, eps: Float = 1e-5) -> GroupNorm {
    GroupNorm(groups: channels, channels: channels, affine: affine, eps: eps)
}

/// A stateless layer applying a function of its input.
public final class Lambda: Module {
    public let name: String
    let f: (Variable) -> Variable
    public var training = true
    public init(_ name: String, _ f: @escaping (Variable) -> Variable) {
        self.name = name
        self.f = f
    }
    public func callAsFunction(_ x: Variable) -> Variable { f(x) }
}

public func ReLU() -> Lambda { Lambda("ReLU") { relu($0) } }
public func ELU(alpha: Float = 1) -> Lambda { Lambda("ELU") { elu($0, alpha: alpha) } }
public func Sigmoid() -> Lambda { Lambda("Sigmoid") { sigmoid($0) } }
public func Tanh() -> Lambda { Lambda("Tanh") { tanh($0) } }
/// `[N, C, …]` → `[N, C]`.
public func GlobalAvgPool() -> Lambda { Lambda("GlobalAvgPool") { globalAvgPool($0) } }

/// Parametric ReLU with one learnt slope per channel (or one shared), initialised to 0.25.
public final class PReLU: Module {
    public let weight: Variable
    public var training = true
    public init(channels: Int = 1, initial: Float = 0.25) {
        weight = Variable(Tensor(shape: [channels], repeating: initial), requiresGrad: true)
    }
    public var localParameters: [(String, Variable)] { [("weight", weight)] }
    public func callAsFunction(_ x: Variable) -> Variable { prelu(x, slopes: weight) }
}

/// Max or average pooling over the spatial axes (rank from `kernel.count`).
public final class Pool: Module {
    public enum Kind: Sendable { case max, average }
    public let kind: Kind
    public let kernel: [Int], stride: [Int]?, padding: [Int]?
    public var training = true
    public init(_ kind: Kind, kernel: [Int], stride: [Int]? = nil, padding: [Int]? = nil) {
        self.kind = kind
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }
    public func callAsFunction(_ x: Variable) -> Variable {
        let g = PoolGeometry(inputShape: x.shape, kernel: kernel, stride: stride, padding: padding)
        return kind == .max ? maxPool(x, g) : avgPool(x, g)
    }
}

public func AvgPool(kernel: [Int], stride: [Int]? = nil, padding: [Int]? = nil) -> Pool { Pool(.average, kernel: kernel, stride: stride, padding: padding) }

/// Nearest or (bi/tri)linear up-sampling by integer factors.
public final class Upsample: Module {
    public let scale: [Int], mode: UpsampleMode
    public var training = true
    public init(scale: [Int], mode: UpsampleMode) {
        self.scale = scale
        self.mode = mode
    }
    public func callAsFunction(_ x: Variable) -> Variable { upsample(x, scale: scale, mode: mode) }
}

/// Fully connected layer, weights `[out, in]` (PyTorch layout), PyTorch's default uniform
/// initialisation U(−1/√in, 1/√in) for weights and bias.
public final class Linear: Module {
    public let weight: Variable, bias: Variable?
    public var training = true
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout SeededGenerator) {
        let bound = 1 / Double(inFeatures).squareRoot()
        var w = Tensor(shape: [outFeatures, inFeatures])
        for i in 0..<w.count { w.storage[i] = Float(rng.uniform(-bound, bound)) }
        weight = Variable(w, requiresGrad: true)
        if bias {
            var b = Tensor(shape: [outFeatures])
            for i in 0..<b.count { b.storage[i] = Float(rng.uniform(-bound, bound)) }
            self.bias = Variable(b, requiresGrad: true)
        } else {
            self.bias = nil
        }
    }
    public var localParameters: [(String, Variable)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
    public func callAsFunction(_ x: Variable) -> Variable { linear(x, weight: weight, bias: bias) }
}

/// Inverted dropout with probability `p`, active in training only; its masks come from its own
/// seeded generator, so a seed fixes every mask of a run.
public final class Dropout: Module {
    public let p: Double
    public var rng: SeededGenerator
    public var training = true
    public init(p: Double, seed: UInt64) {
        self.p = p
        rng = SeededGenerator(seed: seed)
    }
    public func callAsFunction(_ x: Variable) -> Variable { dropout(x, p: p, training: training, rng: &rng) }
}
