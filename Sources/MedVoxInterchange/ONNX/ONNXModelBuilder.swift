/// Builds an ONNX model (`onnx/onnx.proto`, ModelProto) of float32 tensors node by node and
/// encodes it with `ProtobufWriter`: the writing counterpart of `ONNXModel`.
///
/// Values are named by strings, as in ONNX: `initializer` adds a constant tensor (a weight),
/// `node` an operator application whose outputs later nodes may read. The graph's inputs and
/// outputs are float tensors whose dimensions are fixed sizes or named symbolic sizes
/// (`ONNXDimension.value` / `.param`). Weights go inline as `raw_data` (little-endian float32).
///
/// ```swift
/// var b = ONNXModelBuilder(graphName: "tiny")
/// b.addInput("x", [.param("batch"), .value(1), .param("i"), .param("j")])
/// let w = b.initializer("conv.weight", dims: [4, 1, 3, 3], values: weights)
/// let y = b.node("Conv", ["x", w], name: "conv", attributes: [.ints("pads", [1, 1, 1, 1])])
/// b.addOutput(y, [.param("batch"), .value(4), .param("i"), .param("j")])
/// let bytes = b.encoded()
/// ```
public struct ONNXModelBuilder {
    /// An attribute of a node (AttributeProto) of one of the kinds the builder writes.
    public enum Attribute: Sendable {
        case int(String, Int64)
        case float(String, Float)
        case ints(String, [Int64])
        case string(String, String)

        var name: String {
            switch self {
            case let .int(n, _), let .float(n, _), let .ints(n, _), let .string(n, _): return n
            }
        }

        var kind: ONNXAttribute.Kind {
            switch self {
            case .int: return .int
            case .float: return .float
            case .ints: return .ints
            case .string: return .string
            }
        }
    }

    struct Node {
        var opType: String, name: String
        var inputs: [String], outputs: [String]
        var attributes: [Attribute]
    }

    struct Initializer {
        var name: String
        var dims: [Int]
        var values: [Float]
    }

    /// ModelProto.ir_version (1); 8 goes with opset 17.
    public var irVersion: Int64
    /// The version of the default operator set imported (ModelProto.opset_import).
    public var opset: Int64
    /// ModelProto.producer_name (2) and producer_version (3).
    public var producerName: String, producerVersion: String
    /// GraphProto.name (2).
    public var graphName: String
    /// ModelProto.metadata_props (14), in order.
    public var metadata: [(key: String, value: String)] = []

    var nodes: [Node] = []
    var initializers: [Initializer] = []
    var inputs: [(String, [ONNXDimension])] = []
    var outputs: [(String, [ONNXDimension])] = []
    var usedNames = Set<String>()

    public init(graphName: String, opset: Int64 = 17, irVersion: Int64 = 8, producerName: String = "medvox",
                producerVersion: String = "")
    {
        self.graphName = graphName
        self.opset = opset
        self.irVersion = irVersion
        self.producerName = producerName
        self.producerVersion = producerVersion
    }

    /// A name not used yet: `base`, else `base_1`, `base_2` …
    mutating func unique(_ base: String) -> String {
        var name = base, k = 0
        while usedNames.contains(name) {
            k += 1
            name = "\(base)_\(k)"
        }
        usedNames.insert(name)
        return name
    }

    /// Declares a float graph input.
    public mutating func addInput(_ name: String, _ dims: [ONNXDimension]) {
        usedNames.insert(name)
        inputs.append((name, dims))
    }

    /// Declares the float value `name` a graph output.
    public mutating func addOutput(_ name: String, _ dims: [ONNXDimension]) { outputs.append((name, dims)) }

    /// Adds a float32 constant tensor of shape `dims` (row-major `values`) and returns its name
    /// (`name`, made unique).
    @discardableResult
    public mutating func initializer(_ name: String, dims: [Int], values: [Float]) -> String {
        precondition(dims.reduce(1, *) == values.count, "initializer \(name): \(values.count) values for shape \(dims)")
        let n = unique(name)
        initializers.append(Initializer(name: n, dims: dims, values: values))
        return n
    }

    /// Adds a node applying `opType` to `inputs` ("" for an omitted optional input) and returns
    /// the name of its one output, which is also the node's name (`name`, made unique).
    @discardableResult
    public mutating func node(_ opType: String, _ inputs: [String], name: String, attributes: [Attribute] = []) -> String {
        let n = unique(name)
        nodes.append(Node(opType: opType, name: n, inputs: inputs, outputs: [n], attributes: attributes))
        return n
    }

    /// The ModelProto bytes.
    public func encoded() -> [UInt8] {
        var m = ProtobufWriter()
        m.int64(1, irVersion)
        m.string(2, producerName)
        if !producerVersion.isEmpty { m.string(3, producerVersion) }
        m.message(7) { g in
            for n in nodes { g.message(1) { Self.write(n, into: &$0) } }
            g.string(2, graphName)
            for t in initializers { g.message(5) { Self.write(t, into: &$0) } }
            for (name, dims) in inputs { g.message(11) { Self.writeValueInfo(name, dims, into: &$0) } }
            for (name, dims) in outputs { g.message(12) { Self.writeValueInfo(name, dims, into: &$0) } }
        }
        m.message(8) { o in
            o.string(1, "")
            o.int64(2, opset)
        }
        for (key, value) in metadata {
            m.message(14) { e in
                e.string(1, key)
                e.string(2, value)
            }
        }
        return m.bytes
    }

    /// NodeProto: input (1), output (2), name (3), op_type (4), attribute (5).
    static func write(_ n: Node, into w: inout ProtobufWriter) {
        for i in n.inputs { w.string(1, i) }
        for o in n.outputs { w.string(2, o) }
        w.string(3, n.name)
        w.string(4, n.opType)
        for a in n.attributes { w.message(5) { write(a, into: &$0) } }
    }

    /// AttributeProto: name (1), f (2), i (3), s (4), ints (8), type (20).
    static func write(_ a: Attribute, into w: inout ProtobufWriter) {
        w.string(1, a.name)
        switch a {
        case let .float(_, f): w.float(2, f)
        case let .int(_, i): w.int64(3, i)
        case let .string(_, s): w.string(4, s)
        case let .ints(_, v): w.int64s(8, v)
        }
        w.int64(20, Int64(a.kind.rawValue))
    }

    /// TensorProto: dims (1), data_type (2), name (8), raw_data (9).
    static func write(_ t: Initializer, into w: inout ProtobufWriter) {
        w.int64s(1, t.dims.map(Int64.init))
        w.int64(2, Int64(ONNXDataType.float.rawValue))
        w.string(8, t.name)
        w.data(9, ProtobufWriter.littleEndianBytes(t.values))
    }

    /// ValueInfoProto: name (1), type (2) = TypeProto.tensor_type (1): elem_type (1), shape (2)
    /// of dims (1) each dim_value (1) or dim_param (2).
    static func writeValueInfo(_ name: String, _ dims: [ONNXDimension], into w: inout ProtobufWriter) {
        w.string(1, name)
        w.message(2) { type in
            type.message(1) { tensor in
                tensor.int64(1, Int64(ONNXDataType.float.rawValue))
                tensor.message(2) { shape in
                    for d in dims {
                        shape.message(1) { dim in
                            switch d {
                            case let .value(v): dim.int64(1, v)
                            case let .param(p): dim.string(2, p)
                            case .unknown: break
                            }
                        }
                    }
                }
            }
        }
    }
}
