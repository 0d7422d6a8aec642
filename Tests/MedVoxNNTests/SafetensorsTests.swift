import Foundation
import MedVoxCore
import MedVoxTensor
import MedVoxTestSupport
import XCTest

@testable import MedVoxNN

/// Runs `python -c script args…` (`Python.executable`) and returns its standard output; fails the
/// test (never skips) when Python or its `safetensors`/`numpy` packages are missing.
func runPython(_ script: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) -> String? {
    let r: ProcessResult
    do { r = try Python.process(["-c", script] + args) } catch {
        XCTFail("cannot run the safetensors oracle: \(error)", file: file, line: line)
        return nil
    }
    guard r.status == 0 else {
        XCTFail("\(Python.executable) failed (did Tools/setup.sh run?): \(r.stderr)", file: file, line: line)
        return nil
    }
    return r.stdout
}

final class SafetensorsTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "medvox-st-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testRoundTripInSwiftAndModuleStateDict() throws {
        var rng = SeededGenerator(seed: 1)
        let net = UNet(spatialRank: 2, inChannels: 1, classes: 3, features: [2, 4], rng: &rng)
        let path = dir + "/unet.safetensors"
        try net.save(to: path, metadata: ["format": "pt", "model": "unet"])
        let (tensors, meta) = try Safetensors.read(path: path)
        XCTAssertEqual(meta, ["format": "pt", "model": "unet"])
        XCTAssertEqual(tensors, net.stateDict())
        var rng2 = SeededGenerator(seed: 2)
        let other = UNet(spatialRank: 2, inChannels: 1, classes: 3, features: [2, 4], rng: &rng2)
        XCTAssertNotEqual(other.stateDict(), net.stateDict())
        try other.load(from: path)
        XCTAssertEqual(other.stateDict(), net.stateDict())
        // A model of another shape refuses the file, naming file and tensor.
        let wrong = UNet(spatialRank: 2, inChannels: 1, classes: 2, features: [2, 4], rng: &rng2)
        XCTAssertThrowsError(try wrong.load(from: path)) { e in
            XCTAssertEqual(e as? CheckpointError, .shapeMismatch(path: path, name: "head.weight", expected: [2, 2, 1, 1], found: [3, 2, 1, 1]))
        }
    }

    func testMalformedFilesGiveErrorsNotCrashes() {
        let good = Safetensors.encode(["a": Tensor(shape: [2], storage: [1, 2])])
        XCTAssertNoThrow(try Safetensors.decode(good, path: "x"))
        var cases: [[UInt8]] = [[], [1, 2, 3], Array(good.prefix(20))]
        var hugeHeader = good
        hugeHeader[7] = 0x7F
        cases.append(hugeHeader)
        var badJSON = good
        badJSON[8] = UInt8(ascii: "[")
        cases.append(badJSON)
        cases.append(Array(good.dropLast(4)))  // data shorter than the offsets say
        for c in cases {
            XCTAssertThrowsError(try Safetensors.decode(c, path: "bad.safetensors")) { e in
                XCTAssertTrue("\(e)".hasPrefix("bad.safetensors: "), "\(e)")
            }
        }
        XCTAssertThrowsError(try Safetensors.read(path: dir + "/missing.safetensors"))
    }

    func testHalfAndBFloatConversion() throws {
        // Hand-built file: F16 [1, -2, 0.5, 65504, 2^-24] and BF16 [1, -3].
        let f16: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001]
        let bf16: [UInt16] = [0x3F80, 0xC040]
        var header = Array(#"{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[10,14]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var bytes = [UInt8(header.count), 0, 0, 0, 0, 0, 0, 0] + header
        for v in f16 + bf16 { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        let (t, _) = try Safetensors.decode(bytes, path: "h")
        XCTAssertEqual(t["h"]?.storage, [1, -2, 0.5, 65504, 0x1p-24])
        XCTAssertEqual(t["b"]?.storage, [1, -3])
    }

    func testPythonReadsWhatMedVoxWrites() throws {
        let tensors: [String: Tensor] = [
            "conv.weight": randomTensor([2, 1, 3, 3, 3], seed: 5),
            "bias": Tensor(shape: [3], storage: [0.1, -1e-30, 3.4e38]),
            "scalar_like": Tensor(shape: [1], storage: [-0.0]),
            "empty": Tensor(shape: [0, 4]),
        ]
        let path = dir + "/out.safetensors"
        try Safetensors.write(tensors, metadata: ["made_by": "medvox"], to: path)
        let script = """
            import json, sys
            from safetensors import safe_open
            out = {}
            with safe_open(sys.argv[1], framework="np") as f:
                meta = f.metadata()
                for k in f.keys():
                    a = f.get_tensor(k)
                    out[k] = {"dtype": str(a.dtype), "shape": list(a.shape), "bits": a.view("uint32").ravel().tolist()}
            print(json.dumps({"meta": meta, "tensors": out}))
            """
        guard let text = runPython(script, [path]) else { return }
        let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        XCTAssertEqual(json["meta"] as? [String: String], ["made_by": "medvox"])
        let read = json["tensors"] as! [String: [String: Any]]
        XCTAssertEqual(Set(read.keys), Set(tensors.keys))
        for (name, t) in tensors {
            XCTAssertEqual(read[name]?["dtype"] as? String, "float32")
            XCTAssertEqual(read[name]?["shape"] as? [Int], t.shape)
            XCTAssertEqual((read[name]?["bits"] as? [Int])?.map { UInt32($0) }, t.storage.map(\.bitPattern), name)
        }
    }

    func testMedVoxReadsWhatPythonWrites() throws {
        let path = dir + "/in.safetensors"
        let script = """
            import json, sys
            import numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(3)
            t = {
                "f32": rng.standard_normal((2, 3, 4)).astype(np.float32),
                "f64": rng.standard_normal((5,)).astype(np.float64),
                "f16": rng.standard_normal((3, 2)).astype(np.float16),
                "layer.0.weight": np.arange(6, dtype=np.float32).reshape(1, 2, 3),
            }
            save_file(t, sys.argv[1], metadata={"format": "np"})
            print(json.dumps({k: {"shape": list(v.shape), "values": v.astype(np.float32).astype(np.float64).ravel().tolist()} for k, v in t.items()}))
            """
        guard let text = runPython(script, [path]) else { return }
        let expected = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: [String: Any]]
        let (tensors, meta) = try Safetensors.read(path: path)
        XCTAssertEqual(meta, ["format": "np"])
        XCTAssertEqual(Set(tensors.keys), Set(expected.keys))
        for (name, e) in expected {
            XCTAssertEqual(tensors[name]?.shape, e["shape"] as? [Int], name)
            XCTAssertEqual(tensors[name]?.storage, (e["values"] as! [Double]).map { Float($0) }, name)
        }
    }
}
