import CZlib
import Foundation
import MedVoxCore

// TEMPORARY: raw inflate for Deflated Explicit VR Little Endian until the shared gzip code
// (`Inflate.raw`, branch nifti) lands; then this forwards to it and stops importing CZlib.
enum DICOMInflate {
    /// Inflates a raw deflate stream (RFC 1951, no zlib/gzip wrapper) as PS3.5 §A.5 specifies,
    /// refusing output beyond `Runtime.maxMemory`.
    static func raw(_ input: [UInt8], path: String) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DICOMError.malformed(path: path, offset: 0, reason: "cannot start inflate")
        }
        defer { inflateEnd(&stream) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var input = input
        let limit = Runtime.maxMemory
        return try input.withUnsafeMutableBufferPointer { inp in
            stream.next_in = inp.baseAddress
            stream.avail_in = uInt(inp.count)
            while true {
                let rc = chunk.withUnsafeMutableBufferPointer { c -> Int32 in
                    stream.next_out = c.baseAddress
                    stream.avail_out = uInt(c.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                out.append(contentsOf: chunk[0..<produced])
                if out.count > limit { throw DICOMError.tooLarge(path: path, bytes: out.count, limit: limit) }
                if rc == Z_STREAM_END { return out }
                if rc == Z_BUF_ERROR && stream.avail_in == 0 {
                    throw DICOMError.truncated(path: path, offset: inp.count, detail: "deflated data set ends early")
                }
                guard rc == Z_OK else {
                    throw DICOMError.malformed(path: path, offset: Int(stream.total_in), reason: "deflate stream is corrupt")
                }
            }
        }
    }
}
