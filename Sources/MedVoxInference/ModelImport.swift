import Foundation
import MedVoxCore
import MedVoxInterchange
import MedVoxNN
import MedVoxTensor
import MedVoxTransforms

/// `medvox import`: an ONNX network becomes a MedVox model — `DIR/NAME.json` (a card like the
/// shipped ones, kind "graph"), `DIR/NAME.safetensors` (its float constants) and
/// `DIR/NAME.graph.json` (the graph without its weights), the card holding both files' SHA-256.
///
/// The network is checked before anything is written: every operator and attribute supported
/// (else one error listing them all), one float input `[N, C, spatial…]` with a fixed channel
/// count, and one trial run, which also gives the number of classes.
public struct ModelImport {
    /// What the import flags describe.
    public struct Options: Sendable {
        public var task: ModelCard.Task?
        public var labels: [String]?
        public var modality = "MR"
        public var contrast: String?
        /// Voxel spacing (mm) the network was trained at; when given, the card reorients to RAS
        /// and resamples to it.
        public var spacing: [Double]?
        /// "zscore", "percentile:LO,HI", "range:LO,HI" or "none".
        public var normalize = "none"
        /// Patch (window) size, i, j, k.
        public var patch: [Int]?
        /// "auto", "yes" (outputs are logits: MedVox applies softmax) or "no" (outputs are
        /// probabilities already).
        public var softmax = "auto"
        /// The command line, recorded in the card.
        public var command = ""
        public init() {}
    }

    /// Reads, checks and writes the model; returns the card written to `prefix + ".json"`.
    public static func run(onnx path: String, to prefix: String, options o: Options) throws -> ModelCard {
        let imported = try ImportedGraph.load(path: path)
        let graph = imported.graph
        func fail(_ reason: String) -> ModelError { .invalidCard(path: path, reason: reason) }
        guard graph.inputs.count == 1, let shape = graph.inputs[0].shape, shape.count == 4 || shape.count == 5 else {
            throw fail("MedVox runs networks with one input [N, C, H, W] or [N, C, D, H, W]; this one takes \(graph.inputs.map { "\($0.name) \($0.shape.map { "\($0.map { $0.map(String.init) ?? "?" })" } ?? "rank unknown")" })")
        }
        guard let channels = shape[1] else { throw fail("the input's channel axis (axis 1) must have a fixed size") }
        guard shape[0] == nil || shape[0] == 1 else { throw fail("the input's batch axis is fixed at \(shape[0]!); export with batch 1 or a dynamic batch") }
        let rank = shape.count - 2
        let fixed: [Int]? = shape[2...].allSatisfy { $0 != nil } ? shape[2...].map { $0! } : nil
        let multiple = min(graph.downsamplingFactor, 1024)
        if let p = o.patch {
            guard p.count == rank else { throw fail("--patch has \(p.count) sizes for a network with \(rank) spatial axes") }
            if let fixed, fixed != p { throw fail("the network takes a fixed input of \(fixed) (i, j, k); --patch must match or be left out") }
            if fixed == nil, let bad = p.first(where: { $0 % multiple != 0 }) {
                throw fail("--patch size \(bad) is not a multiple of \(multiple), the network's total stride")
            }
        }
        let exec: GraphExecutor
        do { exec = try GraphExecutor(graph: graph, weights: imported.weights) } catch { throw fail("\(error)") }
        // One trial run: at the fixed size, or the smallest size the strides allow (at least 2·stride).
        let trial = fixed ?? [Int](repeating: max(2 * multiple, 16), count: rank)
        let outShape: [Int]
        do { outShape = try exec.run([Tensor(shape: [1, channels] + trial)])[0].shape } catch {
            throw fail("the network does not run on a [1, \(channels), \(trial.map(String.init).joined(separator: ", "))] input: \(error)")
        }
        guard outShape.count >= 2, outShape[0] == 1 else { throw fail("the output \(outShape) is not [1, classes, …]") }
        let task = o.task ?? (outShape.count == 2 ? .classification : .segmentation)
        if task == .segmentation {
            guard outShape.count == rank + 2, Array(outShape[2...]) == trial else {
                throw fail("a segmentation network must output [1, classes] + the input's spatial size; on \(trial) it gives \(outShape)")
            }
        }
        let classes = outShape[1] * (task == .classification ? outShape[2...].reduce(1, *) : 1)
        let names = o.labels ?? (task == .segmentation ? ["background"] + (1..<classes).map { "label\($0)" } : (0..<classes).map { "class\($0)" })
        guard names.count == classes else { throw fail("--labels names \(names.count) classes, the network outputs \(classes)") }
        let probability: Bool
        switch o.softmax {
        case "yes": probability = false
        case "no": probability = true
        default: probability = graph.outputIsSoftmax()
        }
        let patch = o.patch ?? fixed ?? [Int](repeating: rank == 3 ? 96 : 256, count: rank).map { roundUp($0, multiple) }
        var steps: [PreprocessStep] = []
        if let s = o.spacing {
            steps.append(.reorient("RAS"))
            steps.append(.resample(spacing: s, interpolation: .linear))
        }
        if task == .classification, let fixed { steps.append(.padCrop(rank == 3 ? fixed : fixed + [1])) }
        if let n = try normalization(o.normalize) { steps.append(n) }

        // Files: weights, graph, then the card, each written atomically; a failure removes the others.
        let folder = URL(fileURLWithPath: prefix).deletingLastPathComponent().path
        let base = URL(fileURLWithPath: prefix).lastPathComponent
        guard !base.isEmpty, !base.hasPrefix(".") else { throw fail("-o needs DIR/NAME, got '\(prefix)'") }
        let weightBytes = Safetensors.encode(imported.weights, metadata: ["source": URL(fileURLWithPath: path).lastPathComponent])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let graphBytes = [UInt8](try encoder.encode(graph))
        let sourceDigest = SHA256.hash(try readWholeFile(path)).hex
        let arch = ModelCard.Architecture(
            kind: "graph", spatialRank: rank, inChannels: channels, classes: classes,
            graph: .init(file: base + ".graph.json", sha256: SHA256.hash(graphBytes).hex), sizeMultiple: multiple, inputSize: fixed,
            outputIsProbability: probability)
        let labels = names.enumerated().map { ModelCard.LabelInfo(value: $0.offset, name: $0.element) }
        let input = ModelCard.InputSpec(modality: o.modality, contrast: o.contrast, spacing: o.spacing ?? [1, 1, 1],
                                        patchSize: rank == 3 ? patch : patch + [1])
        let card = ModelCard(
            name: base, version: "1.0.0", task: task,
            description: "imported from \(URL(fileURLWithPath: path).lastPathComponent) (sha256 \(sourceDigest))",
            architecture: arch, labels: labels, input: input, preprocessing: PreprocessPipeline(steps: steps),
            training: ModelCard.TrainingInfo(command: o.command, data: "not trained by MedVox: imported from an ONNX file"),
            weights: .init(file: base + ".safetensors", sha256: SHA256.hash(weightBytes).hex))
        try card.validate(path: prefix + ".json")
        let files = [(folder + "/" + base + ".safetensors", weightBytes), (folder + "/" + base + ".graph.json", graphBytes),
                     (folder + "/" + base + ".json", [UInt8](card.encoded()))]
        var written: [String] = []
        do {
            for (p, bytes) in files {
                try AtomicFile.write(bytes, to: p)
                written.append(p)
            }
        } catch {
            for p in written { try? FileManager.default.removeItem(atPath: p) }
            throw error
        }
        return card
    }

    static func roundUp(_ x: Int, _ m: Int) -> Int { max(m, (x + m - 1) / m * m) }

    /// The normalisation step of `--normalize`: zscore, percentile:LO,HI, range:LO,HI (clip and
    /// scale to [0, 1], MONAI's ScaleIntensityRange) or none.
    public static func normalization(_ text: String) throws -> PreprocessStep? {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let v = parts.count > 1 ? parts[1].split(separator: ",").compactMap { Double($0) } : []
        switch (parts.first ?? "", v.count) {
        case ("none", 0): return nil
        case ("zscore", 0): return .zscore()
        case ("percentile", 2) where v[0] >= 0 && v[0] < v[1] && v[1] <= 100: return .percentile(lower: v[0], upper: v[1])
        case ("range", 2) where v[0] < v[1]: return .ctWindow(low: v[0], high: v[1])
        default:
            throw TransformError.invalidParameter(name: "normalize", value: text, expected: "zscore, percentile:LO,HI, range:LO,HI or none")
        }
    }
}

/// `medvox run`: the network once on a whole volume as stored — no reorientation, resampling,
/// normalisation or sliding window — for checking an imported model against its source runtime.
public enum RawRun {
    /// The network's outputs on `volume` (its frames as the input channels): every output channel
    /// a frame of a 4D volume on the input's grid (a classifier's C outputs as a 1×1×1×C image
    /// with the input's affine). Imported networks see `[1, C, i, j, k]` (as MONAI loads the
    /// array), native ones `[1, C, k, j, i]`; a 2D network needs a single slice (k = 1).
    public static func apply(_ model: LoadedModel, to volume: Volume) throws -> Volume {
        let card = model.card
        let c = volume.frames
        guard c == card.architecture.inChannels else {
            throw InferenceError.channelMismatch(model: card.name, expected: card.architecture.inChannels, actual: c)
        }
        let rank = card.architecture.spatialRank
        guard rank == 3 || volume.nz == 1 else {
            throw ModelError.architectureMismatch(path: model.cardPath, reason: "a 2D network runs on one slice (k = 1); the input has \(volume.nz)")
        }
        let native = rank == 3 ? [1, c, volume.nz, volume.ny, volume.nx] : [1, c, volume.ny, volume.nx]
        let x = Tensor(shape: native, storage: volume.voxels)
        var y: Tensor
        if let g = model.network as? GraphNetwork {
            do { y = try g.run(reversingSpatialAxes(x)) } catch { throw ModelError.architectureMismatch(path: model.cardPath, reason: "\(error)") }
            if y.rank > 2 { y = reversingSpatialAxes(y) }
        } else {
            y = withoutGradients { model.network(Variable(x)).value }
        }
        if y.rank == 2 || y.shape[2...].reduce(1, *) == 1 {
            let out = y.storage
            return Volume(dims: [1, 1, 1, out.count], spacing: volume.spacing, affine: volume.affine, voxels: out)
        }
        let spatial = rank == 3 ? [volume.nz, volume.ny, volume.nx] : [volume.ny, volume.nx]
        guard y.rank == rank + 2, Array(y.shape[2...]) == spatial else {
            throw ModelError.architectureMismatch(path: model.cardPath, reason: "the output \(y.shape) is not on the input's grid \(spatial.reversed())")
        }
        return Volume(dims: volume.shape3 + [y.shape[1]], spacing: volume.spacing, affine: volume.affine, voxels: y.storage)
    }
}
