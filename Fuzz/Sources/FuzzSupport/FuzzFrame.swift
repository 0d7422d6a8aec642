import MedVoxIO

/// A frame description from four fuzzer bytes: rows and columns 1...256, 8/12/16 bits,
/// 1 or 3 samples, signed or not, planar 0 or 1, one of the photometric interpretations.
public enum FuzzFrame {
    /// The body of every pixel-decoder target: the first 4 bytes choose the frame description
    /// (size, bits, samples, sign, planar configuration) so that the decoder's checks against it
    /// are fuzzed too; the rest is one encapsulated frame. A success must have exactly
    /// `decodedByteCount` bytes.
    public static func decode(_ decoder: PixelDecoder.Type, _ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
        Fuzz.start()
        guard size >= 4 else { return 0 }
        let b = UnsafeBufferPointer(start: data, count: size)
        let info = info(b[0], b[1], b[2], b[3])
        Fuzz.expectCleanly {
            let out = try decoder.decode(Array(b[4...]), info: info)
            precondition(out.bytes.count == info.decodedByteCount, "decoded \(out.bytes.count) bytes, expected \(info.decodedByteCount)")
        }
        return 0
    }

    public static func info(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> PixelFrameInfo {
        let bits = [8, 12, 16, 16][Int(c & 3)]
        let samples = c & 4 == 0 ? 1 : 3
        let photometric = samples == 1
            ? (c & 8 == 0 ? "MONOCHROME2" : "MONOCHROME1")
            : ["RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "RGB", "RGB", "RGB"][Int(d & 7)]
        return PixelFrameInfo(
            rows: Int(a) + 1, columns: Int(b) + 1, samplesPerPixel: samples,
            bitsAllocated: bits == 8 ? 8 : 16, bitsStored: bits, isSigned: c & 16 != 0,
            planarConfiguration: Int((c >> 5) & 1), photometricInterpretation: photometric)
    }
}
