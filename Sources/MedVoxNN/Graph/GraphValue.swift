import MedVoxTensor

/// A row-major integer tensor: the shapes, axes and indices a graph computes with (ONNX int64,
/// int32 and bool values). The engine's `Tensor` is Float32 and holds everything else.
public struct IntTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Int]
    public init(shape: [Int], values: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "int tensor shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }
    /// A 1-D tensor of `values`.
    public init(_ values: [Int]) { self.init(shape: [values.count], values: values) }
}

/// A value flowing through a graph: a float tensor or an integer tensor, or a float tensor with
/// a normalisation not yet applied (a fused convolution's output, which the next convolution may
/// apply as it reads it: `PendingNormalization`); every other reader sees it applied.
public enum GraphValue: Sendable {
    case float(Tensor)
    case int(IntTensor)
    case pending(Tensor, PendingNormalization)

    public var shape: [Int] {
        switch self {
        case let .float(t), let .pending(t, _): return t.shape
        case let .int(t): return t.shape
        }
    }

    public var count: Int { shape.reduce(1, *) }

    /// The values as floats (integers converted).
    public var tensor: Tensor {
        switch self {
        case let .float(t): return t
        case let .int(t): return Tensor(shape: t.shape, storage: t.values.map { Float($0) })
        case let .pending(t, p):
            var x = t
            p.apply(to: &x)
            return x
        }
    }

    /// The values as integers (floats truncated toward zero, clamped to Int's range; NaN is 0).
    public var ints: IntTensor {
        switch self {
        case let .int(t): return t
        case .float, .pending: return IntTensor(shape: shape, values: tensor.storage.map(clampedInt))
        }
    }

    /// The float tensor, consuming this value: a pending normalisation is applied in place when
    /// nothing else holds the storage.
    consuming func takeTensor() -> Tensor {
        switch self {
        case var .pending(t, p):
            self = .float(Tensor(shape: [0]))
            p.apply(to: &t)
            return t
        default: return tensor
        }
    }

    public var isInt: Bool { if case .int = self { return true } else { return false } }
}

/// `v` truncated toward zero, clamped to Int's range (NaN → 0).
func clampedInt(_ v: Float) -> Int {
    guard v.isFinite else { return v.isNaN ? 0 : (v > 0 ? Int.max : Int.min) }
    if v >= 9.2e18 { return Int.max }
    if v <= -9.2e18 { return Int.min }
    return Int(v)
}
