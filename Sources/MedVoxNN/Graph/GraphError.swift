import MedVoxCore

/// Errors building or running a graph: each names the node (or value) at fault and why, in terms
/// a model author recognises (ONNX operator names, shapes as NCHW/NCDHW lists).
public enum GraphError: MedVoxError, Equatable {
    /// The graph is not well formed (a value read before it is made, made twice, or missing).
    case invalidGraph(reason: String)
    /// A node cannot run on the values it got (shapes, ranks, attribute values).
    case node(name: String, op: String, reason: String)
    /// The inputs given to `run` do not match the graph's inputs.
    case input(reason: String)
    /// Operators or attributes this engine does not run, each with its node name.
    case unsupported(items: [String])

    public var description: String {
        switch self {
        case let .invalidGraph(reason): return "invalid graph: \(reason)"
        case let .node(name, op, reason): return "node '\(name)' (\(op)): \(reason)"
        case let .input(reason): return "network input: \(reason)"
        case let .unsupported(items): return "unsupported: " + items.joined(separator: "; ")
        }
    }
}
