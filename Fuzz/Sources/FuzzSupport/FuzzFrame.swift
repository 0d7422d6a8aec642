import MedVoxIO

/// A frame description from four fuzzer bytes: rows and columns 1...256, 8/12/16 bits,
/// 1 or 3 samples, signed or not, planar 0 or 1, one of the photometric interpretations.
public enum FuzzFrame {
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
