/// RLE Lossless (1.2.840.10008.1.2.5), DICOM PS3.5 Annex G.
///
/// A frame is a 64-byte header (segment count, then 15 little-endian UInt32 segment offsets)
/// followed by one PackBits-coded segment per byte plane: for each sample, its bytes from the
/// most significant to the least. Each segment decodes to rows × columns bytes.
public enum RLEDecoder: PixelDecoder {
    public static let transferSyntaxUIDs = [EncapsulatedTransferSyntax.rleLossless]
    static let codec = "RLE Lossless"

    public static func decode(_ frame: [UInt8], info: PixelFrameInfo) throws -> DecodedFrame {
        try info.validate(codec: codec)
        let bytesPerSample = info.bytesPerSample
        let planes = bytesPerSample * info.samplesPerPixel
        let pixels = info.rows * info.columns
        guard frame.count >= 64 else {
            throw PixelDecodingError.truncated(codec: codec, reason: "\(frame.count) bytes, shorter than the 64-byte RLE header")
        }
        func u32(_ at: Int) -> Int {
            Int(frame[at]) | Int(frame[at + 1]) << 8 | Int(frame[at + 2]) << 16 | Int(frame[at + 3]) << 24
        }
        let segmentCount = u32(0)
        guard segmentCount == planes else {
            throw PixelDecodingError.mismatch(codec: codec, field: "segment count", expected: planes, actual: segmentCount)
        }
        var offsets = (0..<segmentCount).map { u32(4 + 4 * $0) }
        offsets.append(frame.count)
        for i in 0..<segmentCount {
            guard offsets[i] >= 64, offsets[i] <= offsets[i + 1] || i == segmentCount - 1, offsets[i] <= frame.count else {
                throw PixelDecodingError.corrupt(codec: codec, reason: "segment \(i + 1) offset \(offsets[i]) is out of order or past the end (\(frame.count) bytes)")
            }
        }
        let count = info.decodedByteCount
        var out = [UInt8](repeating: 0, count: count)
        try frame.withUnsafeBufferPointer { src in
            try out.withUnsafeMutableBufferPointer { dst in
                for s in 0..<segmentCount {
                    // Segment s holds sample (s / bytesPerSample), byte (bytesPerSample - 1 - s % bytesPerSample).
                    let sample = s / bytesPerSample
                    let byte = bytesPerSample - 1 - s % bytesPerSample
                    let start = dst.baseAddress! + sample * bytesPerSample + byte
                    let stride = planes
                    try decodeSegment(src, from: offsets[s], to: max(offsets[s], offsets[s + 1]),
                                      into: start, stride: stride, count: pixels, segment: s + 1)
                }
            }
        }
        return DecodedFrame(bytes: out, photometricInterpretation: info.photometricInterpretation)
    }

    /// Decodes one PackBits segment into `count` bytes written `stride` apart.
    @inline(__always)
    static func decodeSegment(_ src: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                              into dst: UnsafeMutablePointer<UInt8>, stride: Int, count: Int, segment: Int) throws {
        var i = start
        var o = 0
        while o < count {
            guard i < end else {
                throw PixelDecodingError.truncated(codec: codec, reason: "segment \(segment) gives \(o) of \(count) bytes")
            }
            let n = Int(Int8(bitPattern: src[i]))
            i += 1
            if n >= 0 {
                let run = n + 1
                guard i + run <= end else {
                    throw PixelDecodingError.truncated(codec: codec, reason: "segment \(segment): literal run past the end of the segment")
                }
                let take = min(run, count - o)  // encoders may pad the last run; extra bytes are ignored
                for k in 0..<take { dst[(o + k) * stride] = src[i + k] }
                o += take
                i += run
            } else if n != -128 {
                let run = 1 - n
                guard i < end else {
                    throw PixelDecodingError.truncated(codec: codec, reason: "segment \(segment): replicate run without its byte")
                }
                let v = src[i]
                i += 1
                let take = min(run, count - o)
                for k in 0..<take { dst[(o + k) * stride] = v }
                o += take
            }
        }
    }
}
