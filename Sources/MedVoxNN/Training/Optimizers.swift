import Foundation
import MedVoxTensor

/// Updates parameters from their accumulated gradients. Parameters without a gradient are left
/// unchanged (and keep their optimizer state).
public protocol Optimizer: AnyObject {
    var parameters: [Variable] { get }
    /// The learning rate of the next `step()` (schedules set it each step).
    var learningRate: Double { get set }
    func step()
}

extension Optimizer {
    /// Clears the parameters' gradients.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}

/// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay, as
/// PyTorch's `torch.optim.SGD` (dampening 0): g ← ∇ + λ·p; b ← μ·b + g (b = g on the first
/// step); p ← p − lr·(g + μ·b) with Nesterov, p ← p − lr·b without.
public final class SGD: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Double
    public var momentum: Double, weightDecay: Double, nesterov: Bool
    private var buffers: [Tensor?]

    /// The momentum buffers in parameter order (nil before a parameter's first step), for checkpoints.
    public var state: [Tensor?] {
        get { buffers }
        set {
            precondition(newValue.count == parameters.count, "optimizer state for \(newValue.count) parameters, expected \(parameters.count)")
            buffers = newValue
        }
    }

    public init(_ parameters: [Variable], learningRate: Double, momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0) {
        precondition(!nesterov || momentum > 0, "Nesterov momentum needs momentum > 0")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        buffers = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        let lr = Float(learningRate), mu = Float(momentum), wd = Float(weightDecay)
        for (k, p) in parameters.enumerated() {
            guard var g = p.grad else { continue }
            if wd != 0 { g.addInPlace(p.value, alpha: wd) }
            if mu != 0 {
                if var b = buffers[k] {
                    buffers[k] = nil
                    b = b * mu
                    b.addInPlace(g)
                    buffers[k] = b
                } else {
                    buffers[k] = g
                }
                if nesterov { g.addInPlace(buffers[k]!, alpha: mu) } else { g = buffers[k]! }
            }
            p.value.addInPlace(g, alpha: -lr)
        }
    }
}

/// Adam (Kingma & Ba 2015) with bias correction; `decoupledWeightDecay` makes it AdamW
/// (Loshchilov & Hutter 2019: p ← p·(1 − lr·λ) before the Adam update) instead of adding λ·p
/// to the gradient. Per element: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
/// p ← p − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε).
public final class Adam: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Double
    public var beta1: Double, beta2: Double, eps: Double, weightDecay: Double
    public let decoupledWeightDecay: Bool
    private var m: [Tensor], v: [Tensor], steps: [Int]

    /// The first and second moment estimates and per-parameter step counts, in parameter order
    /// (what a resumable checkpoint saves). Setting it requires the same counts and shapes.
    public var state: (m: [Tensor], v: [Tensor], steps: [Int]) {
        get { (m, v, steps) }
        set {
            precondition(newValue.m.count == parameters.count && newValue.v.count == parameters.count && newValue.steps.count == parameters.count,
                         "optimizer state for \(newValue.m.count) parameters, expected \(parameters.count)")
            m = newValue.m
            v = newValue.v
            steps = newValue.steps
        }
    }

    public init(_ parameters: [Variable], learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                eps: Double = 1e-8, weightDecay: Double = 0, decoupledWeightDecay: Bool = false)
    {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        m = parameters.map { $0.value.zerosLike() }
        v = m
        steps = Array(repeating: 0, count: parameters.count)
    }

    /// AdamW: Adam with decoupled weight decay (default λ = 0.01, as PyTorch).
    public static func adamW(_ parameters: [Variable], learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                             eps: Double = 1e-8, weightDecay: Double = 0.01) -> Adam {
        Adam(parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, decoupledWeightDecay: true)
    }

    public func step() {
        for (k, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            steps[k] += 1
            let t = Double(steps[k])
            let c1 = 1 - Foundation.pow(beta1, t), c2 = 1 - Foundation.pow(beta2, t)
            let b1 = Float(beta1), b2 = Float(beta2), lr = Float(learningRate), e = Float(eps), wd = Float(weightDecay)
            let stepSize = Float(learningRate / c1), root2 = Float(c2.squareRoot())
            let decay: Float = decoupledWeightDecay ? 1 - lr * wd : 1
            let l2: Float = decoupledWeightDecay ? 0 : wd
            var mk = m[k], vk = v[k], value = p.value
            m[k] = Tensor(shape: [0])
            v[k] = m[k]
            for i in 0..<value.count {
                let gi = g.storage[i] + l2 * value.storage[i]
                mk.storage[i] = b1 * mk.storage[i] + (1 - b1) * gi
                vk.storage[i] = b2 * vk.storage[i] + (1 - b2) * gi * gi
                value.storage[i] = value.storage[i] * decay - stepSize * mk.storage[i] / (vk.storage[i].squareRoot() / root2 + e)
            }
            m[k] = mk
            v[k] = vk
            p.value = value
        }
    }
}

/// Scales all gradients together so that their global L2 norm is at most `maxNorm`; returns the
/// norm before clipping (PyTorch `clip_grad_norm_`).
@discardableResult
public func clipGradientNorm(_ parameters: [Variable], maxNorm: Double) -> Double {
    var total = 0.0
    for p in parameters { if let g = p.grad { for v in g.storage { total += Double(v) * Double(v) } } }
    let norm = total.squareRoot()
    let scale = maxNorm / (norm + 1e-6)
    if scale < 1 { for p in parameters where p.grad != nil { p.grad = p.grad! * Float(scale) } }
    return norm
}
