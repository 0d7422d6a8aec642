import Foundation
import MedVoxCore

/// Where the pixel data element's value lies in the parsed stream.
public struct PixelDataLocation: Sendable {
    /// Offset of the value's first byte in the stream (file offset unless the file is deflated).
    public var offset: Int
    /// Value length in bytes; nil for undefined length (encapsulated fragments up to the
    /// sequence delimiter).
    public var length: Int?
    public var vr: VR
}

/// Parses DICOM data sets (PS3.5 §7) from a byte buffer: explicit or implicit VR, little or big
/// endian, defined and undefined lengths, nested sequences up to `maxDepth`, private tags, and
/// UN with undefined length read as implicit VR little endian (PS3.5 §6.2.2).
///
/// Every read is bounds-checked. When the buffer is only a prefix of the file (`isComplete`
/// false), reading past it raises `needMoreData` so the caller can retry with the whole file;
/// otherwise it is a `DICOMError.truncated`.
struct DICOMParser {
    let bytes: [UInt8]
    let path: String
    let isComplete: Bool
    /// Offset of `bytes[0]` in the stream (for messages and pixel locations).
    let base: Int
    var pos: Int = 0
    var explicitVR: Bool
    var order: ByteOrder
    var charset: DICOMCharacterSet = .defaultRepertoire
    /// Top-level pixel data, when parsing stopped there.
    var pixelData: PixelDataLocation?
    static let maxDepth = 32
    static let undefinedLength: UInt32 = 0xFFFF_FFFF

    struct NeedMoreData: Error {}

    init(bytes: [UInt8], path: String, isComplete: Bool, base: Int = 0, explicitVR: Bool, order: ByteOrder) {
        self.bytes = bytes
        self.path = path
        self.isComplete = isComplete
        self.base = base
        self.explicitVR = explicitVR
        self.order = order
    }

    @inline(__always) func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        if n < 0 || n > bytes.count - pos {
            if !isComplete { throw NeedMoreData() }
            throw DICOMError.truncated(path: path, offset: base + pos, detail: what())
        }
    }

    @inline(__always) mutating func u16() -> UInt16 {
        let a = UInt16(bytes[pos]), b = UInt16(bytes[pos + 1])
        pos += 2
        return order == .little ? a | b << 8 : a << 8 | b
    }

    @inline(__always) mutating func u32() -> UInt32 {
        let a = UInt32(bytes[pos]), b = UInt32(bytes[pos + 1]), c = UInt32(bytes[pos + 2]), d = UInt32(bytes[pos + 3])
        pos += 4
        return order == .little ? a | b << 8 | c << 16 | d << 24 : a << 24 | b << 16 | c << 8 | d
    }

    /// Reads one element header: tag, VR and value length (nil = undefined).
    mutating func header() throws -> (DICOMTag, VR, UInt32) {
        try need(8, "element header")
        let g = u16(), el = u16()
        let tag = DICOMTag(g, el)
        if g == 0xFFFE {  // item and delimiters never carry a VR (PS3.5 §7.5)
            return (tag, .UN, u32())
        }
        if explicitVR, let vr = VR(bytes: bytes[pos], bytes[pos + 1]) {
            pos += 2
            if vr.hasLongLength {
                try need(6, "4-byte length of \(tag)")
                pos += 2
                return (tag, vr, u32())
            }
            return (tag, vr, UInt32(u16()))
        }
        if explicitVR {
            // Not a VR where one must be: some writers switch to implicit VR; read it so.
            guard bytes[pos] < 0x20 || bytes[pos] > 0x7E || bytes[pos + 1] < 0x20 || bytes[pos + 1] > 0x7E
                || DICOMDictionary.entry(tag) != nil
            else {
                throw DICOMError.malformed(
                    path: path, offset: base + pos - 4, reason: "unknown VR '\(String(decoding: bytes[pos..<pos + 2], as: UTF8.self))' for \(tag)")
            }
        }
        return (tag, DICOMDictionary.implicitVR(tag), u32())
    }

    /// Parses elements until `end` (a defined length) or, when `untilItemDelimiter`, until an
    /// item delimitation item. At depth 0 with `stopAtPixelData`, stops at (7FE0,0010).
    mutating func dataset(end: Int, depth: Int, untilItemDelimiter: Bool, stopAtPixelData: Bool) throws -> DICOMDataset {
        var ds = DICOMDataset()
        ds.byteOrder = order
        ds.characterSet = charset
        let savedCharset = charset
        defer { charset = savedCharset }
        while pos < end {
            if !untilItemDelimiter && end - pos < 8 && isComplete && end == bytes.count {
                // Trailing padding shorter than a header: tolerated at the end of the file.
                if bytes[pos..<end].allSatisfy({ $0 == 0 }) { pos = end; break }
            }
            let start = pos
            let (tag, vr, len) = try header()
            if tag == .itemDelimitation {
                if untilItemDelimiter { return ds }
                continue  // stray delimiter: ignore as dcmtk does
            }
            if tag == .sequenceDelimitation {
                if untilItemDelimiter {
                    throw DICOMError.malformed(path: path, offset: base + start, reason: "sequence delimiter inside an item")
                }
                continue
            }
            if tag == .item {
                throw DICOMError.malformed(path: path, offset: base + start, reason: "item tag outside a sequence")
            }
            if tag == .pixelData && depth == 0 && stopAtPixelData {
                pixelData = PixelDataLocation(
                    offset: base + pos, length: len == Self.undefinedLength ? nil : Int(len), vr: vr)
                return ds
            }
            let isSeq = vr == .SQ || (len == Self.undefinedLength && (vr == .UN || !explicitVR))
            if isSeq {
                guard depth < Self.maxDepth else { throw DICOMError.tooDeep(path: path, offset: base + start, limit: Self.maxDepth) }
                // UN with undefined length is implicit VR little endian inside (PS3.5 §6.2.2).
                let saved = (explicitVR, order)
                if vr == .UN { explicitVR = false; order = .little }
                let valueOffset = pos
                let items = try sequence(length: len, depth: depth + 1, end: end)
                (explicitVR, order) = saved
                ds.elements[tag] = DICOMElement(tag: tag, vr: .SQ, bytes: [], items: items, offset: base + valueOffset)
                continue
            }
            if len == Self.undefinedLength {
                if tag == .pixelData {
                    // Encapsulated pixel data inside an item or after a stop: skip its fragments.
                    _ = try sequence(length: len, depth: depth + 1, end: end, skipContents: true)
                    continue
                }
                throw DICOMError.malformed(path: path, offset: base + start, reason: "undefined length for \(tag) with VR \(vr.rawValue)")
            }
            let n = Int(len)
            if pos + n > end && (isComplete || end < bytes.count) {
                throw DICOMError.truncated(
                    path: path, offset: base + start,
                    detail: "\(tag) declares \(n) bytes but only \(max(0, min(end, bytes.count) - pos)) remain")
            }
            try need(n, "value of \(tag)")
            let value = Array(bytes[pos..<(pos + n)])
            ds.elements[tag] = DICOMElement(tag: tag, vr: vr, bytes: value, items: nil, offset: base + pos)
            pos += n
            if tag == .specificCharacterSet {
                charset = DICOMCharacterSet(term: String(decoding: value, as: UTF8.self))
                ds.characterSet = charset
            }
        }
        if untilItemDelimiter {
            if !isComplete { throw NeedMoreData() }
            throw DICOMError.truncated(path: path, offset: base + pos, detail: "item without its delimiter")
        }
        return ds
    }

    /// Parses a sequence's items (defined or undefined length).
    mutating func sequence(length: UInt32, depth: Int, end: Int, skipContents: Bool = false) throws -> [DICOMDataset] {
        var items: [DICOMDataset] = []
        let defined = length != Self.undefinedLength
        if defined && length % 2 == 1 {
            throw DICOMError.malformed(path: path, offset: base + pos, reason: "odd sequence length \(length)")
        }
        let seqEnd = defined ? pos + Int(length) : end
        if defined && seqEnd > end {
            if !isComplete && end >= bytes.count { throw NeedMoreData() }
            throw DICOMError.truncated(path: path, offset: base + pos, detail: "sequence of \(length) bytes passes the end of its container")
        }
        while pos < seqEnd {
            let start = pos
            try need(8, "item header")
            let tag = DICOMTag(u16(), u16())
            let len = u32()
            if tag == .sequenceDelimitation {
                if defined { continue }
                return items
            }
            guard tag == .item else {
                throw DICOMError.malformed(path: path, offset: base + start, reason: "expected an item in a sequence, found \(tag)")
            }
            if skipContents {
                guard len != Self.undefinedLength else {
                    throw DICOMError.malformed(path: path, offset: base + start, reason: "fragment with undefined length")
                }
                try need(Int(len), "fragment")
                pos += Int(len)
                continue
            }
            if len == Self.undefinedLength {
                items.append(try dataset(end: seqEnd, depth: depth, untilItemDelimiter: true, stopAtPixelData: false))
            } else {
                if len % 2 == 1 {
                    throw DICOMError.malformed(path: path, offset: base + start, reason: "odd item length \(len)")
                }
                let itemEnd = pos + Int(len)
                guard itemEnd <= seqEnd else {
                    if !isComplete { throw NeedMoreData() }
                    throw DICOMError.truncated(path: path, offset: base + start, detail: "item of \(len) bytes passes the end of its sequence")
                }
                try need(Int(len), "item")
                items.append(try dataset(end: itemEnd, depth: depth, untilItemDelimiter: false, stopAtPixelData: false))
                pos = itemEnd
            }
        }
        if !defined {
            if !isComplete { throw NeedMoreData() }
            throw DICOMError.truncated(path: path, offset: base + pos, detail: "sequence without its delimiter")
        }
        return items
    }
}
