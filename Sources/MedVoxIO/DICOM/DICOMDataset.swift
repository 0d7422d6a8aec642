import Foundation
import MedVoxCore

/// Specific Character Set (0008,0005), PS3.3 C.12.1.1.2 / PS3.5 §6.1. UTF-8 (ISO_IR 192) and
/// Latin-1 (ISO_IR 100) are decoded exactly; the default repertoire and anything else leniently
/// (valid UTF-8 as UTF-8, otherwise byte by byte as Latin-1), so text never fails to decode.
public enum DICOMCharacterSet: Sendable, Equatable {
    case defaultRepertoire, latin1, utf8, other(String)

    public init(term: String) {
        let t = term.split(separator: "\\").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        switch t {
        case "", "ISO_IR 6", "ISO 2022 IR 6": self = .defaultRepertoire
        case "ISO_IR 100", "ISO 2022 IR 100": self = .latin1
        case "ISO_IR 192": self = .utf8
        default: self = .other(String(t))
        }
    }

    func decode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        switch self {
        case .latin1: return String(bytes.map { Character(Unicode.Scalar($0)) })
        case .utf8: return String(decoding: bytes, as: UTF8.self)
        default:
            if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
            if let s = String(validating: Array(bytes), as: UTF8.self) { return s }
            return String(bytes.map { Character(Unicode.Scalar($0)) })
        }
    }
}

/// One data element: its tag, VR, raw value bytes (in the data set's byte order) and, for a
/// sequence, its items. Pixel data is not held here (see `DICOMFile.pixelData`).
public struct DICOMElement: Sendable {
    public var tag: DICOMTag
    public var vr: VR
    /// The value as stored (empty for sequences).
    public var bytes: [UInt8]
    /// Items of a sequence (SQ, or UN with undefined length), else nil.
    public var items: [DICOMDataset]?
    /// Byte offset of the value in the parsed stream (the file, or the inflated stream).
    public var offset: Int
}

/// A parsed data set: elements by tag, with typed accessors that decode text with the data
/// set's character set and binary numbers with its byte order.
///
/// ```swift
/// let rows = ds.int(.rows)                      // 512
/// let spacing = ds.doubles(.pixelSpacing)       // [0.7, 0.7]
/// ```
public struct DICOMDataset: Sendable {
    public var elements: [DICOMTag: DICOMElement] = [:]
    public var byteOrder: ByteOrder = .little
    public var characterSet: DICOMCharacterSet = .defaultRepertoire

    public init() {}

    public subscript(tag: DICOMTag) -> DICOMElement? { elements[tag] }
    public func contains(_ tag: DICOMTag) -> Bool { elements[tag] != nil }
    /// Tags in ascending order.
    public var tags: [DICOMTag] { elements.keys.sorted() }

    /// The VR to interpret a value with: UN values of known tags get the dictionary's VR
    /// (explicit files written by converters that did not know the attribute).
    func effectiveVR(_ e: DICOMElement) -> VR {
        if e.vr == .UN, let d = DICOMDictionary.entry(e.tag), d.vr != .UN, d.vr != .SQ { return d.vr }
        return e.vr
    }

    /// All values of a text element, split at backslashes, trimmed of padding (spaces, NULs).
    public func strings(_ tag: DICOMTag) -> [String] {
        guard let e = elements[tag] else { return [] }
        let vr = effectiveVR(e)
        if !vr.isText {
            // Numbers asked for as text: format them.
            return numbers(e, vr).map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) }
        }
        let text = vr.usesCharacterSet ? characterSet.decode(e.bytes) : String(decoding: e.bytes, as: UTF8.self)
        let parts: [Substring] = (vr == .LT || vr == .ST || vr == .UT || vr == .UR) ? [Substring(text)] : text.split(separator: "\\", omittingEmptySubsequences: false)
        return parts.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \0")) }
    }

    /// The first value of a text element (nil when absent or empty).
    public func string(_ tag: DICOMTag) -> String? {
        guard let s = strings(tag).first, !s.isEmpty else { return nil }
        return s
    }

    /// Numeric values: DS/IS parsed from text, binary VRs decoded. Unparsable values are dropped.
    public func doubles(_ tag: DICOMTag) -> [Double] {
        guard let e = elements[tag] else { return [] }
        let vr = effectiveVR(e)
        if vr.isText {
            return strings(tag).compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }.filter { $0.isFinite }
        }
        return numbers(e, vr)
    }

    public func double(_ tag: DICOMTag) -> Double? { doubles(tag).first }

    public func int(_ tag: DICOMTag) -> Int? {
        guard let d = double(tag), d.isFinite, abs(d) < 1e15 else { return nil }
        return Int(d.rounded())
    }

    /// Items of a sequence (empty when absent).
    public func items(_ tag: DICOMTag) -> [DICOMDataset] { elements[tag]?.items ?? [] }

    func numbers(_ e: DICOMElement, _ vr: VR) -> [Double] {
        let size: Int
        switch vr {
        case .US, .SS, .OW: size = 2
        case .UL, .SL, .FL, .OF, .OL, .AT: size = 4
        case .FD, .OD, .SV, .UV, .OV: size = 8
        case .OB, .UN: size = 1
        default: return []
        }
        var r = ByteReader(e.bytes, order: byteOrder)
        var out: [Double] = []
        out.reserveCapacity(e.bytes.count / size)
        while r.remaining >= size {
            let v: Double
            switch vr {
            case .US, .OW: v = Double((try? r.uint16()) ?? 0)
            case .SS: v = Double((try? r.int16()) ?? 0)
            case .UL, .OL, .AT: v = Double((try? r.uint32()) ?? 0)
            case .SL: v = Double((try? r.int32()) ?? 0)
            case .FL, .OF: v = Double((try? r.float32()) ?? 0)
            case .FD, .OD: v = (try? r.float64()) ?? 0
            case .SV: v = Double((try? r.int64()) ?? 0)
            case .UV, .OV: v = Double((try? r.uint64()) ?? 0)
            default: v = Double((try? r.uint8()) ?? 0)
            }
            out.append(v)
        }
        return out
    }

    /// A short printable rendering of a value (for `info` listings): text as is, numbers joined
    /// with backslashes, binary data as its length.
    public func displayValue(_ tag: DICOMTag, limit: Int = 64) -> String {
        guard let e = elements[tag] else { return "" }
        if let items = e.items { return "<sequence of \(items.count) item(s)>" }
        let vr = effectiveVR(e)
        let s: String
        switch vr {
        case .OB, .OW, .OD, .OF, .OL, .OV, .UN: s = "<\(e.bytes.count) bytes>"
        default: s = strings(tag).joined(separator: "\\")
        }
        return s.count > limit ? String(s.prefix(limit)) + "…" : s
    }
}

/// Tags MedVox reads, by keyword (PS3.6).
extension DICOMTag {
    public static let transferSyntaxUID = DICOMTag(0x0002, 0x0010)
    public static let mediaStorageSOPClassUID = DICOMTag(0x0002, 0x0002)
    public static let specificCharacterSet = DICOMTag(0x0008, 0x0005)
    public static let imageType = DICOMTag(0x0008, 0x0008)
    public static let sopClassUID = DICOMTag(0x0008, 0x0016)
    public static let sopInstanceUID = DICOMTag(0x0008, 0x0018)
    public static let studyDate = DICOMTag(0x0008, 0x0020)
    public static let seriesDate = DICOMTag(0x0008, 0x0021)
    public static let acquisitionTime = DICOMTag(0x0008, 0x0032)
    public static let modality = DICOMTag(0x0008, 0x0060)
    public static let manufacturer = DICOMTag(0x0008, 0x0070)
    public static let institutionName = DICOMTag(0x0008, 0x0080)
    public static let referringPhysicianName = DICOMTag(0x0008, 0x0090)
    public static let stationName = DICOMTag(0x0008, 0x1010)
    public static let studyDescription = DICOMTag(0x0008, 0x1030)
    public static let seriesDescription = DICOMTag(0x0008, 0x103E)
    public static let manufacturerModelName = DICOMTag(0x0008, 0x1090)
    public static let patientName = DICOMTag(0x0010, 0x0010)
    public static let patientID = DICOMTag(0x0010, 0x0020)
    public static let patientBirthDate = DICOMTag(0x0010, 0x0030)
    public static let patientSex = DICOMTag(0x0010, 0x0040)
    public static let patientAge = DICOMTag(0x0010, 0x1010)
    public static let bodyPartExamined = DICOMTag(0x0018, 0x0015)
    public static let scanningSequence = DICOMTag(0x0018, 0x0020)
    public static let sequenceVariant = DICOMTag(0x0018, 0x0021)
    public static let sliceThickness = DICOMTag(0x0018, 0x0050)
    public static let kvp = DICOMTag(0x0018, 0x0060)
    public static let repetitionTime = DICOMTag(0x0018, 0x0080)
    public static let echoTime = DICOMTag(0x0018, 0x0081)
    public static let inversionTime = DICOMTag(0x0018, 0x0082)
    public static let echoNumbers = DICOMTag(0x0018, 0x0086)
    public static let magneticFieldStrength = DICOMTag(0x0018, 0x0087)
    public static let spacingBetweenSlices = DICOMTag(0x0018, 0x0088)
    public static let softwareVersions = DICOMTag(0x0018, 0x1020)
    public static let protocolName = DICOMTag(0x0018, 0x1030)
    public static let gantryDetectorTilt = DICOMTag(0x0018, 0x1120)
    public static let flipAngle = DICOMTag(0x0018, 0x1314)
    public static let studyInstanceUID = DICOMTag(0x0020, 0x000D)
    public static let seriesInstanceUID = DICOMTag(0x0020, 0x000E)
    public static let seriesNumber = DICOMTag(0x0020, 0x0011)
    public static let acquisitionNumber = DICOMTag(0x0020, 0x0012)
    public static let instanceNumber = DICOMTag(0x0020, 0x0013)
    public static let imagePositionPatient = DICOMTag(0x0020, 0x0032)
    public static let imageOrientationPatient = DICOMTag(0x0020, 0x0037)
    public static let frameOfReferenceUID = DICOMTag(0x0020, 0x0052)
    public static let temporalPositionIdentifier = DICOMTag(0x0020, 0x0100)
    public static let samplesPerPixel = DICOMTag(0x0028, 0x0002)
    public static let photometricInterpretation = DICOMTag(0x0028, 0x0004)
    public static let planarConfiguration = DICOMTag(0x0028, 0x0006)
    public static let numberOfFrames = DICOMTag(0x0028, 0x0008)
    public static let rows = DICOMTag(0x0028, 0x0010)
    public static let columns = DICOMTag(0x0028, 0x0011)
    public static let pixelSpacing = DICOMTag(0x0028, 0x0030)
    public static let bitsAllocated = DICOMTag(0x0028, 0x0100)
    public static let bitsStored = DICOMTag(0x0028, 0x0101)
    public static let highBit = DICOMTag(0x0028, 0x0102)
    public static let pixelRepresentation = DICOMTag(0x0028, 0x0103)
    public static let windowCenter = DICOMTag(0x0028, 0x1050)
    public static let windowWidth = DICOMTag(0x0028, 0x1051)
    public static let rescaleIntercept = DICOMTag(0x0028, 0x1052)
    public static let rescaleSlope = DICOMTag(0x0028, 0x1053)
    public static let pixelMeasuresSequence = DICOMTag(0x0028, 0x9110)
    public static let pixelValueTransformationSequence = DICOMTag(0x0028, 0x9145)
    public static let planePositionSequence = DICOMTag(0x0020, 0x9113)
    public static let planeOrientationSequence = DICOMTag(0x0020, 0x9116)
    public static let frameContentSequence = DICOMTag(0x0020, 0x9111)
    public static let sharedFunctionalGroupsSequence = DICOMTag(0x5200, 0x9229)
    public static let perFrameFunctionalGroupsSequence = DICOMTag(0x5200, 0x9230)
    public static let extendedOffsetTable = DICOMTag(0x7FE0, 0x0001)
    public static let extendedOffsetTableLengths = DICOMTag(0x7FE0, 0x0002)
    public static let floatPixelData = DICOMTag(0x7FE0, 0x0008)
    public static let doubleFloatPixelData = DICOMTag(0x7FE0, 0x0009)
    public static let pixelData = DICOMTag(0x7FE0, 0x0010)
}
