import MedVoxCore

/// Deflated Explicit VR Little Endian (PS3.5 §A.5): the data set after the file meta
/// information is one raw deflate stream (RFC 1951). Inflated by the shared zlib code, with the
/// output capped at `Runtime.maxMemory`.
enum DICOMInflate {
    static func raw(_ input: [UInt8], path: String) throws -> [UInt8] {
        try Inflate.raw(input, maxOutput: Runtime.maxMemory, source: path)
    }
}
