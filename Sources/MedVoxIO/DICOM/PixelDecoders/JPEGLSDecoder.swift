import CCharLS

/// JPEG-LS Lossless (1.2.840.10008.1.2.4.80) and Near-Lossless (1.2.840.10008.1.2.4.81),
/// ITU-T T.87 (ISO/IEC 14495-1), through CharLS (libcharls).
///
/// All interleave modes; uninterleaved (planar) colour output is interleaved here, and CharLS
/// undoes the HP colour transforms. The decode of a near-lossless stream is fully determined by
/// the standard, so it equals dcmtk's `dcmdjpls`.
public enum JPEGLSDecoder: PixelDecoder {
    public static let transferSyntaxUIDs = [EncapsulatedTransferSyntax.jpegLSLossless,
                                            EncapsulatedTransferSyntax.jpegLSNearLossless]
    static let codec = "JPEG-LS"

    public static func decode(_ frame: [UInt8], info: PixelFrameInfo) throws -> DecodedFrame {
        try info.validate(codec: codec)
        guard !frame.isEmpty else { throw PixelDecodingError.truncated(codec: codec, reason: "empty frame") }
        guard let decoder = charls_jpegls_decoder_create() else {
            throw PixelDecodingError.unsupported(codec: codec, reason: "CharLS could not create a decoder")
        }
        defer { charls_jpegls_decoder_destroy(decoder) }
        func check(_ e: charls_jpegls_errc, _ what: String) throws {
            guard e.rawValue == 0 else {
                let message = charls_get_error_message(e).map { String(cString: $0) } ?? "error \(e.rawValue)"
                throw PixelDecodingError.corrupt(codec: codec, reason: "CharLS \(what): \(message)")
            }
        }
        // CharLS 2.4 spends 10–20 s on a stream that simply stops (no EOI marker) even when tiny;
        // ending such a stream with an EOI makes it fail at once (or decode, if only EOI was missing).
        let stream = endsWithEOI(frame) ? frame : frame + [0xFF, 0xD9]
        return try stream.withUnsafeBytes { src in
            try check(charls_jpegls_decoder_set_source_buffer(decoder, src.baseAddress!, src.count), "source")
            try check(charls_jpegls_decoder_read_header(decoder), "header")
            var fi = charls_frame_info()
            try check(charls_jpegls_decoder_get_frame_info(decoder, &fi), "frame info")
            guard Int(fi.width) == info.columns else {
                throw PixelDecodingError.mismatch(codec: codec, field: "columns", expected: info.columns, actual: Int(fi.width))
            }
            guard Int(fi.height) == info.rows else {
                throw PixelDecodingError.mismatch(codec: codec, field: "rows", expected: info.rows, actual: Int(fi.height))
            }
            guard Int(fi.component_count) == info.samplesPerPixel else {
                throw PixelDecodingError.mismatch(codec: codec, field: "components", expected: info.samplesPerPixel, actual: Int(fi.component_count))
            }
            let bits = Int(fi.bits_per_sample)
            guard bits >= 2, bits <= 16, bits <= max(info.bitsAllocated, 8) else {
                throw PixelDecodingError.mismatch(codec: codec, field: "bits per sample", expected: info.bitsStored, actual: bits)
            }
            var mode = charls_interleave_mode(rawValue: 0)
            try check(charls_jpegls_decoder_get_interleave_mode(decoder, &mode), "interleave mode")
            let sampleBytes = bits > 8 ? 2 : 1
            let n = info.rows * info.columns * info.samplesPerPixel
            var size = 0
            try check(charls_jpegls_decoder_get_destination_size(decoder, 0, &size), "size")
            guard size == n * sampleBytes else {
                throw PixelDecodingError.corrupt(codec: codec, reason: "CharLS wants \(size) bytes for \(n) samples")
            }
            var raw = [UInt8](repeating: 0, count: size)
            try raw.withUnsafeMutableBytes { dst in
                try check(charls_jpegls_decoder_decode_to_buffer(decoder, dst.baseAddress!, dst.count, 0), "decode")
            }
            let planar = info.samplesPerPixel > 1 && mode.rawValue == CHARLS_INTERLEAVE_MODE_NONE.rawValue
            let bytes = pack(raw, sampleBytes: sampleBytes, planar: planar, info: info)
            return DecodedFrame(bytes: bytes, photometricInterpretation: info.photometricInterpretation)
        }
    }

    /// Whether the stream ends with FF D9, allowing the zero byte DICOM may pad a fragment with.
    static func endsWithEOI(_ s: [UInt8]) -> Bool {
        var end = s.count
        if end > 0, s[end - 1] == 0 { end -= 1 }
        return end >= 2 && s[end - 2] == 0xFF && s[end - 1] == 0xD9
    }

    /// CharLS output (1 or 2 bytes a sample, planar or interleaved) → the DecodedFrame layout.
    static func pack(_ raw: [UInt8], sampleBytes: Int, planar: Bool, info: PixelFrameInfo) -> [UInt8] {
        if !planar && sampleBytes == info.bytesPerSample {  // already in place: mask to BitsStored
            if info.bitsStored >= 8 * sampleBytes { return raw }
            var out = raw
            out.withUnsafeMutableBytes { o in
                if sampleBytes == 1 {
                    let mask = UInt8(truncatingIfNeeded: (1 << info.bitsStored) - 1)
                    for i in 0..<o.count { o[i] &= mask }
                } else {
                    let d = o.bindMemory(to: UInt16.self)
                    let mask = UInt16(truncatingIfNeeded: (1 << info.bitsStored) - 1).littleEndian
                    for i in 0..<d.count { d[i] &= mask }
                }
            }
            return out
        }
        let pixels = info.rows * info.columns, spp = info.samplesPerPixel
        var samples = [UInt16](repeating: 0, count: pixels * spp)
        raw.withUnsafeBytes { r in
            samples.withUnsafeMutableBufferPointer { s in
                for i in 0..<(pixels * spp) {
                    let v = sampleBytes == 1 ? UInt16(r[i]) : UInt16(r[2 * i]) | UInt16(r[2 * i + 1]) << 8
                    let dst = planar ? (i % pixels) * spp + i / pixels : i
                    s[dst] = v
                }
            }
        }
        return JPEGLosslessDecoder.pack(samples, info: info)
    }
}
