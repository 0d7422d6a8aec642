/// A writer of the protocol buffers wire format (https://protobuf.dev/programming-guides/encoding/),
/// the counterpart of `ProtobufReader`, enough to encode ONNX files.
///
/// Each call appends one field: its tag `(field_number << 3) | wire_type` as a varint, then the
/// value in the layout of the wire type (see `ProtobufReader`). An embedded message is written
/// into its own writer and appended as a length-delimited value. Repeated fields are written one
/// record per value, as proto2 (`onnx.proto`) declares them.
///
/// ```swift
/// var w = ProtobufWriter()
/// w.int64(1, 8)                       // ModelProto.ir_version
/// w.message(8) { o in                 // ModelProto.opset_import
///     o.string(1, "")
///     o.int64(2, 17)
/// }
/// let bytes = w.bytes
/// ```
public struct ProtobufWriter {
    /// The encoded message so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Appends a base-128 varint, least significant group first.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends the tag of field `number` with `wire`.
    mutating func tag(_ number: Int, _ wire: ProtobufReader.WireType) {
        precondition(number >= 1 && number <= 0x1FFF_FFFF, "protobuf field number \(number) out of range")
        varint(UInt64(number) << 3 | UInt64(wire.rawValue))
    }

    /// An int64 / int32 / enum field (two's complement in a varint; a negative value takes 10 bytes).
    public mutating func int64(_ field: Int, _ value: Int64) {
        tag(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A float field (I32, little-endian).
    public mutating func float(_ field: Int, _ value: Float) {
        tag(field, .fixed32)
        appendLittleEndian(UInt64(value.bitPattern), width: 4)
    }

    /// A bytes field.
    public mutating func data(_ field: Int, _ value: [UInt8]) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes += value
    }

    /// A string field (UTF-8).
    public mutating func string(_ field: Int, _ value: String) { data(field, Array(value.utf8)) }

    /// An embedded message, written by `body` into a fresh writer.
    public mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        body(&inner)
        data(field, inner.bytes)
    }

    /// A repeated int64 field, one record per value (unpacked, as proto2 files such as ONNX's
    /// declare their repeated fields).
    public mutating func int64s(_ field: Int, _ values: [Int64]) {
        for v in values { int64(field, v) }
    }

    mutating func appendLittleEndian(_ v: UInt64, width: Int) {
        for i in 0..<width { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    /// The IEEE 754 single-precision values as little-endian bytes (ONNX `raw_data`).
    public static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * 4)
        for (i, v) in values.enumerated() {
            let b = v.bitPattern
            out[4 * i] = UInt8(truncatingIfNeeded: b)
            out[4 * i + 1] = UInt8(truncatingIfNeeded: b >> 8)
            out[4 * i + 2] = UInt8(truncatingIfNeeded: b >> 16)
            out[4 * i + 3] = UInt8(truncatingIfNeeded: b >> 24)
        }
        return out
    }
}
