// TEMPORARY copy of the codecs interface (Sources/MedVoxIO/DICOM/PixelDecoders/PixelDecoder.swift,
// owned by branch `codecs`), declared here so the encapsulated-pixel path compiles until that
// branch lands. Delete this file when merging `codecs`.

public struct PixelFrameInfo: Sendable {
    public var rows: Int, columns: Int, samplesPerPixel: Int
    public var bitsAllocated: Int, bitsStored: Int
    public var isSigned: Bool
    public var planarConfiguration: Int
    public var photometricInterpretation: String
    public init(rows: Int, columns: Int, samplesPerPixel: Int, bitsAllocated: Int, bitsStored: Int, isSigned: Bool,
                planarConfiguration: Int, photometricInterpretation: String) {
        self.rows = rows
        self.columns = columns
        self.samplesPerPixel = samplesPerPixel
        self.bitsAllocated = bitsAllocated
        self.bitsStored = bitsStored
        self.isSigned = isSigned
        self.planarConfiguration = planarConfiguration
        self.photometricInterpretation = photometricInterpretation
    }
}

public struct DecodedFrame: Sendable {
    public var bytes: [UInt8]
    public var photometricInterpretation: String
    public init(bytes: [UInt8], photometricInterpretation: String) {
        self.bytes = bytes
        self.photometricInterpretation = photometricInterpretation
    }
}

public protocol PixelDecoder {
    static var transferSyntaxUIDs: [String] { get }
    static func decode(_ frame: [UInt8], info: PixelFrameInfo) throws -> DecodedFrame
}

public enum PixelDecoders {
    public static func decoder(for transferSyntaxUID: String) -> PixelDecoder.Type? { nil }
}
