import MedVoxCore
import MedVoxNN
import MedVoxTensor

/// An ONNX model lowered into MedVox's graph: the graph (nodes, integer constants, inputs and
/// outputs) and its float constants (the weights) by name.
public struct ImportedGraph: Sendable {
    public var graph: Graph
    public var weights: [String: Tensor]
}

extension ImportedGraph {
    /// The operator sets whose definitions the executor follows.
    public static let opsets: ClosedRange<Int64> = 13...21

    /// Lowers `model`: initializers and Constant nodes become constants (float → weights, integer
    /// and bool → inline integer constants), every other node a graph node with its attributes.
    /// Refuses, listing every item at once (`UnsupportedModelError`): an opset outside 13–21,
    /// operators of other domains or not run by the executor, attributes (or values of them) it
    /// does not read, non-float graph inputs.
    public init(onnx model: ONNXModel) throws {
        var problems: [String] = []
        let opset = model.defaultOpset ?? 0
        if !Self.opsets.contains(opset) {
            problems.append("opset \(opset) (supported: \(Self.opsets.lowerBound)–\(Self.opsets.upperBound); re-export with torch.onnx.export(..., opset_version=17))")
        }
        var weights: [String: Tensor] = [:]
        var ints: [GraphIntegerConstant] = []
        func addConstant(_ t: ONNXTensor, as name: String) throws {
            let shape = try t.shape()
            switch t.dataType {
            case .float, .float16, .bfloat16, .double:
                weights[name] = Tensor(shape: shape, storage: try t.floats())
            default:
                let v = try t.int64s()
                ints.append(GraphIntegerConstant(name: name, shape: shape, values: v.map { Int($0) }))
            }
        }
        for t in model.graph.initializers { try addConstant(t, as: t.name) }
        var nodes: [GraphNode] = []
        for (k, n) in model.graph.nodes.enumerated() {
            let name = n.name.isEmpty ? "\(n.opType)_\(k)" : n.name
            guard n.domain.isEmpty || n.domain == "ai.onnx" else {
                problems.append("node '\(name)': op \(n.domain).\(n.opType)")
                continue
            }
            if n.opType == "Constant", n.outputs.count == 1 {
                if let a = n.attributes.first, n.attributes.count == 1 {
                    switch (a.name, a.value) {
                    case let ("value", .tensor(t)): try addConstant(t, as: n.outputs[0]); continue
                    case let ("value_float", .float(f)): weights[n.outputs[0]] = Tensor(shape: [], storage: [f]); continue
                    case let ("value_floats", .floats(f)): weights[n.outputs[0]] = Tensor(shape: [f.count], storage: f); continue
                    case let ("value_int", .int(i)): ints.append(GraphIntegerConstant(name: n.outputs[0], shape: [], values: [Int(i)])); continue
                    case let ("value_ints", .ints(i)):
                        ints.append(GraphIntegerConstant(name: n.outputs[0], shape: [i.count], values: i.map { Int($0) }))
                        continue
                    default: break
                    }
                }
                problems.append("node '\(name)' (Constant): value of kind \(n.attributes.map(\.name).joined(separator: ", "))")
                continue
            }
            var attributes: [String: GraphAttribute] = [:]
            for a in n.attributes {
                switch a.value {
                case let .int(v): attributes[a.name] = GraphAttribute(int: Int(clamping: v))
                case let .float(v): attributes[a.name] = GraphAttribute(float: v)
                case let .ints(v): attributes[a.name] = GraphAttribute(ints: v.map { Int(clamping: $0) })
                case let .floats(v): attributes[a.name] = GraphAttribute(floats: v)
                case let .string(v): attributes[a.name] = GraphAttribute(string: String(decoding: v, as: UTF8.self))
                case let .tensor(t):
                    let shape = try t.shape()
                    switch t.dataType {
                    case .float, .float16, .bfloat16, .double: attributes[a.name] = GraphAttribute(tensorShape: shape, floats: try t.floats())
                    default: attributes[a.name] = GraphAttribute(tensorShape: shape, ints: try t.int64s().map { Int($0) })
                    }
                case .strings, .tensors, .unsupported:
                    problems.append("node '\(name)' (\(n.opType)): attribute \(a.name) of kind \(a.kind)")
                }
            }
            nodes.append(GraphNode(name: name, op: n.opType, inputs: n.inputs, outputs: n.outputs, attributes: attributes))
        }
        var inputs: [GraphInput] = []
        for v in model.graph.runtimeInputs {
            guard case let .tensor(element, shape)? = v.type else {
                problems.append("input '\(v.name)': not a tensor")
                continue
            }
            if element != .float { problems.append("input '\(v.name)': element type \(element) (supported: float)") }
            inputs.append(GraphInput(name: v.name, shape: shape.map { dims in
                dims.map { d -> Int? in if case let .value(x) = d, x > 0, x < 1 << 30 { return Int(x) } else { return nil } }
            }))
        }
        let graph = Graph(inputs: inputs, outputs: model.graph.outputs.map(\.name), nodes: nodes, integerConstants: ints)
        problems += graph.unsupportedFeatures()
        guard problems.isEmpty else { throw UnsupportedModelError(path: model.path, items: problems) }
        self.graph = graph
        self.weights = weights
    }

    /// Reads and lowers an ONNX file.
    public static func load(path: String) throws -> ImportedGraph {
        try ImportedGraph(onnx: try ONNXModel.load(path: path))
    }
}
