import Foundation
import MedVoxCore
import MedVoxTestSupport
import XCTest

@testable import MedVoxInterchange

/// The ONNX reader against the onnx Python package: every field MedVox decodes from the fixtures
/// equals what onnx reads from the same files.
final class ONNXReaderTests: XCTestCase {
    func testEveryFixtureMatchesOnnx() throws {
        for name in ONNXFixtures.names {
            let model = try ONNXModel.load(path: try ONNXFixtures.path(name))
            try compare(model, try ONNXFixtures.oracle(name), name)
        }
    }

    func compare(_ m: ONNXModel, _ o: ONNXFixtures.Oracle, _ file: String) throws {
        XCTAssertEqual(m.irVersion, o.ir_version, file)
        XCTAssertEqual(m.producerName, o.producer_name, file)
        XCTAssertEqual(m.producerVersion, o.producer_version, file)
        XCTAssertEqual(m.opsetImports.map(\.domain), o.opsets.map(\.domain), file)
        XCTAssertEqual(m.opsetImports.map(\.version), o.opsets.map(\.version), file)
        XCTAssertEqual(m.metadata.map(\.key), o.metadata.map(\.key), file)
        XCTAssertEqual(m.metadata.map(\.value), o.metadata.map(\.value), file)
        XCTAssertEqual(m.graph.name, o.graph_name, file)

        XCTAssertEqual(m.graph.nodes.count, o.nodes.count, file)
        for (n, e) in zip(m.graph.nodes, o.nodes) {
            let at = "\(file) node \(e.name)"
            XCTAssertEqual(n.name, e.name, at)
            XCTAssertEqual(n.opType, e.op_type, at)
            XCTAssertEqual(n.domain, e.domain, at)
            XCTAssertEqual(n.inputs, e.inputs, at)
            XCTAssertEqual(n.outputs, e.outputs, at)
            XCTAssertEqual(n.attributes.map(\.name), e.attributes.map(\.name), at)
            for (a, ea) in zip(n.attributes, e.attributes) {
                try compare(a, ea, at + " attribute " + ea.name)
            }
        }

        XCTAssertEqual(m.graph.initializers.map(\.name), o.initializers.map(\.name), file)
        for (t, e) in zip(m.graph.initializers, o.initializers) {
            try compare(t, e, "\(file) initializer \(e.name)")
        }

        for (mine, theirs, what) in [(m.graph.inputs, o.inputs, "input"), (m.graph.outputs, o.outputs, "output"),
                                     (m.graph.valueInfo, o.value_info, "value_info")] {
            XCTAssertEqual(mine.map(\.name), theirs.map(\.name), "\(file) \(what)")
            for (v, e) in zip(mine, theirs) { compare(v, e, "\(file) \(what) \(e.name)") }
        }

        let s = try m.summary()
        XCTAssertEqual(s.parameterCount, o.parameter_count, file)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: s.operators.map { ($0.opType, $0.count) }), o.op_counts, file)
        XCTAssertEqual(s.inputs.map(\.name), o.runtime_inputs, file)
        XCTAssertEqual(s.outputs.map(\.name), o.outputs.map(\.name), file)
        XCTAssertEqual(s.opsets, m.opsetImports, file)
        for op in o.op_counts.keys { XCTAssertTrue(s.description.contains(op), "\(file): summary lacks \(op)") }
        XCTAssertTrue(s.description.contains("parameters: \(o.parameter_count)"), s.description)
    }

    func compare(_ a: ONNXAttribute, _ e: ONNXFixtures.Oracle.Attribute, _ at: String) throws {
        XCTAssertEqual(a.kind.rawValue, e.type, at)
        if let f = e.f { XCTAssertEqual(a.float, Float(f), at) }
        if let i = e.i { XCTAssertEqual(a.int, i, at) }
        if let s = e.s { XCTAssertEqual(a.string, s, at) }
        if let fs = e.floats { XCTAssertEqual(a.floats, fs.map { Float($0) }, at) }
        if let ints = e.ints { XCTAssertEqual(a.ints, ints, at) }
        if let ss = e.strings {
            guard case let .strings(v) = a.value else { return XCTFail("\(at): not STRINGS") }
            XCTAssertEqual(v.map { String(decoding: $0, as: UTF8.self) }, ss, at)
        }
        if let t = e.t {
            guard let mine = a.tensor else { return XCTFail("\(at): not a TENSOR") }
            try compare(mine, t, at)
        }
        if e.unsupported == true {
            guard case .unsupported = a.value else { return XCTFail("\(at): expected an unsupported marker") }
        }
    }

    func compare(_ t: ONNXTensor, _ e: ONNXFixtures.Oracle.Tensor, _ at: String) throws {
        XCTAssertEqual(t.name, e.name, at)
        XCTAssertEqual(t.dataType.rawValue, e.data_type, at)
        XCTAssertEqual(t.dims, e.dims, at)
        XCTAssertEqual(t.isExternal, e.external, at)
        if let f = e.floats {
            // Float(Double) is how DOUBLE tensors are narrowed; the other float types are exact.
            XCTAssertEqual(try t.floats(), f.map { Float($0) }, at)
        }
        if let i = e.ints { XCTAssertEqual(try t.int64s(), i, at) }
        XCTAssertTrue(e.floats != nil || e.ints != nil, "\(at): the oracle gave no values")
    }

    func compare(_ v: ONNXValueInfo, _ e: ONNXFixtures.Oracle.Value, _ at: String) {
        guard let et = e.type else { return XCTAssertNil(v.type, at) }
        guard case let .tensor(element, shape)? = v.type else { return XCTFail("\(at): not a tensor type: \(String(describing: v.type))") }
        XCTAssertEqual(element.rawValue, et.elem_type, at)
        let mine = shape?.map { d -> ONNXFixtures.Oracle.Dim in
            switch d {
            case let .value(x): return .value(x)
            case let .param(p): return .param(p)
            case .unknown: return .unknown
            }
        }
        XCTAssertEqual(mine, et.shape, at)
    }

    /// The fixtures exercise what the issue names: opsets 13, 17 and 21, dynamic axes, external
    /// data, graph attributes kept as unsupported markers, omitted inputs.
    func testFixturesCoverTheIssueCases() throws {
        let conv = try ONNXModel.load(path: try ONNXFixtures.path("conv_opset13"))
        let dynamic = try ONNXModel.load(path: try ONNXFixtures.path("dynamic_opset17"))
        let external = try ONNXModel.load(path: try ONNXFixtures.path("external_opset21"))
        XCTAssertEqual([conv, dynamic, external].map(\.defaultOpset), [13, 17, 21])
        XCTAssertTrue(external.graph.initializers.allSatisfy(\.isExternal))
        XCTAssertTrue(external.graph.initializers.allSatisfy { $0.rawData == nil })
        XCTAssertTrue(conv.graph.initializers.contains { !$0.floatData.isEmpty })
        XCTAssertTrue(conv.graph.initializers.contains { !$0.int64Data.isEmpty })
        XCTAssertTrue(conv.graph.initializers.contains { !$0.int32Data.isEmpty })
        guard case .tensor(_, let shape?)? = dynamic.graph.inputs[0].type else { return XCTFail("no input shape") }
        XCTAssertEqual(shape, [.param("batch"), .value(1), .param("H"), .param("W")])
        let branch = dynamic.graph.nodes.first { $0.opType == "If" }?.attribute("then_branch")
        guard case .unsupported("GRAPH")? = branch?.value else { return XCTFail("then_branch: \(String(describing: branch?.value))") }
        XCTAssertEqual(dynamic.graph.nodes.first { $0.opType == "Resize" }?.inputs, ["i1", "", "scales"])
    }

    /// Half-precision conversion by hand: the corner values of IEEE 754 binary16.
    func testHalfToFloat() {
        XCTAssertEqual(floatFromHalf(0x3C00), 1)
        XCTAssertEqual(floatFromHalf(0xC000), -2)
        XCTAssertEqual(floatFromHalf(0x7BFF), 65504)
        XCTAssertEqual(floatFromHalf(0x0001), Float(sign: .plus, exponent: -24, significand: 1))
        XCTAssertEqual(floatFromHalf(0x8000).sign, .minus)
        XCTAssertEqual(floatFromHalf(0x7C00), .infinity)
        XCTAssertTrue(floatFromHalf(0x7E00).isNaN)
        XCTAssertEqual(floatFromHalf(0x0400), Float(sign: .plus, exponent: -14, significand: 1))
    }
}
