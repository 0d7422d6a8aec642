import Foundation
import MedVoxInterchange
import MedVoxNN
import MedVoxTensor
import MedVoxTestSupport
import XCTest

/// The graph interpreter against onnxruntime: every graph of Fixtures/onnx/make_graph_cases.py
/// (one or a few operators each, in opset 13 and 18+ forms, with broadcasting, asymmetric pads,
/// groups, dilation, 1D/2D/3D convolutions, transposed convolutions, Resize modes, Einsum forms and
/// dynamic axes) imported from its ONNX file and run by `GraphExecutor`; every output within 1e-4
/// of the largest expected magnitude, NaN failing.
final class GraphExecutorTests: XCTestCase {
    struct Case: Decodable {
        struct Run: Decodable { var inputs: [[Int]], outputs: [[Int]] }
        var name: String
        var inputs: [[Int]], outputs: [[Int]]
        var alt: Run?
    }

    nonisolated(unsafe) private static var made: Result<String, Error>?

    /// The folder of cases, made once per test process.
    static func folder() throws -> String {
        if made == nil {
            made = Result {
                let dir = try ScratchDirectory("medvox-graph-cases")
                let r = try Python.process([repositoryRoot + "/Fixtures/onnx/make_graph_cases.py", dir.url.path])
                guard r.status == 0 else { throw ONNXFixtures.ScriptFailed(description: "make_graph_cases.py exited \(r.status): \(r.stderr)") }
                return dir.url.path
            }
        }
        return try made!.get()
    }

    static func cases() throws -> [Case] {
        try JSONDecoder().decode([Case].self, from: Data(contentsOf: URL(fileURLWithPath: try folder() + "/cases.json")))
    }

    static func floats(_ path: String, _ shape: [Int]) throws -> Tensor {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let values = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return Tensor(shape: shape, storage: values)
    }

    /// Outputs compared so far (a guard against a run that compares nothing).
    private var compared = 0

    /// Why the run of `c` (files `prefix.in*`, `prefix.out*`) disagrees with onnxruntime, or nil.
    func mismatch(_ exec: GraphExecutor, prefix: String, inputs: [[Int]], outputs: [[Int]]) throws -> String? {
        let xs = try inputs.enumerated().map { try Self.floats("\(prefix).in\($0.offset).bin", $0.element) }
        let ys = try exec.run(xs)
        guard ys.count == outputs.count else { return "\(ys.count) outputs, expected \(outputs.count)" }
        for (k, (y, shape)) in zip(ys, outputs).enumerated() {
            let e = try Self.floats("\(prefix).out\(k).bin", shape)
            guard y.shape == shape else { return "output \(k): shape \(y.shape), expected \(shape)" }
            let scale = max(e.storage.map { abs(Double($0)) }.max() ?? 0, 1e-6)
            if let f = closenessFailure(y.storage, e.storage, rtol: 0, atol: 1e-4 * scale) { return "output \(k): \(f)" }
            compared += 1
        }
        return nil
    }

    func testEveryCaseMatchesOnnxruntime() throws {
        let dir = try Self.folder()
        let all = try Self.cases()
        XCTAssertGreaterThanOrEqual(all.count, 30)
        for c in all {
            do {
                let g = try ImportedGraph.load(path: "\(dir)/\(c.name).onnx")
                let exec = try GraphExecutor(graph: g.graph, weights: g.weights)
                if let m = try mismatch(exec, prefix: "\(dir)/\(c.name)", inputs: c.inputs, outputs: c.outputs) { XCTFail("\(c.name): \(m)") }
                // The cached plan gives the same result on a second run.
                if let m = try mismatch(exec, prefix: "\(dir)/\(c.name)", inputs: c.inputs, outputs: c.outputs) { XCTFail("\(c.name) (planned): \(m)") }
                if let alt = c.alt {
                    if let m = try mismatch(exec, prefix: "\(dir)/\(c.name).alt", inputs: alt.inputs, outputs: alt.outputs) {
                        XCTFail("\(c.name) at a second size: \(m)")
                    }
                    XCTAssertEqual(exec.planCount, 2, c.name)
                }
            } catch {
                XCTFail("\(c.name): \(error)")
            }
        }
        XCTAssertGreaterThanOrEqual(compared, 2 * 60, "outputs compared")
    }

    /// Conv → InstanceNorm → LeakyReLU and Conv → BatchNorm → ReLU each run as one node.
    func testConvolutionChainsAreFused() throws {
        let dir = try Self.folder()
        for name in ["conv3d_instancenorm_leakyrelu", "conv_batchnorm_relu", "conv3d_relu_dynamic"] {
            let g = try ImportedGraph.load(path: "\(dir)/\(name).onnx")
            let exec = try GraphExecutor(graph: g.graph, weights: g.weights)
            XCTAssertEqual(exec.graph.nodes.map(\.op), ["MedVoxConv"], name)
        }
    }

    /// Shape arithmetic on dynamic axes folds into the plan: the second run executes only the data ops.
    func testGraphRoundTripsThroughJSON() throws {
        let dir = try Self.folder()
        let g = try ImportedGraph.load(path: "\(dir)/dynamic_reshape_chain.onnx")
        let data = try JSONEncoder().encode(g.graph)
        XCTAssertEqual(try JSONDecoder().decode(Graph.self, from: data), g.graph)
    }

    /// A graph input of the wrong shape is refused with the expected shape named.
    func testWrongInputShapeIsAnError() throws {
        let dir = try Self.folder()
        let g = try ImportedGraph.load(path: "\(dir)/conv2d.onnx")
        let exec = try GraphExecutor(graph: g.graph, weights: g.weights)
        XCTAssertThrowsError(try exec.run([Tensor(shape: [1, 3, 9, 11])])) { e in
            XCTAssertTrue("\(e)".contains("[1, 4, 9, 11]"), "\(e)")
        }
    }

    /// Shapes a graph file controls are bounded: each hostile node is an error naming the node,
    /// never a crash or an unbounded allocation.
    func testHostileShapesAreErrors() throws {
        let x = GraphInput(name: "x", shape: [1, 1, 4, 4])
        let huge = GraphIntegerConstant(name: "huge", shape: [4], values: [1 << 20, 1 << 20, 1 << 20, 4])
        let cases: [(GraphNode, [GraphIntegerConstant])] = [
            (GraphNode(name: "expand", op: "Expand", inputs: ["x", "huge"], outputs: ["y"]), [huge]),
            (GraphNode(name: "fill", op: "ConstantOfShape", inputs: ["huge"], outputs: ["y"]), [huge]),
            (GraphNode(name: "reshape", op: "Reshape", inputs: ["x", "big"], outputs: ["y"]),
             [GraphIntegerConstant(name: "big", shape: [3], values: [Int.max / 2, 4, -1])]),
            (GraphNode(name: "pad", op: "Pad", inputs: ["x", "pads"], outputs: ["y"]),
             [GraphIntegerConstant(name: "pads", shape: [8], values: [0, 0, 1 << 30, 1 << 30, 0, 0, 1 << 30, 1 << 30])]),
            (GraphNode(name: "split", op: "Split", inputs: ["x"], outputs: ["y"], attributes: ["num_outputs": GraphAttribute(int: 0)]), []),
            (GraphNode(name: "pool", op: "MaxPool", inputs: ["x"], outputs: ["y"],
                       attributes: ["kernel_shape": GraphAttribute(ints: [1, 1]), "pads": GraphAttribute(ints: [1 << 40, 0, 0, 0])]), []),
            (GraphNode(name: "resize", op: "Resize", inputs: ["x", "", "s"], outputs: ["y"]), []),
        ]
        for (node, ints) in cases {
            let g = Graph(inputs: [x], outputs: ["y"], nodes: [node], integerConstants: ints)
            let weights = node.op == "Resize" ? ["s": Tensor(shape: [4], storage: [1, 1, 1e9, 1e9])] : [:]
            XCTAssertThrowsError(try GraphExecutor(graph: g, weights: weights).run([Tensor(shape: [1, 1, 4, 4])]), node.name) { e in
                XCTAssertTrue("\(e)".contains("'\(node.name)'"), "\(e)")
            }
        }
    }
}
