import MedVoxCore

/// What a pixel decoder needs to know about one frame, taken from the dataset's Image Pixel
/// module (DICOM PS3.3 C.7.6.3).
public struct PixelFrameInfo: Sendable, Equatable {
    /// Rows (0028,0010) and Columns (0028,0011).
    public var rows: Int, columns: Int
    /// Samples per Pixel (0028,0002): 1 or 3.
    public var samplesPerPixel: Int
    /// Bits Allocated (0028,0100) and Bits Stored (0028,0101).
    public var bitsAllocated: Int, bitsStored: Int
    /// Pixel Representation (0028,0103) == 1.
    public var isSigned: Bool
    /// Planar Configuration (0028,0006) as declared in the dataset.
    public var planarConfiguration: Int
    /// Photometric Interpretation (0028,0004) as declared in the dataset.
    public var photometricInterpretation: String

    public init(rows: Int, columns: Int, samplesPerPixel: Int, bitsAllocated: Int, bitsStored: Int,
                isSigned: Bool, planarConfiguration: Int, photometricInterpretation: String) {
        self.rows = rows
        self.columns = columns
        self.samplesPerPixel = samplesPerPixel
        self.bitsAllocated = bitsAllocated
        self.bitsStored = bitsStored
        self.isSigned = isSigned
        self.planarConfiguration = planarConfiguration
        self.photometricInterpretation = photometricInterpretation
    }

    /// Bytes per sample in the decoded output: `bitsAllocated / 8` (1, 2 or 4).
    public var bytesPerSample: Int { max(1, bitsAllocated / 8) }
    /// rows × columns × samplesPerPixel.
    public var sampleCount: Int { rows * columns * samplesPerPixel }
    /// The size of the decoded frame in bytes.
    public var decodedByteCount: Int { sampleCount * bytesPerSample }
}

/// One decoded frame.
public struct DecodedFrame: Sendable {
    /// rows × columns × samples samples, little-endian, `bitsAllocated / 8` bytes each, samples
    /// interleaved (planar configuration 0), stored values (no sign extension, no rescale).
    public var bytes: [UInt8]
    /// Photometric interpretation after decoding (e.g. a JPEG decoder may turn YBR_FULL_422 into RGB).
    public var photometricInterpretation: String

    public init(bytes: [UInt8], photometricInterpretation: String) {
        self.bytes = bytes
        self.photometricInterpretation = photometricInterpretation
    }
}

/// A decoder for one family of encapsulated transfer syntaxes (DICOM PS3.5 A.4).
public protocol PixelDecoder {
    /// The transfer syntax UIDs this decoder handles.
    static var transferSyntaxUIDs: [String] { get }
    /// Decodes one frame. `frame` is all fragments of one frame, concatenated.
    /// Throws `PixelDecodingError` on corrupt or unsupported data; never traps.
    static func decode(_ frame: [UInt8], info: PixelFrameInfo) throws -> DecodedFrame
}

/// The registry of pixel decoders, looked up by transfer syntax UID (rule 13 of STYLE.md).
public enum PixelDecoders {
    /// Every decoder MedVox has, in lookup order.
    public static let all: [PixelDecoder.Type] = [
        RLEDecoder.self,
        JPEGLosslessDecoder.self,
        JPEGDecoder.self,
        JPEGLSDecoder.self,
        JPEG2000Decoder.self,
    ]

    /// The decoder for an encapsulated transfer syntax, or nil if MedVox has none.
    public static func decoder(for transferSyntaxUID: String) -> PixelDecoder.Type? {
        var uid = Substring(transferSyntaxUID)
        while let last = uid.last, last == " " || last == "\0" { uid = uid.dropLast() }  // UI padding
        for d in all where d.transferSyntaxUIDs.contains(where: { $0 == uid }) { return d }
        return nil
    }
}

/// Errors from decoding compressed pixel data: which codec, and what is wrong.
public enum PixelDecodingError: MedVoxError, Equatable {
    /// The stream is malformed (bad marker, bad header, inconsistent sizes).
    case corrupt(codec: String, reason: String)
    /// The stream ended before the frame was complete.
    case truncated(codec: String, reason: String)
    /// The stream is valid but uses a feature this decoder does not implement.
    case unsupported(codec: String, reason: String)
    /// The stream's own header disagrees with the dataset's Image Pixel module.
    case mismatch(codec: String, field: String, expected: Int, actual: Int)
    /// The dataset's Image Pixel module itself is not decodable (e.g. absurd size).
    case invalidFrameInfo(codec: String, reason: String)

    public var description: String {
        switch self {
        case let .corrupt(codec, reason): return "\(codec): corrupt pixel data: \(reason)"
        case let .truncated(codec, reason): return "\(codec): pixel data ends early: \(reason)"
        case let .unsupported(codec, reason): return "\(codec): unsupported pixel data: \(reason)"
        case let .mismatch(codec, field, expected, actual):
            return "\(codec): the compressed stream has \(field) \(actual), but the dataset declares \(expected)"
        case let .invalidFrameInfo(codec, reason): return "\(codec): invalid image description: \(reason)"
        }
    }
}

extension PixelFrameInfo {
    /// The largest frame a decoder will allocate (4 GiB): guards against absurd Rows × Columns.
    static let maximumDecodedBytes = 1 << 32

    /// Checks that the frame is something a decoder can allocate and fill.
    func validate(codec: String) throws {
        guard rows > 0, columns > 0, rows <= 65535, columns <= 65535 else {
            throw PixelDecodingError.invalidFrameInfo(codec: codec, reason: "rows \(rows) × columns \(columns)")
        }
        guard samplesPerPixel == 1 || samplesPerPixel == 3 else {
            throw PixelDecodingError.invalidFrameInfo(codec: codec, reason: "samples per pixel \(samplesPerPixel)")
        }
        guard [8, 16, 32].contains(bitsAllocated) else {
            throw PixelDecodingError.invalidFrameInfo(codec: codec, reason: "bits allocated \(bitsAllocated)")
        }
        guard bitsStored >= 1, bitsStored <= bitsAllocated else {
            throw PixelDecodingError.invalidFrameInfo(codec: codec,
                reason: "bits stored \(bitsStored) with bits allocated \(bitsAllocated)")
        }
        guard decodedByteCount <= Self.maximumDecodedBytes else {
            throw PixelDecodingError.invalidFrameInfo(codec: codec, reason: "frame of \(decodedByteCount) bytes")
        }
    }
}

/// Transfer syntax UIDs of the encapsulated syntaxes (DICOM PS3.6 Annex A).
public enum EncapsulatedTransferSyntax {
    public static let rleLossless = "1.2.840.10008.1.2.5"
    public static let jpegBaseline = "1.2.840.10008.1.2.4.50"
    public static let jpegExtended = "1.2.840.10008.1.2.4.51"
    /// Retired: Spectral Selection, Non-Hierarchical (processes 6 & 8).
    public static let jpegSpectralSelection = "1.2.840.10008.1.2.4.53"
    /// Retired: Full Progression, Non-Hierarchical (processes 10 & 12).
    public static let jpegFullProgression = "1.2.840.10008.1.2.4.55"
    public static let jpegLossless = "1.2.840.10008.1.2.4.57"
    public static let jpegLosslessSV1 = "1.2.840.10008.1.2.4.70"
    public static let jpegLSLossless = "1.2.840.10008.1.2.4.80"
    public static let jpegLSNearLossless = "1.2.840.10008.1.2.4.81"
    public static let jpeg2000Lossless = "1.2.840.10008.1.2.4.90"
    public static let jpeg2000 = "1.2.840.10008.1.2.4.91"
    public static let htj2kLossless = "1.2.840.10008.1.2.4.201"
    public static let htj2kLosslessRPCL = "1.2.840.10008.1.2.4.202"
    public static let htj2k = "1.2.840.10008.1.2.4.203"
}
