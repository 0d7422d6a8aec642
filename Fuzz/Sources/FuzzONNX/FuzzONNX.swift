import Foundation
import FuzzSupport
import MedVoxCore
import MedVoxInterchange
import MedVoxNN

/// The folder the fuzzed model "lives" in: external data locations resolve against it. It holds
/// one 4 KiB file named as the seed model's external data, so offsets and lengths are exercised.
let modelFolder: String = {
    let dir = (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/medvox-fuzz-onnx-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let weights = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37) }
    FileManager.default.createFile(atPath: dir + "/external_opset21.weights.bin", contents: Data(weights))
    atexit { try? FileManager.default.removeItem(atPath: modelFolder) }
    return dir
}()

/// Every constant tensor's values, as the type allows (floats or integers).
func readValues(_ t: ONNXTensor) throws {
    switch t.dataType {
    case .float, .float16, .bfloat16, .double: _ = try t.floats()
    default: _ = try t.int64s()
    }
}

/// Bytes -> ONNXModel.decode (protobuf wire format, every message type), the summary, the
/// lowering into a graph and the executor's construction (checks, constant folding, fusion), and
/// the values of every initializer and TENSOR(S) attribute, including external data.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.start()
    let b = Array(UnsafeBufferPointer(start: data, count: size))
    Fuzz.expectCleanly {
        let m = try ONNXModel.decode(b, path: modelFolder + "/fuzz.onnx")
        Fuzz.expectCleanly { _ = try m.summary().description }
        // Lowering into MedVox's graph, and the executor's checks and constant folding.
        Fuzz.expectCleanly {
            let g = try ImportedGraph(onnx: m)
            _ = try GraphExecutor(graph: g.graph, weights: g.weights)
        }
        for t in m.graph.initializers { Fuzz.expectCleanly { try readValues(t) } }
        for n in m.graph.nodes {
            for a in n.attributes {
                switch a.value {
                case let .tensor(t): Fuzz.expectCleanly { try readValues(t) }
                case let .tensors(ts): for t in ts { Fuzz.expectCleanly { try readValues(t) } }
                default: break
                }
            }
        }
    }
    return 0
}

@_cdecl("FuzzONNX_main")
public func fuzzONNXMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    Fuzz.main(argc, argv, fuzzONNX)
}
