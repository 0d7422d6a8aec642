import Foundation
import MedVoxCore

/// A value to write: text, binary numbers, tags, raw bytes or sequence items.
public indirect enum DICOMWriteValue: Sendable {
    /// Text VRs (AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT): values joined by "\".
    case strings([String])
    case uint16([UInt16])
    case uint32([UInt32])
    case float64([Double])
    /// AT: each tag as group, element.
    case tags([DICOMTag])
    /// OB / OW / UN bytes as they go to the file (little endian).
    case bytes([UInt8])
    /// SQ items.
    case items([DICOMWriteDataset])
}

/// A data set to be written: elements by tag, each with its VR. Keyword subscripts take the VR
/// from the data dictionary.
///
/// ```swift
/// var ds = DICOMWriteDataset()
/// ds["Modality"] = .strings(["SEG"])
/// ds["Rows"] = .uint16([512])
/// ```
public struct DICOMWriteDataset: Sendable {
    public var elements: [DICOMTag: (vr: VR, value: DICOMWriteValue)] = [:]
    public init() {}

    /// Sets `tag` with an explicit VR (needed for tags whose dictionary VR is ambiguous, such as
    /// PixelData "OB or OW").
    public mutating func set(_ tag: DICOMTag, _ vr: VR, _ value: DICOMWriteValue) { elements[tag] = (vr, value) }

    /// By dictionary keyword; an unknown keyword is a programming error.
    public subscript(keyword: String) -> DICOMWriteValue? {
        get { DICOMDictionary.tag(keyword).flatMap { elements[$0]?.value } }
        set {
            guard let tag = DICOMDictionary.tag(keyword), let vr = DICOMDictionary.entry(tag)?.vr else {
                preconditionFailure("unknown DICOM keyword \(keyword)")
            }
            if let v = newValue { elements[tag] = (vr, v) } else { elements[tag] = nil }
        }
    }
}

/// Writes DICOM Part 10 files (PS3.10 §7.1): 128-byte preamble, "DICM", the file meta group
/// (0002) with its group length, then the data set in explicit VR little endian
/// (1.2.840.10008.1.2.1). Elements are sorted by tag; values are padded to even length (UI with
/// NUL, other text with a space, binary with 0, PS3.5 §6.2); sequences and items have defined
/// lengths unless `undefinedLengthSequences`.
public enum DICOMWriter {
    /// The data set's bytes (explicit VR little endian), without preamble or meta group.
    /// Throws when a value is too long for a VR with a 16-bit length field.
    public static func encode(_ ds: DICOMWriteDataset, undefinedLengthSequences: Bool = false, path: String = "data set") throws -> [UInt8] {
        var out: [UInt8] = []
        try encode(ds, into: &out, undefined: undefinedLengthSequences, path: path)
        return out
    }

    /// The complete Part 10 file for `ds`, whose SOPClassUID and SOPInstanceUID go into the meta group.
    public static func part10(_ ds: DICOMWriteDataset, undefinedLengthSequences: Bool = false, path: String = "data set") throws -> [UInt8] {
        guard case .strings(let cls)? = ds["SOPClassUID"], case .strings(let inst)? = ds["SOPInstanceUID"],
              let sopClass = cls.first, let sopInstance = inst.first
        else { throw DICOMError.missingAttribute(path: path, keyword: "SOPClassUID/SOPInstanceUID") }
        var meta = DICOMWriteDataset()
        meta["FileMetaInformationVersion"] = .bytes([0, 1])
        meta["MediaStorageSOPClassUID"] = .strings([sopClass])
        meta["MediaStorageSOPInstanceUID"] = .strings([sopInstance])
        meta["TransferSyntaxUID"] = .strings([TransferSyntax.explicitVRLittleEndianUID])
        meta["ImplementationClassUID"] = .strings([implementationClassUID])
        meta["ImplementationVersionName"] = .strings(["MEDVOX"])
        let metaBody = try encode(meta, path: path)
        var out = [UInt8](repeating: 0, count: 128)
        out += Array("DICM".utf8)
        // (0002,0000) UL FileMetaInformationGroupLength: the bytes of the group that follow it.
        var groupLength = DICOMWriteDataset()
        groupLength.set(DICOMTag(0x0002, 0x0000), .UL, .uint32([UInt32(metaBody.count)]))
        out += try encode(groupLength, path: path)
        out += metaBody
        var body = ds
        for t in body.elements.keys where t.group == 0x0002 { body.elements[t] = nil }
        try encode(body, into: &out, undefined: undefinedLengthSequences, path: path)
        return out
    }

    /// Writes `ds` as a Part 10 file atomically (nothing half-written on failure).
    public static func write(_ ds: DICOMWriteDataset, to path: String, undefinedLengthSequences: Bool = false) throws {
        try AtomicFile.write(try part10(ds, undefinedLengthSequences: undefinedLengthSequences, path: path), to: path)
    }

    /// 2.25.<UUID as a decimal integer> (PS3.5 §B.2): needs no registered root.
    public static let implementationClassUID = "2.25.294140586094146757316419963412542315766"

    /// A new UID 2.25.<128-bit random UUID as a decimal integer> (PS3.5 §B.2).
    public static func newUID() -> String {
        let u = UUID().uuid
        let bytes = [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
        return "2.25." + decimal(bytes)
    }

    /// Big-endian unsigned bytes as a decimal string (long division by 10).
    static func decimal(_ bytes: [UInt8]) -> String {
        var n = bytes.drop { $0 == 0 }.map { UInt32($0) }
        var digits: [Character] = []
        while !n.isEmpty {
            var rem: UInt32 = 0
            for i in n.indices {
                let cur = rem << 8 | n[i]
                n[i] = cur / 10
                rem = cur % 10
            }
            digits.append(Character(String(rem)))
            while let f = n.first, f == 0 { n.removeFirst() }
        }
        return digits.isEmpty ? "0" : String(digits.reversed())
    }

    /// A DS value: at most 16 characters (PS3.5 §6.2).
    public static func ds(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) }
        for p in stride(from: 10, through: 1, by: -1) {
            let s = String(format: "%.\(p)g", v)
            if s.count <= 16 { return s }
        }
        return String(format: "%.6e", v)
    }

    private static func appendU16(_ v: UInt16, _ out: inout [UInt8]) { out += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private static func appendU32(_ v: UInt32, _ out: inout [UInt8]) {
        out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }

    private static func encode(_ ds: DICOMWriteDataset, into out: inout [UInt8], undefined: Bool, path: String) throws {
        for tag in ds.elements.keys.sorted() {
            let (vr, value) = ds.elements[tag]!
            appendU16(tag.group, &out)
            appendU16(tag.element, &out)
            out += Array(vr.rawValue.utf8)
            if case .items(let items) = value {
                out += [0, 0]
                if undefined {
                    appendU32(0xFFFF_FFFF, &out)
                    for item in items {
                        appendU16(0xFFFE, &out); appendU16(0xE000, &out); appendU32(0xFFFF_FFFF, &out)
                        try encode(item, into: &out, undefined: true, path: path)
                        appendU16(0xFFFE, &out); appendU16(0xE00D, &out); appendU32(0, &out)
                    }
                    appendU16(0xFFFE, &out); appendU16(0xE0DD, &out); appendU32(0, &out)
                } else {
                    var body: [UInt8] = []
                    for item in items {
                        var itemBytes: [UInt8] = []
                        try encode(item, into: &itemBytes, undefined: false, path: path)
                        appendU16(0xFFFE, &body); appendU16(0xE000, &body); appendU32(UInt32(itemBytes.count), &body)
                        body += itemBytes
                    }
                    appendU32(UInt32(body.count), &out)
                    out += body
                }
                continue
            }
            let bytes = valueBytes(vr, value)
            if vr.hasLongLength {
                guard bytes.count < 0xFFFF_FFFE else { throw DICOMError.tooLarge(path: path, bytes: bytes.count, limit: 0xFFFF_FFFD) }
                out += [0, 0]
                appendU32(UInt32(bytes.count), &out)
            } else {
                guard bytes.count <= 0xFFFF else {
                    throw DICOMError.invalidAttribute(path: path, keyword: tag.keyword ?? "\(tag)", value: "\(bytes.count) bytes",
                                                      reason: "too long for VR \(vr.rawValue)")
                }
                appendU16(UInt16(bytes.count), &out)
            }
            out += bytes
        }
    }

    /// A value's bytes, padded to even length.
    static func valueBytes(_ vr: VR, _ value: DICOMWriteValue) -> [UInt8] {
        var b: [UInt8] = []
        switch value {
        case .strings(let s): b = Array(s.joined(separator: "\\").utf8)
        case .uint16(let v): for x in v { appendU16(x, &b) }
        case .uint32(let v): for x in v { appendU32(x, &b) }
        case .float64(let v): for x in v { let u = x.bitPattern; appendU32(UInt32(u & 0xFFFF_FFFF), &b); appendU32(UInt32(u >> 32), &b) }
        case .tags(let t): for x in t { appendU16(x.group, &b); appendU16(x.element, &b) }
        case .bytes(let v): b = v
        case .items: break
        }
        if b.count % 2 == 1 { b.append(vr == .UI || !vr.isText ? 0 : 0x20) }
        return b
    }
}
