import MedVoxCore

/// Errors reading other ecosystems' model files (ONNX, …). Each case names the file and, where
/// the bytes are at fault, the byte offset and the field being read, so that one line on stderr
/// says where and why the file was refused.
public enum ModelFormatError: MedVoxError, Equatable {
    /// The bytes do not follow the format: `offset` is the byte where reading stopped, `context`
    /// the field path being decoded (e.g. `ModelProto.graph.node[3].attribute[0]`).
    case malformed(path: String, offset: Int, context: String, reason: String)
    /// Well-formed, but uses something MedVox does not read (a data type, a storage layout).
    case unsupported(path: String, context: String, reason: String)
    /// A tensor's declared shape and data disagree, or its shape cannot be held.
    case invalidTensor(path: String, tensor: String, reason: String)
    /// A tensor's external data file is missing, outside the model's folder, or of the wrong size.
    case externalData(path: String, tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .malformed(path, offset, context, reason):
            return "\(path): malformed model at byte \(offset) in \(context): \(reason)"
        case let .unsupported(path, context, reason):
            return "\(path): unsupported in \(context): \(reason)"
        case let .invalidTensor(path, tensor, reason):
            return "\(path): tensor '\(tensor)': \(reason)"
        case let .externalData(path, tensor, reason):
            return "\(path): external data of tensor '\(tensor)': \(reason)"
        }
    }
}

/// Operators or attributes of a model that MedVox does not run, each with its node name: an
/// import lists them all at once.
public struct UnsupportedModelError: MedVoxError, Equatable {
    public var path: String
    public var items: [String]
    public init(path: String, items: [String]) {
        self.path = path
        self.items = items
    }
    public var description: String { "\(path): unsupported: " + items.joined(separator: "; ") }
}
