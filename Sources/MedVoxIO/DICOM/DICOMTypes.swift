import MedVoxCore

/// A DICOM attribute tag (group, element), PS3.5 §7.1.
public struct DICOMTag: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var group: UInt16
    public var element: UInt16

    public init(_ group: UInt16, _ element: UInt16) {
        self.group = group
        self.element = element
    }

    public init(_ value: UInt32) {
        group = UInt16(value >> 16)
        element = UInt16(value & 0xFFFF)
    }

    public var value: UInt32 { UInt32(group) << 16 | UInt32(element) }
    public var isPrivate: Bool { group & 1 == 1 }
    /// "(0028,0010)"
    public var description: String { "(\(hex4(group)),\(hex4(element)))" }
    /// Keyword from the data dictionary ("Rows"), or nil for private and unknown tags.
    public var keyword: String? { DICOMDictionary.entry(self)?.keyword }

    public static func < (a: DICOMTag, b: DICOMTag) -> Bool { a.value < b.value }

    // Delimitation items (PS3.5 §7.5).
    public static let item = DICOMTag(0xFFFE, 0xE000)
    public static let itemDelimitation = DICOMTag(0xFFFE, 0xE00D)
    public static let sequenceDelimitation = DICOMTag(0xFFFE, 0xE0DD)
}

func hex4(_ v: UInt16) -> String {
    let s = String(v, radix: 16, uppercase: true)
    return String(repeating: "0", count: 4 - s.count) + s
}

/// Value representations (PS3.5 §6.2). The raw value is the two-letter code.
public enum VR: String, Sendable, CaseIterable {
    case AE, AS, AT, CS, DA, DS, DT, FD, FL, IS, LO, LT, OB, OD, OF, OL, OV, OW, PN, SH, SL, SQ, SS, ST,
        SV, TM, UC, UI, UL, UN, UR, US, UT, UV

    /// Explicit VRs whose length field is 4 bytes after 2 reserved bytes (PS3.5 §7.1.2, Table 7.1-1).
    public var hasLongLength: Bool {
        switch self {
        case .OB, .OD, .OF, .OL, .OV, .OW, .SQ, .UC, .UN, .UR, .UT, .SV, .UV: return true
        default: return false
        }
    }

    /// Text VRs whose bytes are decoded with the dataset's Specific Character Set (PS3.5 §6.1.2.3).
    public var usesCharacterSet: Bool {
        switch self {
        case .SH, .LO, .ST, .LT, .PN, .UC, .UT: return true
        default: return false
        }
    }

    /// String VRs (values are text, several values separated by backslashes).
    public var isText: Bool {
        switch self {
        case .AE, .AS, .CS, .DA, .DS, .DT, .IS, .LO, .LT, .PN, .SH, .ST, .TM, .UC, .UI, .UR, .UT: return true
        default: return false
        }
    }

    init?(bytes b0: UInt8, _ b1: UInt8) {
        guard b0 >= 65, b0 <= 90, b1 >= 65, b1 <= 90 else { return nil }
        self.init(rawValue: String(decoding: [b0, b1], as: UTF8.self))
    }
}

/// One attribute of the data dictionary (PS3.6).
public struct DICOMDictionaryEntry: Sendable {
    public var vr: VR
    public var vm: String
    public var retired: Bool
    public var keyword: String
}

/// The PS3.6 data dictionary, parsed once from the generated tables in
/// `DICOMDictionary.generated.swift` (made by Tools/generate_dicom_dictionary.py from pydicom).
public enum DICOMDictionary {
    static let entries: [UInt32: DICOMDictionaryEntry] = {
        var d: [UInt32: DICOMDictionaryEntry] = [:]
        d.reserveCapacity(5200)
        for line in table.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 5, let tag = UInt32(f[0], radix: 16) else { continue }
            d[tag] = DICOMDictionaryEntry(
                vr: VR(rawValue: String(f[1])) ?? .UN, vm: String(f[2]), retired: f[3] == "R", keyword: String(f[4]))
        }
        return d
    }()

    static let keywords: [String: UInt32] = {
        var d: [String: UInt32] = [:]
        for (t, e) in entries { d[e.keyword] = t }
        return d
    }()

    /// The dictionary entry for a tag (nil for private or unknown tags). Group-length tags
    /// (gggg,0000) are UL.
    public static func entry(_ tag: DICOMTag) -> DICOMDictionaryEntry? {
        if let e = entries[tag.value] { return e }
        if tag.element == 0 { return DICOMDictionaryEntry(vr: .UL, vm: "1", retired: false, keyword: "GroupLength") }
        return nil
    }

    /// The tag for a keyword ("PixelSpacing"), nil when unknown.
    public static func tag(_ keyword: String) -> DICOMTag? { keywords[keyword].map(DICOMTag.init) }

    /// The VR to assume in implicit-VR data: from the dictionary, private creators LO, else UN.
    static func implicitVR(_ tag: DICOMTag) -> VR {
        if let e = entries[tag.value] { return e.vr }
        if tag.element == 0 { return .UL }
        if tag.isPrivate && tag.element >= 0x10 && tag.element <= 0xFF { return .LO }
        return .UN
    }
}

/// A transfer syntax (PS3.5 §10): how the dataset after the file meta information is encoded.
public struct TransferSyntax: Sendable, Equatable {
    public var uid: String
    public var isExplicitVR: Bool
    public var byteOrder: ByteOrder
    public var isDeflated: Bool
    /// Pixel data is encapsulated (compressed frames in fragments), PS3.5 §A.4.
    public var isEncapsulated: Bool

    /// Name from the UID dictionary ("Explicit VR Little Endian"), or "unknown".
    public var name: String { Self.names[uid]?.name ?? "unknown transfer syntax" }
    public var keyword: String { Self.names[uid]?.keyword ?? uid }

    public static let implicitVRLittleEndianUID = "1.2.840.10008.1.2"
    public static let explicitVRLittleEndianUID = "1.2.840.10008.1.2.1"
    public static let deflatedExplicitVRLittleEndianUID = "1.2.840.10008.1.2.1.99"
    public static let explicitVRBigEndianUID = "1.2.840.10008.1.2.2"

    public static let implicitVRLittleEndian = TransferSyntax(
        uid: implicitVRLittleEndianUID, isExplicitVR: false, byteOrder: .little, isDeflated: false, isEncapsulated: false)
    public static let explicitVRLittleEndian = TransferSyntax(
        uid: explicitVRLittleEndianUID, isExplicitVR: true, byteOrder: .little, isDeflated: false, isEncapsulated: false)

    /// The transfer syntax for a UID. Native syntaxes are listed; every other UID that the UID
    /// dictionary calls a transfer syntax is taken as explicit VR little endian with encapsulated
    /// pixel data (PS3.5 §10: all compressed syntaxes are). Nil for UIDs that are no transfer syntax.
    public static func lookup(_ uid: String) -> TransferSyntax? {
        switch uid {
        case implicitVRLittleEndianUID: return .implicitVRLittleEndian
        case explicitVRLittleEndianUID: return .explicitVRLittleEndian
        case deflatedExplicitVRLittleEndianUID:
            return TransferSyntax(uid: uid, isExplicitVR: true, byteOrder: .little, isDeflated: true, isEncapsulated: false)
        case explicitVRBigEndianUID:
            return TransferSyntax(uid: uid, isExplicitVR: true, byteOrder: .big, isDeflated: false, isEncapsulated: false)
        default:
            guard names[uid] != nil else { return nil }
            // JPIP referenced syntaxes carry no pixel data; deflate variants of JPIP likewise.
            return TransferSyntax(uid: uid, isExplicitVR: true, byteOrder: .little, isDeflated: false, isEncapsulated: true)
        }
    }

    static let names: [String: (keyword: String, name: String)] = {
        var d: [String: (String, String)] = [:]
        for line in DICOMDictionary.transferSyntaxTable.split(separator: "\n") {
            let f = line.split(separator: "\t")
            if f.count == 3 { d[String(f[0])] = (String(f[1]), String(f[2])) }
        }
        return d
    }()
}

/// Everything that can go wrong reading DICOM input; each message names the file.
public enum DICOMError: MedVoxError {
    case notDICOM(path: String)
    case truncated(path: String, offset: Int, detail: String)
    case malformed(path: String, offset: Int, reason: String)
    case tooDeep(path: String, offset: Int, limit: Int)
    case unsupportedTransferSyntax(path: String, uid: String, name: String)
    case missingAttribute(path: String, keyword: String)
    case invalidAttribute(path: String, keyword: String, value: String, reason: String)
    case missingPixelData(path: String)
    case pixelDataTooShort(path: String, expected: Int, actual: Int)
    case pixelDecoding(path: String, frame: Int, reason: String)
    case tooLarge(path: String, bytes: Int, limit: Int)
    case noImages(path: String, reason: String?)
    case severalSeries(path: String, list: String)
    case seriesNotFound(path: String, uid: String)
    case irregularSpacing(path: String, detail: String)
    case inconsistentSeries(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notDICOM(p): return "\(p): not a DICOM file (no DICM marker and no recognisable data set)"
        case let .truncated(p, o, d): return "\(p): truncated DICOM file at byte \(o): \(d)"
        case let .malformed(p, o, r): return "\(p): malformed DICOM at byte \(o): \(r)"
        case let .tooDeep(p, o, l): return "\(p): sequences nested deeper than \(l) levels at byte \(o)"
        case let .unsupportedTransferSyntax(p, u, n): return "\(p): unsupported transfer syntax \(u) (\(n))"
        case let .missingAttribute(p, k): return "\(p): missing required attribute \(k)"
        case let .invalidAttribute(p, k, v, r): return "\(p): invalid \(k) '\(v)': \(r)"
        case let .missingPixelData(p): return "\(p): no pixel data (7FE0,0010)"
        case let .pixelDataTooShort(p, e, a): return "\(p): pixel data holds \(a) bytes, \(e) expected"
        case let .pixelDecoding(p, f, r): return "\(p): frame \(f): \(r)"
        case let .tooLarge(p, b, l): return "\(p): image would need \(b) bytes, more than the limit of \(l) bytes"
        case let .noImages(p, r): return "\(p): no DICOM images found" + (r.map { " (\($0))" } ?? "")
        case let .severalSeries(p, l): return "\(p): several series; choose one with --series UID: \(l)"
        case let .seriesNotFound(p, u): return "\(p): no series with SeriesInstanceUID \(u)"
        case let .irregularSpacing(p, d): return "\(p): slice spacing is not uniform (\(d)); use --allow-irregular to accept"
        case let .inconsistentSeries(p, r): return "\(p): \(r)"
        }
    }
}
