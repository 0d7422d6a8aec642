import XCTest

@testable import MedVoxInterchange

/// The wire-format reader on hand-made bytes (values from the protobuf encoding guide).
final class ProtobufReaderTests: XCTestCase {
    func reader(_ bytes: [UInt8]) -> ProtobufReader { ProtobufReader(bytes, path: "t.pb", context: "Test") }

    func testVarintsAndTags() throws {
        // Field 1 = 150 (the guide's example: 08 96 01), field 2 = -1 as int64 (10 bytes).
        var r = reader([0x08, 0x96, 0x01, 0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        var f = try XCTUnwrap(try r.nextField())
        XCTAssertEqual(f.number, 1)
        XCTAssertEqual(try r.int64(f.wire), 150)
        f = try XCTUnwrap(try r.nextField())
        XCTAssertEqual(f.number, 2)
        XCTAssertEqual(try r.int64(f.wire), -1)
        XCTAssertNil(try r.nextField())
    }

    func testZigzagFixedAndStrings() throws {
        // sint64 field 1 = -2 (03), fixed32 float field 2 = 1.5, double field 3 = -0.25, string field 4 = "hi".
        var r = reader([0x08, 0x03, 0x15, 0x00, 0x00, 0xC0, 0x3F, 0x19, 0, 0, 0, 0, 0, 0, 0xD0, 0xBF, 0x22, 0x02, 0x68, 0x69])
        XCTAssertEqual(try r.sint64(try XCTUnwrap(try r.nextField()).wire), -2)
        XCTAssertEqual(try r.float(try XCTUnwrap(try r.nextField()).wire), 1.5)
        XCTAssertEqual(try r.double(try XCTUnwrap(try r.nextField()).wire), -0.25)
        XCTAssertEqual(try r.string(try XCTUnwrap(try r.nextField()).wire), "hi")
        XCTAssertTrue(r.isAtEnd)
    }

    func testPackedAndUnpackedRepeated() throws {
        // Field 4 packed [3, 270, 86942] (the guide's example), then one unpacked 7.
        var r = reader([0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05, 0x20, 0x07])
        var values: [Int64] = []
        while let (_, wire) = try r.nextField() {
            try r.repeated(wire, scalar: .varint, into: &values) { try $0.int64($1) }
        }
        XCTAssertEqual(values, [3, 270, 86942, 7])
        // Packed floats whose length is not a multiple of 4.
        var bad = reader([0x0A, 0x03, 0, 0, 0])
        var floats: [Float] = []
        let (_, wire) = try XCTUnwrap(try bad.nextField())
        XCTAssertThrowsError(try bad.repeated(wire, scalar: .fixed32, into: &floats) { try $0.float($1) })
    }

    func testRefusals() {
        func fails(_ bytes: [UInt8], _ reason: String, _ body: (inout ProtobufReader) throws -> Void) {
            var r = reader(bytes)
            XCTAssertThrowsError(try body(&r)) { e in
                guard case let .malformed(_, _, _, why)? = e as? ModelFormatError else { return XCTFail("\(e)") }
                XCTAssertTrue(why.contains(reason), "\(why) lacks \(reason)")
            }
        }
        let skipAll: (inout ProtobufReader) throws -> Void = { r in while let (_, w) = try r.nextField() { try r.skip(w) } }
        fails([0x08, 0x80], "past the end", skipAll)
        fails([0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01], "longer than 64 bits", skipAll)
        fails([0x0B], "groups", skipAll)
        fails([0x0E], "invalid wire type", skipAll)
        fails([0x00, 0x00], "invalid field number", skipAll)
        fails([0x0A, 0x05, 0x01], "exceeds", skipAll)
        fails([0x0D, 0x00], "fixed32", skipAll)
        // A length of 2^60.
        fails([0x0A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], "exceeds", skipAll)
        fails([0x08, 0x01], "wire type", { r in _ = try r.string(try r.nextField()!.wire) })
    }
}
