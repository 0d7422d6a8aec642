import Foundation
import MedVoxCore
import MedVoxInference
import MedVoxInterchange
import MedVoxNN
import MedVoxTensor
import MedVoxTestSupport
import MedVoxTransforms
import XCTest

/// `ONNXExport`: every shipped model and tiny 2D and 3D U-Nets trained from a seed, exported and run in
/// onnxruntime and OpenVINO (through `$MEDVOX_PYTHON`) on a seeded input, agree with MedVox's own forward pass
/// within 1e-4 of the output's scale; `onnx.checker.check_model(full_check=True)` passes; the
/// card travels in the file's metadata.
final class ONNXExportTests: XCTestCase {
    /// Checks the file, runs it in onnxruntime and in OpenVINO (fp32) on the float64 values of
    /// `input` (cast to float32, shape `shape`) and writes the outputs as float64 (OpenVINO's to
    /// OUT.openvino); prints the output's shape and name.
    static let oracle = """
        import sys, numpy as np, onnx, onnxruntime as ort
        path, inp, shape, out = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(',')], sys.argv[4]
        onnx.checker.check_model(onnx.load(path), full_check=True)
        m = onnx.load(path)
        assert m.ir_version == 8, m.ir_version
        assert [(o.domain, o.version) for o in m.opset_import] == [('', 17)], m.opset_import
        x = np.fromfile(inp, '<f8').astype(np.float32).reshape(shape)
        o = ort.SessionOptions(); o.intra_op_num_threads = 1
        s = ort.InferenceSession(path, o, providers=['CPUExecutionProvider'])
        (y,) = s.run(None, {'image': x})
        y.astype(np.float64).tofile(out)
        import openvino as ov
        core = ov.Core()
        c = core.compile_model(core.read_model(path), 'CPU', {'INFERENCE_PRECISION_HINT': 'f32', 'INFERENCE_NUM_THREADS': 1})
        np.asarray(c.create_infer_request().infer({0: x})[0], np.float64).tofile(out + '.openvino')
        print(','.join(map(str, y.shape)), s.get_outputs()[0].name)
        """

    /// MedVox's logits and onnxruntime's on the exported file for one seeded input of `spatial` size.
    func compare(_ model: LoadedModel, spatial: [Int], seed: UInt64, file: StaticString = #filePath, line: UInt = #line) throws {
        let scratch = try ScratchDirectory("medvox-onnx-export")
        defer { scratch.cleanup() }
        let shape = [1, model.card.architecture.inChannels] + spatial
        var rng = SeededGenerator(seed: seed)
        let x = Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in Float(rng.normal()) })
        let expected = withoutGradients { model.network(Variable(x)).value }
        let onnxPath = scratch.path("model.onnx")
        try ONNXExport.write(model.network, name: model.card.name, metadata: model.card.onnxMetadata, to: onnxPath)
        try Python.writeDoubles(x.storage.map(Double.init), to: scratch.path("x.f64"))
        let printed = try Python.run(Self.oracle, [onnxPath, scratch.path("x.f64"), shape.map(String.init).joined(separator: ","), scratch.path("y.f64")])
        XCTAssertEqual(printed.trimmingCharacters(in: .whitespacesAndNewlines),
                       expected.shape.map(String.init).joined(separator: ",") + " logits", file: file, line: line)
        let scale = expected.storage.reduce(0) { max($0, abs(Double($1))) }
        XCTAssertGreaterThan(scale, 0, file: file, line: line)
        for (runtime, suffix) in [("onnxruntime", ""), ("OpenVINO", ".openvino")] {
            let err = maxAbsError(try Python.readDoubles(scratch.path("y.f64" + suffix)), expected.storage)
            XCTAssertLessThanOrEqual(err, 1e-4 * scale, "\(model.card.name): max |\(runtime) − MedVox| \(err), scale \(scale)", file: file, line: line)
        }
    }

    func testShippedModelsRunInOnnxruntime() throws {
        let dir = repositoryRoot + "/Models"
        let cards = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertEqual(cards.count, 3, "\(cards)")
        for (i, c) in cards.enumerated() {
            let model = try LoadedModel.load(dir + "/" + c)
            try compare(model, spatial: model.card.input.patchSize.prefix(model.card.architecture.spatialRank).map { $0 }, seed: UInt64(i))
        }
    }

    /// A tiny U-Net trained from a seed: the 1-D parameters (norm affines, biases) drawn at random
    /// so each one shows in the output, then five Adam steps of Dice + cross-entropy on a seeded
    /// image and label map; saved as a card with `brain-tissue`'s preprocessing.
    func tinyUNet(rank: Int, folder: String, seed: UInt64) throws -> LoadedModel {
        var card = try ModelCard.read(repositoryRoot + "/Models/brain-tissue.json")
        card.name = "tiny-\(rank)d"
        card.architecture = .init(kind: "unet", spatialRank: rank, inChannels: 2, classes: 3, features: [4, 8, 16])
        card.labels = (0..<3).map { ModelCard.LabelInfo(value: $0, name: "l\($0)") }
        card.input.patchSize = [Int](repeating: 16, count: rank)
        var rng = SeededGenerator(seed: seed)
        let net = card.makeNetwork(rng: &rng)
        for (_, p) in net.namedParameters() where p.shape.count == 1 {
            for j in 0..<p.value.count { p.value.storage[j] = Float(0.5 + rng.uniform(0, 1)) * (j % 2 == 0 ? 1 : -1) }
        }
        let shape = [2, 2] + card.input.patchSize
        let image = Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in Float(rng.normal()) })
        let label = Tensor(shape: [2, 1] + card.input.patchSize, storage: (0..<(image.count / 2)).map { _ in Float(Int(rng.uniform(0, 3)) % 3) })
        let opt = Adam(net.parameters(), learningRate: 0.01)
        for _ in 0..<5 {
            opt.zeroGrad()
            diceCrossEntropyLoss(net(Variable(image)), target: label).backward()
            opt.step()
        }
        net.setTraining(false)
        let weights = folder + "/\(card.name).safetensors"
        try Safetensors.write(net.stateDict(), to: weights)
        card.weights = .init(file: "\(card.name).safetensors", sha256: SHA256.hash(try readWholeFile(weights)).hex)
        try AtomicFile.write(Array(card.encoded()), to: folder + "/\(card.name).json")
        return try LoadedModel.load(folder + "/\(card.name).json")
    }

    func testTrainedTinyUNetsRunInOnnxruntime() throws {
        let scratch = try ScratchDirectory("medvox-onnx-tiny")
        defer { scratch.cleanup() }
        try compare(try tinyUNet(rank: 2, folder: scratch.url.path, seed: 7), spatial: [24, 20], seed: 11)
        try compare(try tinyUNet(rank: 3, folder: scratch.url.path, seed: 8), spatial: [16, 12, 20], seed: 12)
    }

    /// The file decodes with MedVox's own reader: opset, IR version, the nodes the table in
    /// `ONNXExport` promises, weights under their checkpoint names, and the card in the metadata.
    func testExportReadsBackWithTheCardInItsMetadata() throws {
        let model = try LoadedModel.load(repositoryRoot + "/Models/brain-tissue-2d.json")
        let built = try ONNXExport.build(model.network, name: model.card.name, metadata: model.card.onnxMetadata)
        let m = try ONNXModel.decode(built.encoded(), path: "export.onnx")
        XCTAssertEqual(m.irVersion, 8)
        XCTAssertEqual(m.defaultOpset, 17)
        XCTAssertEqual(Set(m.graph.nodes.map(\.opType)),
                       ["Conv", "InstanceNormalization", "LeakyRelu", "MaxPool", "ConvTranspose", "Concat", "Identity"])
        XCTAssertEqual(m.graph.runtimeInputs.map(\.name), ["image"])
        XCTAssertEqual(m.graph.outputs.map(\.name), ["logits"])
        let state = model.network.stateDict()
        XCTAssertEqual(Set(m.graph.initializers.map(\.name)), Set(state.keys))
        for t in m.graph.initializers {
            XCTAssertEqual(try t.floats(), state[t.name]!.storage, t.name)
        }
        let meta = Dictionary(uniqueKeysWithValues: m.metadata.map { ($0.key, $0.value) })
        XCTAssertEqual(meta["medvox.output"], "logits")
        let card = try JSONDecoder().decode(ModelCard.self, from: Data(meta["medvox.card"]!.utf8))
        XCTAssertEqual(card, model.card)
        let steps = try JSONDecoder().decode(PreprocessPipeline.self, from: Data(meta["medvox.preprocessing"]!.utf8))
        XCTAssertEqual(steps, model.card.preprocessing)
    }
}
