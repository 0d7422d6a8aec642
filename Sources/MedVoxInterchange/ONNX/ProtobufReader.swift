import MedVoxCore

/// A bounds-checked reader of the protocol buffers wire format
/// (https://protobuf.dev/programming-guides/encoding/), enough to decode ONNX files.
///
/// A message is a sequence of fields, each a varint *tag* `(field_number << 3) | wire_type`
/// followed by a value whose layout the wire type gives:
///
/// | wire type | name | value |
/// | --- | --- | --- |
/// | 0 | VARINT | base-128 varint, least significant group first, at most 10 bytes |
/// | 1 | I64 | 8 bytes little-endian (fixed64, sfixed64, double) |
/// | 2 | LEN | varint length, then that many bytes (string, bytes, message, packed repeated) |
/// | 3, 4 | SGROUP, EGROUP | deprecated groups; ONNX never uses them and this reader refuses them |
/// | 5 | I32 | 4 bytes little-endian (fixed32, sfixed32, float) |
///
/// Every length is checked against the bytes left in the enclosing message before anything is
/// allocated, so a hostile length costs nothing; nested messages are limited to `maxDepth`
/// levels. Errors are `ModelFormatError.malformed` with the byte offset and the field path.
///
/// ```swift
/// var r = ProtobufReader(bytes, path: "net.onnx", context: "ModelProto")
/// while let (field, wire) = try r.nextField() {
///     switch field {
///     case 1: irVersion = try r.int64(wire)
///     default: try r.skip(wire)
///     }
/// }
/// ```
public struct ProtobufReader {
    /// The wire types of a field's tag.
    public enum WireType: UInt8, Sendable {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
    }

    /// Nesting limit for messages within messages (the limit of Google's own parsers is 100).
    public static let maxDepth = 64

    /// The whole file; a sub-reader shares it and reads `offset..<end`.
    let bytes: [UInt8]
    /// The next byte to read.
    public private(set) var offset: Int
    /// One past the last byte of this message.
    public let end: Int
    /// Nesting level of this message (0 for the file's top message).
    public let depth: Int
    /// The file, for errors.
    public let path: String
    /// The field path of this message, for errors.
    public let context: String

    public init(_ bytes: [UInt8], path: String, context: String) {
        self.init(bytes, range: 0..<bytes.count, depth: 0, path: path, context: context)
    }

    init(_ bytes: [UInt8], range: Range<Int>, depth: Int, path: String, context: String) {
        self.bytes = bytes
        self.offset = range.lowerBound
        self.end = range.upperBound
        self.depth = depth
        self.path = path
        self.context = context
    }

    /// True when every byte of this message has been read.
    public var isAtEnd: Bool { offset >= end }

    /// A `malformed` error at the current offset in this message.
    public func error(_ reason: String) -> ModelFormatError {
        .malformed(path: path, offset: offset, context: context, reason: reason)
    }

    /// The next field's number and wire type, or nil at the end of the message.
    public mutating func nextField() throws -> (number: Int, wire: WireType)? {
        guard offset < end else { return nil }
        let tag = try varint()
        guard let wire = WireType(rawValue: UInt8(tag & 7)) else { throw error("invalid wire type \(tag & 7)") }
        let number = tag >> 3
        guard number >= 1 && number <= 0x1FFF_FFFF else { throw error("invalid field number \(number)") }
        return (Int(number), wire)
    }

    /// A base-128 varint (up to 10 bytes; the tenth may only carry the top bit of 64).
    public mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw error("varint runs past the end of the message") }
            let b = bytes[offset]
            offset += 1
            if shift == 63 && b > 1 { throw error("varint longer than 64 bits") }
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// Throws unless a field of type `expected` arrived as `wire`.
    func expect(_ wire: WireType, _ expected: WireType) throws {
        guard wire == expected else { throw error("wire type \(wire.rawValue) where \(expected.rawValue) was expected") }
    }

    /// An int64 / int32 / enum field (two's complement in a varint, as protobuf encodes them).
    public mutating func int64(_ wire: WireType) throws -> Int64 {
        try expect(wire, .varint)
        return Int64(bitPattern: try varint())
    }

    /// An int32 or enum field; a value outside Int32 is refused.
    public mutating func int32(_ wire: WireType) throws -> Int32 {
        let v = try int64(wire)
        guard let r = Int32(exactly: v) else { throw error("value \(v) does not fit an int32 field") }
        return r
    }

    /// A sint32/sint64 field (zigzag: 0, -1, 1, -2 … as 0, 1, 2, 3 …).
    public mutating func sint64(_ wire: WireType) throws -> Int64 {
        try expect(wire, .varint)
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    /// 4 little-endian bytes.
    public mutating func fixed32() throws -> UInt32 { UInt32(truncatingIfNeeded: try fixed(4, "fixed32")) }

    /// 8 little-endian bytes.
    public mutating func fixed64() throws -> UInt64 { try fixed(8, "fixed64") }

    /// `width` (≤ 8) little-endian bytes.
    mutating func fixed(_ width: Int, _ what: String) throws -> UInt64 {
        guard end - offset >= width else { throw error("\(what) runs past the end of the message") }
        var v: UInt64 = 0
        for i in 0..<width { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += width
        return v
    }

    /// A float field (I32).
    public mutating func float(_ wire: WireType) throws -> Float {
        try expect(wire, .fixed32)
        return Float(bitPattern: try fixed32())
    }

    /// A double field (I64).
    public mutating func double(_ wire: WireType) throws -> Double {
        try expect(wire, .fixed64)
        return Double(bitPattern: try fixed64())
    }

    /// The byte range of a length-delimited value, checked against the message's remaining bytes.
    public mutating func lengthDelimited(_ wire: WireType) throws -> Range<Int> {
        try expect(wire, .lengthDelimited)
        let n = try varint()
        guard n <= UInt64(end - offset) else {
            throw error("length \(n) exceeds the \(end - offset) bytes left in the message")
        }
        let r = offset..<(offset + Int(n))
        offset = r.upperBound
        return r
    }

    /// A bytes field.
    public mutating func data(_ wire: WireType) throws -> [UInt8] {
        Array(bytes[try lengthDelimited(wire)])
    }

    /// A string field (UTF-8; invalid sequences are replaced, as names are only compared and printed).
    public mutating func string(_ wire: WireType) throws -> String {
        String(decoding: bytes[try lengthDelimited(wire)], as: UTF8.self)
    }

    /// An embedded message: a reader over its bytes, one level deeper, named `context` in errors.
    public mutating func message(_ wire: WireType, context name: @autoclosure () -> String) throws -> ProtobufReader {
        let r = try lengthDelimited(wire)
        guard depth + 1 <= ProtobufReader.maxDepth else {
            throw error("messages nested deeper than \(ProtobufReader.maxDepth) levels")
        }
        return ProtobufReader(bytes, range: r, depth: depth + 1, path: path, context: context + "." + name())
    }

    /// Skips a field this reader does not use. Groups are refused.
    public mutating func skip(_ wire: WireType) throws {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited(wire)
        case .startGroup, .endGroup: throw error("protobuf groups (wire types 3 and 4) are not used by ONNX")
        }
    }

    /// Appends a repeated scalar field, packed (one LEN record of values) or not (one value).
    /// `element` reads one value given its wire type. A packed record's element count is bounded
    /// by its length, so the array never outgrows the bytes it came from by more than the
    /// element's in-memory size.
    public mutating func repeated<T>(
        _ wire: WireType, scalar: WireType, into values: inout [T],
        _ element: (inout ProtobufReader, WireType) throws -> T
    ) throws {
        guard wire == .lengthDelimited else {
            values.append(try element(&self, wire))
            return
        }
        let r = try lengthDelimited(wire)
        var packed = ProtobufReader(bytes, range: r, depth: depth, path: path, context: context)
        switch scalar {
        case .fixed32:
            guard r.count % 4 == 0 else { throw error("packed 4-byte values in \(r.count) bytes") }
            values.reserveCapacity(values.count + r.count / 4)
        case .fixed64:
            guard r.count % 8 == 0 else { throw error("packed 8-byte values in \(r.count) bytes") }
            values.reserveCapacity(values.count + r.count / 8)
        default: break
        }
        while !packed.isAtEnd { values.append(try element(&packed, scalar)) }
    }
}
