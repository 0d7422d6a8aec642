import XCTest

@testable import MedVoxInterchange

/// The wire-format writer against the encoding guide's bytes and against `ProtobufReader`, and
/// `ONNXModelBuilder`'s output read back by `ONNXModel`.
final class ProtobufWriterTests: XCTestCase {
    func testGuideBytes() {
        var w = ProtobufWriter()
        w.int64(1, 150)
        w.int64(2, -1)
        w.float(2, 1.5)
        w.string(4, "hi")
        XCTAssertEqual(w.bytes, [0x08, 0x96, 0x01, 0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01]
                       + [0x15, 0x00, 0x00, 0xC0, 0x3F, 0x22, 0x02, 0x68, 0x69])
    }

    func testRoundTripThroughTheReader() throws {
        let values: [Int64] = [0, 1, 127, 128, 300, Int64.max, Int64.min, -5]
        var w = ProtobufWriter()
        w.int64s(3, values)
        w.message(7) { m in
            m.string(1, "naïve")
            m.data(2, [0, 255, 7])
            m.float(3, -0.0625)
        }
        var r = ProtobufReader(w.bytes, path: "t.pb", context: "Test")
        var ints: [Int64] = []
        for _ in values {
            let f = try XCTUnwrap(try r.nextField())
            XCTAssertEqual(f.number, 3)
            try r.repeated(f.wire, scalar: .varint, into: &ints) { try $0.int64($1) }
        }
        XCTAssertEqual(ints, values)
        let f = try XCTUnwrap(try r.nextField())
        var m = try r.message(f.wire, context: "m")
        XCTAssertEqual(try m.string(try XCTUnwrap(try m.nextField()).wire), "naïve")
        XCTAssertEqual(try m.data(try XCTUnwrap(try m.nextField()).wire), [0, 255, 7])
        XCTAssertEqual(try m.float(try XCTUnwrap(try m.nextField()).wire), -0.0625)
        XCTAssertTrue(m.isAtEnd && r.isAtEnd)
    }

    func testBuiltModelReadsBack() throws {
        var b = ONNXModelBuilder(graphName: "tiny", opset: 17, irVersion: 8)
        b.addInput("x", [.param("batch"), .value(1), .param("i"), .param("j")])
        let w = b.initializer("conv.weight", dims: [2, 1, 3, 3], values: (0..<18).map { Float($0) / 4 })
        let y = b.node("Conv", ["x", w, ""], name: "conv", attributes: [.ints("pads", [1, 1, 1, 1]), .int("group", 1)])
        let z = b.node("LeakyRelu", [y], name: "act", attributes: [.float("alpha", 0.01), .string("note", "s")])
        b.addOutput(z, [.param("batch"), .value(2), .param("i"), .param("j")])
        b.metadata = [("k", "v")]
        let m = try ONNXModel.decode(b.encoded(), path: "tiny.onnx")
        XCTAssertEqual(m.irVersion, 8)
        XCTAssertEqual(m.defaultOpset, 17)
        XCTAssertEqual(m.producerName, "medvox")
        XCTAssertEqual(m.graph.name, "tiny")
        XCTAssertEqual(m.graph.nodes.map(\.opType), ["Conv", "LeakyRelu"])
        XCTAssertEqual(m.graph.nodes[0].inputs, ["x", "conv.weight", ""])
        XCTAssertEqual(m.graph.nodes[1].inputs, ["conv"])
        guard case let .ints(pads)? = m.graph.nodes[0].attribute("pads")?.value else { return XCTFail("pads") }
        XCTAssertEqual(pads, [1, 1, 1, 1])
        guard case let .float(alpha)? = m.graph.nodes[1].attribute("alpha")?.value else { return XCTFail("alpha") }
        XCTAssertEqual(alpha, 0.01)
        XCTAssertEqual(try m.graph.initializers[0].shape(), [2, 1, 3, 3])
        XCTAssertEqual(try m.graph.initializers[0].floats(), (0..<18).map { Float($0) / 4 })
        XCTAssertEqual(m.graph.inputs[0].type, .tensor(elementType: .float, shape: [.param("batch"), .value(1), .param("i"), .param("j")]))
        XCTAssertEqual(m.graph.outputs.map(\.name), ["act"])
        XCTAssertEqual(m.metadata.map { [$0.key, $0.value] }, [["k", "v"]])
    }
}
