/// An activation applied to the convolution's output in the same pass as the bias.
public enum FusedActivation: Sendable, Equatable {
    case none, relu
    /// `x < 0 ? slope * x : x`.
    case leakyReLU(Float)

    @inlinable public func apply(_ x: Float) -> Float {
        switch self {
        case .none: return x
        case .relu: return x > 0 ? x : 0
        case let .leakyReLU(a): return x < 0 ? a * x : x
        }
    }
}
