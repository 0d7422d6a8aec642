/// The errors MedVox reports to users conform to this: a one-line message that names the file
/// and says what is wrong and what was expected. The CLI prints `description` and exits 1.
public protocol MedVoxError: Error, CustomStringConvertible {}

/// Errors from writing outputs and other file-system work.
public enum FileError: MedVoxError {
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case wouldOverwriteInput(path: String)
    case tooLarge(path: String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): return "\(path): cannot read: \(reason)"
        case let .cannotWrite(path, reason): return "\(path): cannot write: \(reason)"
        case let .wouldOverwriteInput(path): return "\(path): refusing to overwrite the input file"
        case let .tooLarge(path, bytes, limit):
            return "\(path): needs \(bytes) bytes, more than the limit of \(limit) bytes"
        }
    }
}
