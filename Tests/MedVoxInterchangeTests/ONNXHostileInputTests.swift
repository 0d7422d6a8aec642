import Foundation
import MedVoxCore
import MedVoxTestSupport
import XCTest

@testable import MedVoxInterchange

/// Protobuf bytes written by hand for hostile inputs (wire format as in ProtobufReader's doc).
enum PB {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        return out + [UInt8(v)]
    }
    /// A varint field.
    static func int(_ field: Int, _ v: Int64) -> [UInt8] { varint(UInt64(field << 3)) + varint(UInt64(bitPattern: v)) }
    /// A length-delimited field.
    static func len(_ field: Int, _ payload: [UInt8]) -> [UInt8] {
        varint(UInt64(field << 3 | 2)) + varint(UInt64(payload.count)) + payload
    }
    static func string(_ field: Int, _ s: String) -> [UInt8] { len(field, Array(s.utf8)) }
    /// A ModelProto around `graph` (GraphProto bytes): IR 7, opset 13.
    static func model(graph: [UInt8]) -> [UInt8] {
        int(1, 7) + len(7, graph) + len(8, int(2, 13))
    }
    /// A FLOAT TensorProto named `name` with `dims` and extra fields.
    static func tensor(_ name: String, dims: [Int64], _ extra: [UInt8] = []) -> [UInt8] {
        dims.flatMap { int(1, $0) } + int(2, 1) + string(8, name) + extra
    }
}

/// Hostile and broken ONNX files: each is refused with a typed error before any allocation the
/// file's sizes would drive.
final class ONNXHostileInputTests: XCTestCase {
    /// The error `body` throws, which must be a ModelFormatError.
    func modelError(_ body: () throws -> Void, _ message: String = "", line: UInt = #line) -> ModelFormatError? {
        do {
            try body()
            XCTFail("no error: \(message)", line: line)
        } catch let e as ModelFormatError {
            return e
        } catch {
            XCTFail("not a ModelFormatError: \(error)", line: line)
        }
        return nil
    }

    func testTruncatedAtEveryLength() throws {
        let bytes = try readWholeFile(try ONNXFixtures.path("conv_opset13"))
        var failures = 0
        for n in 0..<bytes.count {
            do {
                _ = try ONNXModel.decode(Array(bytes[..<n]), path: "cut.onnx")
            } catch let e as ModelFormatError {
                failures += 1
                XCTAssertFalse(e.description.contains("\n"), e.description)
                XCTAssertTrue(e.description.hasPrefix("cut.onnx: "), e.description)
            } catch {
                XCTFail("length \(n): not a ModelFormatError: \(error)")
            }
        }
        // onnx writes ModelProto fields in field-number order, so the two metadata_props entries
        // come last: a cut just before either of them is a complete model; every other cut fails.
        XCTAssertEqual(failures, bytes.count - 2, "only cuts before a trailing metadata_props entry may decode")
    }

    func testLengthOf2To60() {
        let huge = PB.varint(UInt64(7 << 3 | 2)) + PB.varint(1 << 60) + [0, 0, 0]
        let e = modelError { _ = try ONNXModel.decode(PB.int(1, 7) + huge, path: "huge.onnx") }
        guard case let .malformed(_, offset, context, reason)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(context, "ModelProto")
        XCTAssertEqual(offset, 2 + 1 + 9)
        XCTAssertTrue(reason.contains("1152921504606846976"), reason)
    }

    func testDeepNesting() {
        // TypeProto { sequence_type { elem_type: TypeProto { … tensor_type { elem_type: FLOAT } } } }, 100 deep.
        var type = PB.len(1, PB.int(1, 1))
        for _ in 0..<100 { type = PB.len(4, PB.len(1, type)) }
        let graph = PB.len(11, PB.string(1, "x") + PB.len(2, type))
        let e = modelError { _ = try ONNXModel.decode(PB.model(graph: graph), path: "deep.onnx") }
        guard case let .malformed(_, _, context, reason)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertTrue(reason.contains("nested deeper than \(ProtobufReader.maxDepth)"), reason)
        XCTAssertTrue(context.hasPrefix("ModelProto.graph.input[0].type.sequence_type.elem_type"), context)
        // 20 levels are fine.
        var shallow = PB.len(1, PB.int(1, 1))
        for _ in 0..<20 { shallow = PB.len(4, PB.len(1, shallow)) }
        XCTAssertNoThrow(try ONNXModel.decode(PB.model(graph: PB.len(11, PB.string(1, "x") + PB.len(2, shallow))), path: "ok.onnx"))
    }

    func testShapesThatOverflowOrExceedMemory() throws {
        func tensor(_ dims: [Int64], _ extra: [UInt8] = []) throws -> ONNXTensor {
            let m = try ONNXModel.decode(PB.model(graph: PB.len(5, PB.tensor("w", dims: dims, extra))), path: "dims.onnx")
            return m.graph.initializers[0]
        }
        let overflow = try tensor([1 << 40, 1 << 40, 1 << 40], PB.len(9, [0, 0, 0, 0]))
        guard case .invalidTensor(_, "w", let why)? = modelError({ _ = try overflow.elementCount() }) else { return }
        XCTAssertTrue(why.contains("64-bit"), why)
        XCTAssertNotNil(modelError { _ = try overflow.floats() })
        let m = try ONNXModel.decode(PB.model(graph: PB.len(5, PB.tensor("w", dims: [1 << 40, 1 << 40, 1 << 40]))), path: "dims.onnx")
        XCTAssertNotNil(modelError { _ = try m.summary() })
        // Fits a count but not the memory limit: refused before reading.
        let big = try tensor([1 << 40], PB.len(9, [0, 0, 0, 0]))
        guard case .invalidTensor(_, _, let why2)? = modelError({ _ = try big.floats() }) else { return }
        XCTAssertTrue(why2.contains("memory limit"), why2)
        XCTAssertNotNil(modelError { _ = try tensor([-1]).elementCount() })
        // Data and shape disagree.
        XCTAssertNotNil(modelError { _ = try tensor([2], PB.len(9, [0, 0, 0, 0])).floats() })
        XCTAssertNotNil(modelError { _ = try tensor([3]).floats() })
        XCTAssertEqual(try tensor([0]).floats(), [])
    }

    func testExternalDataIsConfinedToTheModelFolder() throws {
        let dir = try ScratchDirectory("medvox-onnx-external")
        defer { dir.cleanup() }
        let model = dir.path("m.onnx")
        // 2 floats, 1 and 2, at offset 4 of weights.bin.
        let floats: [Float] = [1, 2]
        try Data([9, 9, 9, 9] + floats.withUnsafeBytes { Array($0) }).write(to: dir.url.appendingPathComponent("weights.bin"))
        try Data([0, 0, 0, 0]).write(to: URL(fileURLWithPath: dir.url.deletingLastPathComponent().path + "/outside-\(getpid()).bin"))
        defer { try? FileManager.default.removeItem(atPath: dir.url.deletingLastPathComponent().path + "/outside-\(getpid()).bin") }
        try FileManager.default.createSymbolicLink(atPath: dir.path("link.bin"), withDestinationPath: "/etc/hostname")

        func external(_ entries: [(String, String)]) throws -> ONNXTensor {
            let kv = entries.flatMap { PB.len(13, PB.string(1, $0.0) + PB.string(2, $0.1)) }
            let bytes = PB.model(graph: PB.len(5, PB.tensor("w", dims: [2], kv + PB.int(14, 1))))
            return try ONNXModel.decode(bytes, path: model).graph.initializers[0]
        }
        XCTAssertEqual(try external([("location", "weights.bin"), ("offset", "4"), ("length", "8")]).floats(), [1, 2])
        let refusals: [([(String, String)], String)] = [
            ([("location", "../outside-\(getpid()).bin")], "leaves the model's folder"),
            ([("location", "/etc/hostname")], "absolute path"),
            ([("location", "link.bin")], "outside the model's folder"),
            ([("location", "missing.bin")], "no such file"),
            ([("offset", "0")], "no location"),
            ([("location", "weights.bin"), ("offset", "8"), ("length", "8")], "beyond the end"),
            ([("location", "weights.bin"), ("offset", "0"), ("length", "4")], "needs 8"),
            ([("location", "weights.bin"), ("offset", "-4"), ("length", "8")], "not a byte count"),
            ([("location", "weights.bin"), ("offset", "4"), ("length", "1152921504606846976")], "needs 8"),
        ]
        for (entries, reason) in refusals {
            let t = try external(entries)
            guard case let .externalData(_, "w", why)? = modelError({ _ = try t.floats() }, "\(entries)") else { continue }
            XCTAssertTrue(why.contains(reason), "\(entries): \(why)")
        }
    }

    func testStructuralRefusals() {
        let cases: [([UInt8], String)] = [
            (PB.int(1, 7) + PB.len(8, PB.int(2, 13)), "no graph"),
            (PB.int(1, 7) + PB.len(7, []), "no operator set"),
            (PB.len(7, []) + PB.len(8, PB.int(2, 13)), "ir_version"),
            (PB.model(graph: PB.len(1, PB.string(3, "n"))), "no op_type"),
            (PB.model(graph: PB.len(1, PB.string(4, "Relu") + PB.len(5, PB.int(3, 1)))), "without a name"),
            (PB.model(graph: PB.len(1, PB.string(4, "Relu") + PB.len(5, PB.string(1, "a") + PB.int(20, 99)))), "unknown type"),
            (PB.model(graph: PB.len(1, PB.string(4, "Relu") + PB.len(5, PB.string(1, "a") + PB.int(20, 4)))), "no tensor"),
            (PB.model(graph: PB.len(5, PB.tensor("w", dims: [1], PB.int(14, 7)))), "data_location"),
            (PB.model(graph: PB.len(5, PB.tensor("w", dims: [1], PB.int(2, 1 << 40)))), "int32"),
        ]
        for (bytes, reason) in cases {
            guard let e = modelError({ _ = try ONNXModel.decode(bytes, path: "s.onnx") }, reason) else { continue }
            XCTAssertTrue(e.description.contains(reason), "\(e) lacks \(reason)")
        }
        guard case .unsupported? = modelError({ _ = try ONNXModel.decode(PB.model(graph: PB.len(5, PB.len(3, PB.int(1, 0)))), path: "seg.onnx") }) else {
            return XCTFail("segment")
        }
    }

    func testLoadRefusesFilesAboveTheMemoryLimit() throws {
        let saved = Runtime.maxMemory
        defer { Runtime.maxMemory = saved }
        Runtime.maxMemory = 100
        XCTAssertThrowsError(try ONNXModel.load(path: try ONNXFixtures.path("conv_opset13"))) { e in
            guard case .tooLarge? = e as? FileError else { return XCTFail("\(e)") }
        }
    }
}
