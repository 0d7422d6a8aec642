import MedVoxCore

/// Errors running a model on an input.
public enum InferenceError: MedVoxError {
    case wrongTask(model: String, expected: String)
    case channelMismatch(model: String, expected: Int, actual: Int)
    case tooLarge(what: String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case let .wrongTask(model, expected): return "model '\(model)' is not a \(expected) model"
        case let .channelMismatch(model, expected, actual):
            return "model '\(model)' expects \(expected) input channel(s) (frames), the input has \(actual)"
        case let .tooLarge(what, bytes, limit):
            return "\(what) needs about \(bytes / 1_048_576) MB, more than the memory limit of \(limit / 1_048_576) MB (--max-memory)"
        }
    }
}
