import MedVoxCore

/// Byte order of multi-byte fields.
public enum ByteOrder: Sendable {
    case little, big
}

/// Bounds-checked reading of binary headers: every read checks the remaining length first and
/// throws `TruncatedData` instead of trapping, so a short or corrupt file can never crash a parser.
///
/// ```swift
/// var r = ByteReader(bytes, order: .little)
/// let sizeofHdr = try r.int32()
/// ```
public struct ByteReader {
    public let bytes: [UInt8]
    public var offset: Int
    public var order: ByteOrder

    public init(_ bytes: [UInt8], order: ByteOrder = .little, offset: Int = 0) {
        self.bytes = bytes
        self.order = order
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset >= bytes.count }

    /// Raised when a read would pass the end of the data.
    public struct TruncatedData: Error, CustomStringConvertible {
        public var offset: Int
        public var wanted: Int
        public var available: Int
        public var description: String {
            "data ends at byte \(available), but \(wanted) more byte(s) were needed at offset \(offset)"
        }
    }

    @inline(__always) func check(_ n: Int) throws {
        guard n >= 0, n <= bytes.count - offset else {
            throw TruncatedData(offset: offset, wanted: n, available: bytes.count)
        }
    }

    public mutating func skip(_ n: Int) throws {
        try check(n)
        offset += n
    }

    public mutating func seek(to position: Int) throws {
        guard position >= 0, position <= bytes.count else {
            throw TruncatedData(offset: position, wanted: 0, available: bytes.count)
        }
        offset = position
    }

    public mutating func bytes(_ n: Int) throws -> ArraySlice<UInt8> {
        try check(n)
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    public mutating func uint8() throws -> UInt8 {
        try check(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    /// An unsigned integer of `size` bytes (1...8) in the reader's byte order.
    @inline(__always) mutating func unsigned(_ size: Int) throws -> UInt64 {
        try check(size)
        var v: UInt64 = 0
        if order == .little {
            for i in stride(from: size - 1, through: 0, by: -1) { v = v << 8 | UInt64(bytes[offset + i]) }
        } else {
            for i in 0..<size { v = v << 8 | UInt64(bytes[offset + i]) }
        }
        offset += size
        return v
    }

    public mutating func uint16() throws -> UInt16 { UInt16(truncatingIfNeeded: try unsigned(2)) }
    public mutating func uint32() throws -> UInt32 { UInt32(truncatingIfNeeded: try unsigned(4)) }
    public mutating func uint64() throws -> UInt64 { try unsigned(8) }
    public mutating func int16() throws -> Int16 { Int16(bitPattern: try uint16()) }
    public mutating func int32() throws -> Int32 { Int32(bitPattern: try uint32()) }
    public mutating func int64() throws -> Int64 { Int64(bitPattern: try uint64()) }
    public mutating func float32() throws -> Float { Float(bitPattern: try uint32()) }
    public mutating func float64() throws -> Double { Double(bitPattern: try uint64()) }

    /// A fixed-width text field, cut at the first NUL and trimmed of trailing spaces.
    public mutating func string(_ n: Int) throws -> String {
        let raw = try bytes(n)
        let end = raw.firstIndex(of: 0) ?? raw.endIndex
        var s = String(decoding: raw[raw.startIndex..<end], as: UTF8.self)
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// Appends little- or big-endian fields to a byte array (the writer twin of `ByteReader`).
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []
    public var order: ByteOrder

    public init(order: ByteOrder = .little, capacity: Int = 0) {
        self.order = order
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) mutating func unsigned(_ v: UInt64, _ size: Int) {
        if order == .little {
            for i in 0..<size { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
        } else {
            for i in stride(from: size - 1, through: 0, by: -1) { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
        }
    }

    public mutating func uint8(_ v: UInt8) { bytes.append(v) }
    public mutating func uint16(_ v: UInt16) { unsigned(UInt64(v), 2) }
    public mutating func uint32(_ v: UInt32) { unsigned(UInt64(v), 4) }
    public mutating func uint64(_ v: UInt64) { unsigned(v, 8) }
    public mutating func int16(_ v: Int16) { uint16(UInt16(bitPattern: v)) }
    public mutating func int32(_ v: Int32) { uint32(UInt32(bitPattern: v)) }
    public mutating func int64(_ v: Int64) { uint64(UInt64(bitPattern: v)) }
    public mutating func float32(_ v: Float) { uint32(v.bitPattern) }
    public mutating func float64(_ v: Double) { uint64(v.bitPattern) }
    public mutating func append<S: Sequence>(contentsOf s: S) where S.Element == UInt8 { bytes.append(contentsOf: s) }

    /// A fixed-width text field: UTF-8, cut to `n` bytes, NUL-padded.
    public mutating func string(_ s: String, width n: Int) {
        var b = Array(s.utf8.prefix(n))
        b += [UInt8](repeating: 0, count: n - b.count)
        bytes.append(contentsOf: b)
    }

    public mutating func zeros(_ n: Int) { bytes.append(contentsOf: [UInt8](repeating: 0, count: n)) }
}
