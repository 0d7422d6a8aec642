import MedVoxCore

/// An ONNX model file as decoded from its protobuf bytes (`onnx/onnx.proto`, ModelProto): the
/// graph, its operator sets and metadata. Decoding reads values and never runs anything from the
/// file; fields MedVox has no use for (doc strings, training info, device configurations) are
/// skipped, and the presence of local functions is recorded so that an importer can refuse them.
///
/// ```swift
/// let model = try ONNXModel.load(path: "unet.onnx")
/// print(try model.summary())
/// let w = try model.graph.initializers[0].floats()
/// ```
public struct ONNXModel: Sendable {
    /// ModelProto.ir_version (1): the file format version (10 for opset 21).
    public var irVersion: Int64 = 0
    /// ModelProto.opset_import (8): operator set versions per domain ("" is the default domain).
    public var opsetImports: [ONNXOperatorSet] = []
    /// ModelProto.producer_name (2), producer_version (3), domain (4), model_version (5).
    public var producerName = "", producerVersion = "", domain = ""
    public var modelVersion: Int64 = 0
    /// ModelProto.graph (7).
    public var graph = ONNXGraph()
    /// ModelProto.metadata_props (14), in file order.
    public var metadata: [ONNXKeyValue] = []
    /// Number of ModelProto.functions (25): model-local functions, which an importer must expand or refuse.
    public var functionCount = 0
    /// The file the model came from ("" when decoded from bytes without a path).
    public var path = ""

    public init() {}

    /// The version of the default ("" or "ai.onnx") operator set, if imported.
    public var defaultOpset: Int64? {
        opsetImports.first { $0.domain == "" || $0.domain == "ai.onnx" }?.version
    }

    /// Reads and decodes an ONNX file. Tensors with external data keep their locations, resolved
    /// against the file's folder when their values are asked for.
    public static func load(path: String) throws -> ONNXModel {
        let size = try fileSize(path)
        if size > Runtime.maxMemory { throw FileError.tooLarge(path: path, bytes: size, limit: Runtime.maxMemory) }
        return try decode(try readWholeFile(path), path: path)
    }

    /// Decodes the bytes of an ONNX file; `path` names it in errors and locates external data.
    public static func decode(_ bytes: [UInt8], path: String) throws -> ONNXModel {
        var r = ProtobufReader(bytes, path: path, context: "ModelProto")
        let folder = ONNXModel.folder(of: path)
        var m = ONNXModel()
        m.path = path
        var sawGraph = false
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: m.irVersion = try r.int64(wire)
            case 2: m.producerName = try r.string(wire)
            case 3: m.producerVersion = try r.string(wire)
            case 4: m.domain = try r.string(wire)
            case 5: m.modelVersion = try r.int64(wire)
            case 7:
                var g = try r.message(wire, context: "graph")
                m.graph = try ONNXGraph(&g, folder: folder)
                sawGraph = true
            case 8:
                var o = try r.message(wire, context: "opset_import[\(m.opsetImports.count)]")
                m.opsetImports.append(try ONNXOperatorSet(&o))
            case 14:
                var e = try r.message(wire, context: "metadata_props[\(m.metadata.count)]")
                m.metadata.append(try ONNXKeyValue(&e))
            case 25:
                _ = try r.lengthDelimited(wire)
                m.functionCount += 1
            default: try r.skip(wire)
            }
        }
        guard sawGraph else { throw r.error("the model has no graph (ModelProto field 7)") }
        guard m.irVersion >= 1 else { throw r.error("ir_version \(m.irVersion) is missing or not positive") }
        guard !m.opsetImports.isEmpty else { throw r.error("the model imports no operator set (opset_import)") }
        return m
    }

    /// The folder of `path` ("." for a bare file name), against which external data is resolved.
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// OperatorSetIdProto: domain (1) and version (2).
public struct ONNXOperatorSet: Sendable, Equatable {
    public var domain = ""
    public var version: Int64 = 0

    init(_ r: inout ProtobufReader) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: domain = try r.string(wire)
            case 2: version = try r.int64(wire)
            default: try r.skip(wire)
            }
        }
    }
}

/// StringStringEntryProto: key (1) and value (2).
public struct ONNXKeyValue: Sendable, Equatable {
    public var key = ""
    public var value = ""

    init(_ r: inout ProtobufReader) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: key = try r.string(wire)
            case 2: value = try r.string(wire)
            default: try r.skip(wire)
            }
        }
    }
}

/// GraphProto: nodes in topological order, weights (initializers), and the typed inputs and outputs.
public struct ONNXGraph: Sendable {
    /// GraphProto.name (2).
    public var name = ""
    /// GraphProto.node (1).
    public var nodes: [ONNXNode] = []
    /// GraphProto.initializer (5): constant tensors, usually the weights.
    public var initializers: [ONNXTensor] = []
    /// Number of GraphProto.sparse_initializer (15), which MedVox does not decode.
    public var sparseInitializerCount = 0
    /// GraphProto.input (11): may also list initializers (IR < 4 does so for every weight).
    public var inputs: [ONNXValueInfo] = []
    /// GraphProto.output (12).
    public var outputs: [ONNXValueInfo] = []
    /// GraphProto.value_info (13): types of intermediate values, when the producer recorded them.
    public var valueInfo: [ONNXValueInfo] = []

    public init() {}

    init(_ r: inout ProtobufReader, folder: String) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1:
                var n = try r.message(wire, context: "node[\(nodes.count)]")
                nodes.append(try ONNXNode(&n, folder: folder))
            case 2: name = try r.string(wire)
            case 5:
                var t = try r.message(wire, context: "initializer[\(initializers.count)]")
                initializers.append(try ONNXTensor(&t, folder: folder))
            case 11:
                var v = try r.message(wire, context: "input[\(inputs.count)]")
                inputs.append(try ONNXValueInfo(&v))
            case 12:
                var v = try r.message(wire, context: "output[\(outputs.count)]")
                outputs.append(try ONNXValueInfo(&v))
            case 13:
                var v = try r.message(wire, context: "value_info[\(valueInfo.count)]")
                valueInfo.append(try ONNXValueInfo(&v))
            case 15:
                _ = try r.lengthDelimited(wire)
                sparseInitializerCount += 1
            default: try r.skip(wire)
            }
        }
    }

    /// The graph inputs that are not initializers: what the caller feeds.
    public var runtimeInputs: [ONNXValueInfo] {
        let weights = Set(initializers.map(\.name))
        return inputs.filter { !weights.contains($0.name) }
    }
}

/// NodeProto: one operator application.
public struct ONNXNode: Sendable {
    /// NodeProto.input (1): value names; "" marks an omitted optional input.
    public var inputs: [String] = []
    /// NodeProto.output (2).
    public var outputs: [String] = []
    /// NodeProto.name (3), op_type (4), domain (7; "" is the default ONNX domain).
    public var name = "", opType = "", domain = ""
    /// NodeProto.attribute (5).
    public var attributes: [ONNXAttribute] = []

    init(_ r: inout ProtobufReader, folder: String) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: inputs.append(try r.string(wire))
            case 2: outputs.append(try r.string(wire))
            case 3: name = try r.string(wire)
            case 4: opType = try r.string(wire)
            case 5:
                var a = try r.message(wire, context: "attribute[\(attributes.count)]")
                attributes.append(try ONNXAttribute(&a, folder: folder))
            case 7: domain = try r.string(wire)
            default: try r.skip(wire)
            }
        }
        guard !opType.isEmpty else { throw r.error("node '\(name)' has no op_type") }
    }

    /// The attribute called `name`, if present.
    public func attribute(_ name: String) -> ONNXAttribute? { attributes.first { $0.name == name } }
}

/// ValueInfoProto: name (1) and type (2).
public struct ONNXValueInfo: Sendable {
    public var name = ""
    /// nil when the producer left the type out.
    public var type: ONNXType?

    init(_ r: inout ProtobufReader) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: name = try r.string(wire)
            case 2:
                var t = try r.message(wire, context: "type")
                type = try ONNXType(&t)
            default: try r.skip(wire)
            }
        }
    }
}

/// TypeProto: a tensor type (elem_type and shape), or a container of types MedVox records but
/// does not run (sequence, optional, map), or another kind named by `other`.
public indirect enum ONNXType: Sendable, Equatable {
    /// TypeProto.tensor_type (1): element type (TensorProto.DataType) and shape; a nil shape
    /// means the rank is unknown.
    case tensor(elementType: ONNXDataType, shape: [ONNXDimension]?)
    /// TypeProto.sequence_type (4).
    case sequence(ONNXType?)
    /// TypeProto.optional_type (9).
    case optional(ONNXType?)
    /// TypeProto.map_type (5): key element type and value type.
    case map(key: ONNXDataType, value: ONNXType?)
    /// Sparse tensor (8), opaque (7) or no value: the kind's name.
    case other(String)

    init(_ r: inout ProtobufReader) throws {
        var result = ONNXType.other("unset")
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1:
                var t = try r.message(wire, context: "tensor_type")
                var element = ONNXDataType(rawValue: 0)
                var shape: [ONNXDimension]?
                while let (f, w) = try t.nextField() {
                    switch f {
                    case 1: element = ONNXDataType(rawValue: try t.int32(w))
                    case 2:
                        var s = try t.message(w, context: "shape")
                        shape = try ONNXDimension.shape(&s)
                    default: try t.skip(w)
                    }
                }
                result = .tensor(elementType: element, shape: shape)
            case 4, 9:
                var c = try r.message(wire, context: field == 4 ? "sequence_type" : "optional_type")
                var inner: ONNXType?
                while let (f, w) = try c.nextField() {
                    if f == 1 {
                        var e = try c.message(w, context: "elem_type")
                        inner = try ONNXType(&e)
                    } else {
                        try c.skip(w)
                    }
                }
                result = field == 4 ? .sequence(inner) : .optional(inner)
            case 5:
                var c = try r.message(wire, context: "map_type")
                var key = ONNXDataType(rawValue: 0)
                var value: ONNXType?
                while let (f, w) = try c.nextField() {
                    switch f {
                    case 1: key = ONNXDataType(rawValue: try c.int32(w))
                    case 2:
                        var e = try c.message(w, context: "value_type")
                        value = try ONNXType(&e)
                    default: try c.skip(w)
                    }
                }
                result = .map(key: key, value: value)
            case 7, 8:
                _ = try r.lengthDelimited(wire)
                result = .other(field == 7 ? "opaque" : "sparse_tensor")
            default: try r.skip(wire)
            }
        }
        self = result
    }
}

/// TensorShapeProto.Dimension: a fixed size (dim_value, 1), a named symbolic size (dim_param, 2,
/// e.g. "batch"), or neither.
public enum ONNXDimension: Sendable, Equatable, CustomStringConvertible {
    case value(Int64)
    case param(String)
    case unknown

    /// TensorShapeProto: its repeated dim (1).
    static func shape(_ r: inout ProtobufReader) throws -> [ONNXDimension] {
        var dims: [ONNXDimension] = []
        while let (field, wire) = try r.nextField() {
            guard field == 1 else {
                try r.skip(wire)
                continue
            }
            var d = try r.message(wire, context: "dim[\(dims.count)]")
            var dim = ONNXDimension.unknown
            while let (f, w) = try d.nextField() {
                switch f {
                case 1: dim = .value(try d.int64(w))
                case 2: dim = .param(try d.string(w))
                default: try d.skip(w)
                }
            }
            dims.append(dim)
        }
        return dims
    }

    public var description: String {
        switch self {
        case let .value(v): return String(v)
        case let .param(p): return p
        case .unknown: return "?"
        }
    }
}
