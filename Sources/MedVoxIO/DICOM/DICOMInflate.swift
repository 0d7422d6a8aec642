import MedVoxCore

/// Deflated Explicit VR Little Endian (PS3.5 §A.5): the data set after the file meta
/// information is one raw deflate stream (RFC 1951). Inflated by the shared zlib code, with the
/// output capped at `Runtime.maxMemory` and at a ratio no real data set reaches.
enum DICOMInflate {
    /// Images deflate 2–10:1, padded or blank ones a few tens; a data set expanding more than
    /// this (beyond the floor below) is treated as a decompression bomb.
    static let maxRatio = 256
    static let ratioFloor = 32 << 20

    static func raw(_ input: [UInt8], path: String, at offset: Int) throws -> [UInt8] {
        let (scaled, overflow) = input.count.multipliedReportingOverflow(by: maxRatio)
        let ratioCap = overflow ? Int.max : max(ratioFloor, scaled)
        do {
            return try Inflate.raw(input, maxOutput: min(Runtime.maxMemory, ratioCap), source: path)
        } catch CompressionError.outputTooLarge where ratioCap < Runtime.maxMemory {
            throw DICOMError.malformed(
                path: path, offset: offset,
                reason: "deflated data set of \(input.count) bytes expands beyond \(ratioCap) bytes "
                    + "(more than \(maxRatio):1; a decompression bomb?)")
        }
    }
}
