import Foundation
import MedVoxCore

/// A folder of compressed frames with their descriptions: `manifest.json` plus `<case>.f<i>.bin`
/// (and, for the test fixtures, `<case>.f<i>.raw` reference decodes). Written by
/// Fixtures/dicom/codecs/make_codec_fixtures.py and Tools/bench/codecs_vs_dcmtk.py.
public struct CodecCaseManifest: Decodable, Sendable {
    public struct Info: Decodable, Sendable {
        public var rows, columns, samplesPerPixel, bitsAllocated, bitsStored, planarConfiguration: Int
        public var isSigned: Bool
        public var photometricInterpretation: String
    }
    public struct Case: Decodable, Sendable {
        public var name: String, transferSyntaxUID: String, frames: Int, lossless: Bool
        public var encoder: String, referenceDecoder: String
        public var info: Info
        public var decodedPhotometricInterpretation: String
        public var frameInfo: PixelFrameInfo {
            PixelFrameInfo(rows: info.rows, columns: info.columns, samplesPerPixel: info.samplesPerPixel,
                           bitsAllocated: info.bitsAllocated, bitsStored: info.bitsStored, isSigned: info.isSigned,
                           planarConfiguration: info.planarConfiguration,
                           photometricInterpretation: info.photometricInterpretation)
        }
    }
    public var cases: [Case]

    public static func load(folder: String) throws -> CodecCaseManifest {
        let path = (folder as NSString).appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError.cannotRead(path: path, reason: "no such file")
        }
        do {
            return try JSONDecoder().decode(CodecCaseManifest.self, from: data)
        } catch {
            throw FileError.cannotRead(path: path, reason: "not a codec manifest: \(error)")
        }
    }

    public static func frame(folder: String, name: String, index: Int, ext: String = "bin") throws -> [UInt8] {
        let path = (folder as NSString).appendingPathComponent("\(name).f\(index).\(ext)")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError.cannotRead(path: path, reason: "no such file")
        }
        return [UInt8](data)
    }
}
