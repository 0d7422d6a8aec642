import MedVoxCore
import MedVoxTensor

/// A network layer or a composition of layers: a `final class` holding named parameters
/// (trainable leaves), named buffers (state saved in checkpoints but not trained, such as batch
/// norm running statistics) and named children. Names join with dots, as in PyTorch state dicts
/// (`encoder.0.conv.weight`), so checkpoints exchange with PyTorch by name.
///
/// ```swift
/// let net = Sequential(Conv3d(1, 8, kernel: 3, padding: 1, rng: &rng), ReLU())
/// let y = net(Variable(x))
/// for (name, p) in net.namedParameters() { print(name, p.shape) }
/// ```
public protocol Module: AnyObject {
    func callAsFunction(_ x: Variable) -> Variable
    /// This module's own parameters, by local name.
    var localParameters: [(String, Variable)] { get }
    /// This module's own buffers, by local name.
    var localBuffers: [(String, Variable)] { get }
    /// Direct sub-modules, by local name.
    var children: [(String, Module)] { get }
    /// Training mode (dropout active, batch norm uses batch statistics) or inference mode.
    var training: Bool { get set }
}

extension Module {
    public var localParameters: [(String, Variable)] { [] }
    public var localBuffers: [(String, Variable)] { [] }
    public var children: [(String, Module)] { [] }

    /// Every parameter of this module and its descendants, with dotted names, in a fixed order.
    public func namedParameters(prefix: String = "") -> [(String, Variable)] {
        localParameters.map { (prefix + $0.0, $0.1) }
            + children.flatMap { $0.1.namedParameters(prefix: prefix + $0.0 + ".") }
    }

    /// Every buffer of this module and its descendants, with dotted names.
    public func namedBuffers(prefix: String = "") -> [(String, Variable)] {
        localBuffers.map { (prefix + $0.0, $0.1) } + children.flatMap { $0.1.namedBuffers(prefix: prefix + $0.0 + ".") }
    }

    public func parameters() -> [Variable] { namedParameters().map(\.1) }

    /// Clears the accumulated gradients of all parameters.
    public func zeroGrad() { for p in parameters() { p.zeroGrad() } }

    /// Sets training (true) or inference (false) mode on this module and all its descendants.
    public func setTraining(_ on: Bool) {
        training = on
        for (_, c) in children { c.setTraining(on) }
    }

    /// Parameters and buffers by name (what a checkpoint holds).
    public func stateDict() -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (k, v) in namedParameters() + namedBuffers() { d[k] = v.value }
        return d
    }

    /// Loads parameters and buffers by name; every tensor of the module must be present with
    /// the same shape (`path` names the source in errors). Extra tensors are an error too.
    public func loadStateDict(_ state: [String: Tensor], path: String) throws {
        let mine = namedParameters() + namedBuffers()
        for (name, v) in mine {
            guard let t = state[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
            guard t.shape == v.shape else {
                throw CheckpointError.shapeMismatch(path: path, name: name, expected: v.shape, found: t.shape)
            }
            v.value = t
        }
        let names = Set(mine.map(\.0))
        if let extra = state.keys.sorted().first(where: { !names.contains($0) }) {
            throw CheckpointError.unexpectedTensor(path: path, name: extra)
        }
    }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.value.count } }
}

/// Weights drawn with He (Kaiming) normal initialisation, std = √(2 / fanIn) (He et al. 2015),
/// as nnU-Net initialises its convolutions.
public func heNormal(_ shape: [Int], fanIn: Int, rng: inout SeededGenerator) -> Tensor {
    let std = (2 / Double(max(fanIn, 1))).squareRoot()
    var t = Tensor(shape: shape)
    for i in 0..<t.count { t.storage[i] = Float(rng.normal() * std) }
    return t
}

/// Applies the modules in order.
public final class Sequential: Module {
    public var layers: [Module]
    public var training = true
    public init(_ layers: Module...) { self.layers = layers }
    public init(_ layers: [Module]) { self.layers = layers }
    public func callAsFunction(_ x: Variable) -> Variable { layers.reduce(x) { $1($0) } }
    public var children: [(String, Module)] { layers.enumerated().map { (String($0.offset), $0.element) } }
}
