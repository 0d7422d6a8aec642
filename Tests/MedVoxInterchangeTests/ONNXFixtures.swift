import Foundation
import MedVoxTestSupport

/// The ONNX fixtures, made once per test process by Fixtures/onnx/make_onnx_fixtures.py (onnx's
/// Python package, the oracle) into a temporary folder: NAME.onnx and NAME.json, what onnx reads.
enum ONNXFixtures {
    static let names = ["conv_opset13", "dynamic_opset17", "external_opset21"]

    nonisolated(unsafe) private static var made: Result<String, Error>?
    /// The folder to remove when the test process exits.
    nonisolated(unsafe) static var madeFolder = ""

    /// The folder holding the fixtures (a failure to make them fails the calling test).
    static func folder() throws -> String {
        if made == nil {
            made = Result {
                let dir = try ScratchDirectory("medvox-onnx-fixtures")
                madeFolder = dir.url.path
                atexit { try? FileManager.default.removeItem(atPath: ONNXFixtures.madeFolder) }
                let r = try Python.process([repositoryRoot + "/Fixtures/onnx/make_onnx_fixtures.py", dir.url.path])
                guard r.status == 0 else { throw ScriptFailed(description: "make_onnx_fixtures.py exited \(r.status): \(r.stderr)") }
                return dir.url.path
            }
        }
        return try made!.get()
    }

    struct ScriptFailed: Error, CustomStringConvertible { var description: String }

    static func path(_ name: String) throws -> String { try folder() + "/" + name + ".onnx" }

    static func oracle(_ name: String) throws -> Oracle {
        try JSONDecoder().decode(Oracle.self, from: Data(contentsOf: URL(fileURLWithPath: try folder() + "/" + name + ".json")))
    }

    /// The JSON written by make_onnx_fixtures.py's `dump`.
    struct Oracle: Decodable {
        struct OpsetID: Decodable { var domain: String; var version: Int64 }
        struct KeyValue: Decodable { var key: String; var value: String }
        struct Tensor: Decodable {
            var name: String, data_type: Int32, dims: [Int64], external: Bool
            var floats: [Double]?, ints: [Int64]?
        }
        struct Attribute: Decodable {
            var name: String, type: Int32
            var f: Double?, i: Int64?, s: String?, t: Tensor?
            var floats: [Double]?, ints: [Int64]?, strings: [String]?, unsupported: Bool?
        }
        struct Node: Decodable {
            var name: String, op_type: String, domain: String, inputs: [String], outputs: [String]
            var attributes: [Attribute]
        }
        /// A dimension: an Int (dim_value), a String (dim_param) or null.
        enum Dim: Decodable, Equatable {
            case value(Int64), param(String), unknown
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if c.decodeNil() { self = .unknown } else if let v = try? c.decode(Int64.self) { self = .value(v) } else {
                    self = .param(try c.decode(String.self))
                }
            }
        }
        struct TensorType: Decodable { var elem_type: Int32; var shape: [Dim]? }
        struct Value: Decodable { var name: String; var type: TensorType? }

        var ir_version: Int64, producer_name: String, producer_version: String
        var opsets: [OpsetID], metadata: [KeyValue], graph_name: String
        var nodes: [Node], initializers: [Tensor]
        var inputs: [Value], outputs: [Value], value_info: [Value]
        var op_counts: [String: Int], parameter_count: Int, runtime_inputs: [String]
    }
}
