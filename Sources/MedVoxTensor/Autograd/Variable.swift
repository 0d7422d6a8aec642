#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
/// A tensor in a computation graph: its value, and — for tensors that need gradients — how to
/// pass a gradient back to the tensors it was computed from (reverse-mode autodiff).
///
/// Operations on variables (`relu(x)`, `conv(x, …)`, `x + y`, losses) record a node only when
/// some input requires a gradient and recording is on (see `withoutGradients`), so inference
/// keeps no graph. `backward()` walks the graph once in reverse topological order; leaves that
/// require gradients (parameters) *accumulate* into `grad` until `zeroGrad()`, so several
/// backward passes sum their gradients.
///
/// ```swift
/// let w = Variable(Tensor(shape: [3], repeating: 1), requiresGrad: true)
/// let loss = sum(relu(w))
/// loss.backward()          // w.grad == [1, 1, 1]
/// ```
public final class Variable {
    public var value: Tensor { didSet { version &+= 1 } }
    /// Incremented on every change of `value` (layers repack weights when it moves).
    public private(set) var version = 0
    /// Accumulated gradient of a leaf that requires gradients (nil until the first backward).
    public var grad: Tensor?
    public let requiresGrad: Bool
    let inputs: [Variable]
    /// Given the gradient of this node's value, returns one gradient per input (nil where the
    /// input needs none).
    let backwardFn: ((Tensor) -> [Tensor?])?

    /// A leaf: an input or a parameter.
    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        inputs = []
        backwardFn = nil
    }

    init(value: Tensor, inputs: [Variable], backward: @escaping (Tensor) -> [Tensor?]) {
        self.value = value
        self.inputs = inputs
        requiresGrad = true
        backwardFn = backward
    }

    /// Builds the result of an operation: a graph node if any input requires a gradient and
    /// recording is on, else a constant (and `backward` is never kept).
    public static func result(_ value: Tensor, inputs: [Variable], backward: @escaping (Tensor) -> [Tensor?]) -> Variable {
        if GradientRecording.isEnabled && inputs.contains(where: \.requiresGrad) {
            return Variable(value: value, inputs: inputs, backward: backward)
        }
        return Variable(value)
    }

    public var shape: [Int] { value.shape }
    public var isLeaf: Bool { backwardFn == nil }

    /// Sets the accumulated gradient to nil.
    public func zeroGrad() { grad = nil }

    /// Back-propagates from this variable with seed gradient `seed` (default: ones, which for a
    /// scalar loss is dL/dL = 1). Leaves that require gradients accumulate into `grad`.
    public func backward(seed: Tensor? = nil) {
        guard requiresGrad else { return }
        let order = topologicalOrder()
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed ?? Tensor(shape: shape, repeating: 1)]
        for node in order.reversed() {
            guard let g = grads.removeValue(forKey: ObjectIdentifier(node)) else { continue }
            guard let fn = node.backwardFn else {
                if node.grad == nil { node.grad = g } else { node.grad!.addInPlace(g) }
                continue
            }
            for (input, gi) in zip(node.inputs, fn(g)) {
                guard input.requiresGrad, let gi else { continue }
                precondition(gi.shape == input.shape, "gradient shape \(gi.shape) for a value of shape \(input.shape)")
                let key = ObjectIdentifier(input)
                if grads[key] == nil { grads[key] = gi } else { grads[key]!.addInPlace(gi) }
            }
        }
    }

    /// Nodes reachable from this one that require gradients, inputs before the nodes using them.
    func topologicalOrder() -> [Variable] {
        var order: [Variable] = []
        var seen = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = [(self, false)]
        while let (v, expanded) = stack.popLast() {
            if expanded {
                order.append(v)
                continue
            }
            if !seen.insert(ObjectIdentifier(v)).inserted { continue }
            stack.append((v, true))
            for i in v.inputs where i.requiresGrad && !seen.contains(ObjectIdentifier(i)) { stack.append((i, false)) }
        }
        return order
    }
}

/// Whether operations on the current thread record graph nodes (off inside `withoutGradients`).
///
/// The switch is per thread: inference running on other threads at the same time (batch jobs,
/// validation) can never turn recording off for a thread that is training. (A process-wide flag
/// saved and restored by concurrent `withoutGradients` calls could be left off for good.)
public enum GradientRecording {
    /// A thread-specific key whose value is non-nil while recording is off on that thread.
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    public static var isEnabled: Bool {
        get { pthread_getspecific(key) == nil }
        set { pthread_setspecific(key, newValue ? nil : UnsafeRawPointer(bitPattern: 1)) }
    }
}

/// Runs `body` without recording a graph (inference): results are constants and intermediate
/// tensors are freed as soon as they are no longer used.
public func withoutGradients<T>(_ body: () throws -> T) rethrows -> T {
    let was = GradientRecording.isEnabled
    GradientRecording.isEnabled = false
    defer { GradientRecording.isEnabled = was }
    return try body()
}
