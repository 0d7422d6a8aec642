import MedVoxCore

/// Errors in NIfTI files: the path and what is wrong, in words a user can act on.
public enum NIfTIError: MedVoxError {
    case notNIfTI(path: String, reason: String)
    case truncated(path: String, what: String, needed: Int, available: Int)
    case invalidHeader(path: String, reason: String)
    case unsupportedDatatype(path: String, code: Int)
    case tooLarge(path: String, bytes: Int, limit: Int)
    case missingDataFile(path: String, expected: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notNIfTI(path, reason): return "\(path): not a NIfTI file: \(reason)"
        case let .truncated(path, what, needed, available):
            return "\(path): truncated: the \(what) needs \(needed) bytes but only \(available) are there"
        case let .invalidHeader(path, reason): return "\(path): invalid NIfTI header: \(reason)"
        case let .unsupportedDatatype(path, code):
            return "\(path): unsupported NIfTI datatype \(NIfTIDatatype.name(code)); supported: "
                + "uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64, rgb24"
        case let .tooLarge(path, bytes, limit):
            return
                "\(path): the image needs \(bytes) bytes, more than the memory limit of \(limit) bytes (--max-memory)"
        case let .missingDataFile(path, expected): return "\(path): the voxel data file \(expected) is missing"
        case let .cannotWrite(path, reason): return "\(path): cannot write NIfTI: \(reason)"
        }
    }
}
