/// AttributeProto: a named constant parameter of a node (kernel_shape, epsilon, a Constant's value …).
public struct ONNXAttribute: Sendable {
    /// AttributeProto.AttributeType codes (field 20).
    public enum Kind: Int32, Sendable {
        case undefined = 0, float = 1, int = 2, string = 3, tensor = 4, graph = 5, floats = 6, ints = 7,
            strings = 8, tensors = 9, graphs = 10, sparseTensor = 11, sparseTensors = 12, typeProto = 13,
            typeProtos = 14
    }

    /// The value, by kind. Graphs (If, Loop, Scan bodies), sparse tensors, type protos and
    /// references to a function's attributes are not decoded: they are kept as `unsupported`
    /// with what they were, so that an importer can list them by node and attribute name.
    public enum Value: Sendable {
        case float(Float)
        case int(Int64)
        case string([UInt8])
        case tensor(ONNXTensor)
        case floats([Float])
        case ints([Int64])
        case strings([[UInt8]])
        case tensors([ONNXTensor])
        case unsupported(String)
    }

    /// AttributeProto.name (1).
    public var name = ""
    /// AttributeProto.type (20); inferred from the field present when a pre-IR-2 file omits it.
    public var kind = Kind.undefined
    public var value = Value.unsupported("no value")

    init(_ r: inout ProtobufReader, folder: String) throws {
        var typeCode: Int32?
        var f: Float = 0, i: Int64 = 0
        var s: [UInt8] = [], t: ONNXTensor?
        var floats: [Float] = [], ints: [Int64] = [], strings: [[UInt8]] = [], tensors: [ONNXTensor] = []
        var present = Set<Int>()
        var reference = ""
        while let (field, wire) = try r.nextField() {
            present.insert(field)
            switch field {
            case 1: name = try r.string(wire)
            case 2: f = try r.float(wire)
            case 3: i = try r.int64(wire)
            case 4: s = try r.data(wire)
            case 5:
                var m = try r.message(wire, context: "t")
                t = try ONNXTensor(&m, folder: folder)
            case 7: try r.repeated(wire, scalar: .fixed32, into: &floats) { try $0.float($1) }
            case 8: try r.repeated(wire, scalar: .varint, into: &ints) { try $0.int64($1) }
            case 9: strings.append(try r.data(wire))
            case 10:
                var m = try r.message(wire, context: "tensors[\(tensors.count)]")
                tensors.append(try ONNXTensor(&m, folder: folder))
            case 20: typeCode = try r.int32(wire)
            case 21: reference = try r.string(wire)
            default: try r.skip(wire)  // g (6), graphs (11), sparse (22, 23), type protos (14, 15), doc (13)
            }
        }
        guard !name.isEmpty else { throw r.error("attribute without a name") }
        if let code = typeCode {
            guard let k = Kind(rawValue: code) else { throw r.error("attribute '\(name)' has unknown type \(code)") }
            kind = k
        } else {
            let inferred: [(Int, Kind)] = [
                (2, .float), (3, .int), (4, .string), (5, .tensor), (6, .graph), (7, .floats), (8, .ints),
                (9, .strings), (10, .tensors), (11, .graphs), (22, .sparseTensor), (23, .sparseTensors),
                (14, .typeProto), (15, .typeProtos),
            ]
            kind = inferred.first { present.contains($0.0) }?.1 ?? .undefined
        }
        if !reference.isEmpty {
            value = .unsupported("reference to function attribute '\(reference)'")
            return
        }
        switch kind {
        case .float: value = .float(f)
        case .int: value = .int(i)
        case .string: value = .string(s)
        case .tensor:
            guard let t else { throw r.error("tensor attribute '\(name)' has no tensor") }
            value = .tensor(t)
        case .floats: value = .floats(floats)
        case .ints: value = .ints(ints)
        case .strings: value = .strings(strings)
        case .tensors: value = .tensors(tensors)
        case .undefined: throw r.error("attribute '\(name)' has no type")
        case .graph, .graphs, .sparseTensor, .sparseTensors, .typeProto, .typeProtos:
            value = .unsupported(String(describing: kind).uppercased())
        }
    }

    /// The value of an INT attribute, nil for another kind.
    public var int: Int64? { if case let .int(v) = value { return v } else { return nil } }
    /// The value of a FLOAT attribute, nil for another kind.
    public var float: Float? { if case let .float(v) = value { return v } else { return nil } }
    /// The values of an INTS attribute, nil for another kind.
    public var ints: [Int64]? { if case let .ints(v) = value { return v } else { return nil } }
    /// The values of a FLOATS attribute, nil for another kind.
    public var floats: [Float]? { if case let .floats(v) = value { return v } else { return nil } }
    /// The UTF-8 text of a STRING attribute, nil for another kind.
    public var string: String? { if case let .string(v) = value { return String(decoding: v, as: UTF8.self) } else { return nil } }
    /// The tensor of a TENSOR attribute, nil for another kind.
    public var tensor: ONNXTensor? { if case let .tensor(v) = value { return v } else { return nil } }
}
