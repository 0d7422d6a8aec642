import XCTest

@testable import MedVoxIO

final class ByteReaderTests: XCTestCase {
    func testBothByteOrdersRoundTrip() throws {
        for order in [ByteOrder.little, .big] {
            var w = ByteWriter(order: order)
            w.int16(-2)
            w.uint32(0xDEAD_BEEF)
            w.float64(-1.25)
            w.string("ab", width: 4)
            var r = ByteReader(w.bytes, order: order)
            XCTAssertEqual(try r.int16(), -2)
            XCTAssertEqual(try r.uint32(), 0xDEAD_BEEF)
            XCTAssertEqual(try r.float64(), -1.25)
            XCTAssertEqual(try r.string(4), "ab")
            XCTAssertTrue(r.isAtEnd)
        }
        XCTAssertEqual(ByteWriter(order: .big).bytesOf { $0.uint16(0x0102) }, [1, 2])
        XCTAssertEqual(ByteWriter(order: .little).bytesOf { $0.uint16(0x0102) }, [2, 1])
    }

    func testReadingPastTheEndThrows() {
        var r = ByteReader([1, 2, 3])
        XCTAssertThrowsError(try r.uint32())
        XCTAssertEqual(r.offset, 0)
        XCTAssertThrowsError(try r.skip(-1))
        XCTAssertThrowsError(try r.seek(to: 4))
    }
}

extension ByteWriter {
    func bytesOf(_ body: (inout ByteWriter) -> Void) -> [UInt8] {
        var w = self
        body(&w)
        return w.bytes
    }
}
