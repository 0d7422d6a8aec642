import MedVoxTensor

/// A network as a dataflow graph of operators, the form imported models take (ONNX is lowered into
/// it): named values, each produced once, by a graph input, a constant or a node's output, and
/// nodes in topological order. Operators and their attributes follow ONNX's definitions (opsets
/// 13–21), so an imported graph runs as its authors' runtime ran it; `GraphExecutor` runs it on the
/// MedVox engine.
///
/// The graph is Codable: a card's graph file is this JSON, with float constants (the weights) in a
/// safetensors file by name and integer constants (shape arithmetic) inline.
///
/// ```swift
/// let g = Graph(inputs: [GraphInput(name: "x", shape: [1, 1, nil, nil, nil])], outputs: ["y"],
///               nodes: [GraphNode(op: "Relu", inputs: ["x"], outputs: ["y"])])
/// let y = try GraphExecutor(graph: g, weights: [:]).run([x])[0]
/// ```
public struct Graph: Codable, Sendable, Equatable {
    /// The values the caller feeds, in order.
    public var inputs: [GraphInput]
    /// The values `run` returns, in order.
    public var outputs: [String]
    /// Operators in topological order (every input is produced before it is read).
    public var nodes: [GraphNode]
    /// Integer constants (int64, int32 or bool tensors in the source model), inline. Float
    /// constants live in the weights by name.
    public var integerConstants: [GraphIntegerConstant]

    public init(inputs: [GraphInput], outputs: [String], nodes: [GraphNode], integerConstants: [GraphIntegerConstant] = []) {
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = nodes
        self.integerConstants = integerConstants
    }
}

/// A graph input: its name and shape, each axis a fixed size or nil for a size given at run time.
public struct GraphInput: Codable, Sendable, Equatable {
    public var name: String
    /// Sizes per axis; nil where the axis is dynamic. nil as a whole when the rank is unknown.
    public var shape: [Int?]?
    public init(name: String, shape: [Int?]?) {
        self.name = name
        self.shape = shape
    }
}

/// An integer tensor known when the graph is built: shapes, axes, indices.
public struct GraphIntegerConstant: Codable, Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Int]
    public init(name: String, shape: [Int], values: [Int]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// One operator application. `inputs` may hold "" for an omitted optional input (ONNX's convention).
public struct GraphNode: Codable, Sendable, Equatable {
    /// A name for messages (the source model's node name, or the op and its first output).
    public var name: String
    /// The ONNX operator type, e.g. "Conv", or an internal fused operator (`GraphOp.fused…`).
    public var op: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: GraphAttribute]

    public init(name: String = "", op: String, inputs: [String], outputs: [String], attributes: [String: GraphAttribute] = [:]) {
        self.name = name.isEmpty ? "\(op)(\(outputs.first ?? ""))" : name
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// Input `i`, nil when absent or omitted ("").
    public func input(_ i: Int) -> String? { i < inputs.count && !inputs[i].isEmpty ? inputs[i] : nil }

    public func int(_ name: String) -> Int? { attributes[name]?.int }
    public func int(_ name: String, default d: Int) -> Int { attributes[name]?.int ?? d }
    public func float(_ name: String, default d: Float) -> Float { attributes[name]?.float ?? d }
    public func ints(_ name: String) -> [Int]? { attributes[name]?.ints }
    public func floats(_ name: String) -> [Float]? { attributes[name]?.floats }
    public func string(_ name: String, default d: String) -> String { attributes[name]?.string ?? d }
}

/// An attribute value: exactly one field is set. Tensors (a Constant's value, ConstantOfShape's
/// fill) are held as a float or integer list with a shape.
public struct GraphAttribute: Codable, Sendable, Equatable {
    public var int: Int?
    public var float: Float?
    public var ints: [Int]?
    public var floats: [Float]?
    public var string: String?
    /// A tensor attribute's shape (with `ints` or `floats` holding its values).
    public var tensorShape: [Int]?

    public init(int: Int) { self.int = int }
    public init(float: Float) { self.float = float }
    public init(ints: [Int]) { self.ints = ints }
    public init(floats: [Float]) { self.floats = floats }
    public init(string: String) { self.string = string }
    /// A tensor attribute of floats or of integers.
    public init(tensorShape: [Int], floats: [Float]? = nil, ints: [Int]? = nil) {
        self.tensorShape = tensorShape
        self.floats = floats
        self.ints = ints
    }

    /// The tensor of a tensor attribute.
    var value: GraphValue? {
        guard let s = tensorShape else { return nil }
        if let f = floats { return .float(Tensor(shape: s, storage: f)) }
        if let i = ints { return .int(IntTensor(shape: s, values: i)) }
        return nil
    }
}
