import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxNN
import MedVoxTransforms

/// A shipped or trained model: `Models/NAME.json` (this card) beside `Models/NAME.safetensors`.
///
/// The card says everything needed to run the model exactly as it was trained (architecture,
/// expected input, the preprocessing pipeline), what it outputs (labels or classes with names and
/// colours), how it was made (command, data provenance, recipe) and how well it does
/// (evaluation figures), plus the SHA-256 of its weights file.
///
/// ```json
/// {"schemaVersion": 1, "name": "brain-tissue", "version": "1.0.0", "task": "segmentation",
///  "architecture": {"kind": "unet", "spatialRank": 3, "inChannels": 1, "classes": 4,
///                   "features": [16, 32, 64, 128, 256]},
///  "labels": [{"value": 0, "name": "background"}, {"value": 1, "name": "CSF", "color": [...]}],
///  "input": {"modality": "MR", "contrast": "T1w", "spacing": [1, 1, 1], "patchSize": [96, 96, 96]},
///  "preprocessing": {"version": 1, "steps": [...]},
///  "training": {...}, "evaluation": {...},
///  "weights": {"file": "brain-tissue.safetensors", "sha256": "…"}}
/// ```
public struct ModelCard: Codable, Sendable, Equatable {
    public var schemaVersion: Int = 1
    public var name: String
    public var version: String
    public var task: Task
    public var description: String = ""
    public var architecture: Architecture
    /// Segmentation: one entry per label value (0 = background). Classification: one per class
    /// index, in output order.
    public var labels: [LabelInfo]
    public var input: InputSpec
    public var preprocessing: PreprocessPipeline
    public var training: TrainingInfo?
    /// Evaluation figures by name (e.g. "dice.GM", "auc"), and the recipe of the held-out data.
    public var evaluation: Evaluation?
    public var weights: WeightsInfo
    /// Temperature scaling of the classifier's logits, fitted on validation data (optional).
    public var calibration: Calibration? = nil
    /// Which clean-up the segmentation gets after argmax (optional; see `PostprocessSpec`).
    public var postprocessing: PostprocessSpec? = nil

    public enum Task: String, Codable, Sendable { case segmentation, classification }

    public struct Architecture: Codable, Sendable, Equatable {
        /// "unet", "resnet", or "graph" (an imported network, run by MedVoxNN's `GraphExecutor`).
        public var kind: String
        public var spatialRank: Int
        public var inChannels: Int
        public var classes: Int
        /// U-Net features per level.
        public var features: [Int]?
        /// ResNet stage widths.
        public var widths: [Int]?
        /// Imported networks ("graph"): the graph file (MedVoxNN `Graph` JSON) beside the card and
        /// its SHA-256. The network's spatial axes are the volume's i, j, k, as MONAI loads arrays.
        public var graph: WeightsInfo?
        /// Imported networks: spatial sizes must be multiples of this (the encoder's total stride).
        public var sizeMultiple: Int?
        /// Imported networks with a fixed input: the spatial sizes (i, j, k) the network takes.
        public var inputSize: [Int]?
        /// Imported networks: the output is already a probability (the graph ends in a softmax).
        public var outputIsProbability: Bool?
        public init(kind: String, spatialRank: Int, inChannels: Int, classes: Int, features: [Int]? = nil, widths: [Int]? = nil,
                    graph: WeightsInfo? = nil, sizeMultiple: Int? = nil, inputSize: [Int]? = nil, outputIsProbability: Bool? = nil) {
            self.kind = kind
            self.spatialRank = spatialRank
            self.inChannels = inChannels
            self.classes = classes
            self.features = features
            self.widths = widths
            self.graph = graph
            self.sizeMultiple = sizeMultiple
            self.inputSize = inputSize
            self.outputIsProbability = outputIsProbability
        }
    }

    public struct LabelInfo: Codable, Sendable, Equatable {
        public var value: Int
        public var name: String
        /// RGB 0–255 for overlays (nil: the fixed label colour table).
        public var color: [Int]?
        public init(value: Int, name: String, color: [Int]? = nil) {
            self.value = value
            self.name = name
            self.color = color
        }
    }

    public struct InputSpec: Codable, Sendable, Equatable {
        /// DICOM modality the model expects ("MR", "CT").
        public var modality: String
        /// Contrast or sequence, e.g. "T1w" (free text).
        public var contrast: String?
        /// Voxel spacing (mm) the network sees after preprocessing.
        public var spacing: [Double]
        /// Patch (window) size the network was trained on, i/j/k order (2D models: two entries).
        public var patchSize: [Int]
        /// Intensity range seen in training after preprocessing (for out-of-range warnings).
        public var intensityRange: [Double]?
        public init(modality: String, contrast: String? = nil, spacing: [Double], patchSize: [Int], intensityRange: [Double]? = nil) {
            self.modality = modality
            self.contrast = contrast
            self.spacing = spacing
            self.patchSize = patchSize
            self.intensityRange = intensityRange
        }
    }

    public struct TrainingInfo: Codable, Sendable, Equatable {
        /// The exact command that produced the weights.
        public var command: String
        /// Where the data came from and how to get it again.
        public var data: String
        /// Settings (learning rate, schedule, augmentation, steps …) by name.
        public var recipe: [String: String]
        public var steps: Int?
        public var seconds: Double?
        public init(command: String, data: String, recipe: [String: String] = [:], steps: Int? = nil, seconds: Double? = nil) {
            self.command = command
            self.data = data
            self.recipe = recipe
            self.steps = steps
            self.seconds = seconds
        }
    }

    public struct Evaluation: Codable, Sendable, Equatable {
        /// How the held-out cases were made or chosen.
        public var data: String
        /// Figures by name, e.g. "dice.GM": 0.91, "hd95.GM": 1.7, "auc": 0.97.
        public var metrics: [String: Double]
        /// Classification confusion matrix [truth][predicted], when relevant.
        public var confusion: [[Int]]?
        public init(data: String, metrics: [String: Double], confusion: [[Int]]? = nil) {
            self.data = data
            self.metrics = metrics
            self.confusion = confusion
        }
    }

    public struct WeightsInfo: Codable, Sendable, Equatable {
        /// File name relative to the card's folder.
        public var file: String
        /// Lower-case hex SHA-256 of the weights file.
        public var sha256: String
        public init(file: String, sha256: String) {
            self.file = file
            self.sha256 = sha256
        }
    }

    public init(
        name: String, version: String, task: Task, description: String = "", architecture: Architecture,
        labels: [LabelInfo], input: InputSpec, preprocessing: PreprocessPipeline, training: TrainingInfo? = nil,
        evaluation: Evaluation? = nil, weights: WeightsInfo
    ) {
        self.name = name
        self.version = version
        self.task = task
        self.description = description
        self.architecture = architecture
        self.labels = labels
        self.input = input
        self.preprocessing = preprocessing
        self.training = training
        self.evaluation = evaluation
        self.weights = weights
    }
}

/// Errors loading a model.
public enum ModelError: MedVoxError {
    case notFound(name: String, searched: [String])
    case invalidCard(path: String, reason: String)
    case checksumMismatch(path: String, expected: String, actual: String)
    case architectureMismatch(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notFound(name, searched):
            return "model '\(name)' not found (looked in: \(searched.joined(separator: ", ")))"
        case let .invalidCard(path, reason): return "\(path): not a valid model card: \(reason)"
        case let .checksumMismatch(path, expected, actual):
            return "\(path): weights SHA-256 is \(actual), but the card says \(expected)"
        case let .architectureMismatch(path, reason): return "\(path): weights do not fit the card's architecture: \(reason)"
        }
    }
}

extension ModelCard {
    /// Reads and validates a card (JSON) from `path`.
    public static func read(_ path: String) throws -> ModelCard {
        // readWholeFile, not Data(contentsOf:): Foundation leaks a buffer on empty files.
        let data = Data(try readWholeFile(path))
        guard !data.isEmpty else { throw ModelError.invalidCard(path: path, reason: "the file is empty") }
        let card: ModelCard
        do { card = try JSONDecoder().decode(ModelCard.self, from: data) } catch let e as DecodingError {
            throw ModelError.invalidCard(path: path, reason: Self.describe(e))
        }
        try card.validate(path: path)
        return card
    }

    /// Checks the card's own consistency (sizes, ranks, labels).
    public func validate(path: String) throws {
        func fail(_ r: String) -> ModelError { .invalidCard(path: path, reason: r) }
        guard schemaVersion == 1 else { throw fail("unsupported schemaVersion \(schemaVersion)") }
        guard architecture.spatialRank == 2 || architecture.spatialRank == 3 else {
            throw fail("spatialRank must be 2 or 3")
        }
        guard (1...64).contains(architecture.inChannels), (1...1000).contains(architecture.classes) else {
            throw fail("inChannels or classes out of range")
        }
        guard labels.count == architecture.classes else {
            throw fail("\(labels.count) labels for \(architecture.classes) classes")
        }
        guard input.patchSize.count == architecture.spatialRank || input.patchSize.count == 3,
            input.patchSize.allSatisfy({ (1...1024).contains($0) })
        else { throw fail("patchSize must have one size (1…1024) per axis") }
        guard input.spacing.count == 3, input.spacing.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw fail("spacing must be three positive numbers")
        }
        switch architecture.kind {
        case "unet":
            guard let f = architecture.features, f.count >= 2, f.allSatisfy({ (1...4096).contains($0) }) else {
                throw fail("a unet needs at least two feature counts")
            }
        case "resnet":
            guard let w = architecture.widths, !w.isEmpty, w.allSatisfy({ (1...4096).contains($0) }) else {
                throw fail("a resnet needs stage widths")
            }
        case "graph":
            guard let g = architecture.graph, !g.file.isEmpty, !g.file.contains("/"), !g.file.hasPrefix(".") else {
                throw fail("an imported (graph) model needs a graph file beside the card")
            }
            guard (1...1024).contains(architecture.sizeMultiple ?? 1) else { throw fail("sizeMultiple must be 1…1024") }
            if let s = architecture.inputSize {
                guard s.count == architecture.spatialRank, s.allSatisfy({ (1...4096).contains($0) }) else {
                    throw fail("inputSize must have one size (1…4096) per spatial axis")
                }
            }
        default: throw fail("unknown architecture kind '\(architecture.kind)'")
        }
        guard !weights.file.contains("/"), !weights.file.hasPrefix(".") else {
            throw fail("weights file must be a plain name beside the card")
        }
    }

    /// The card as pretty-printed JSON with sorted keys (stable diffs).
    public func encoded() -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? e.encode(self)) ?? Data()
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case let .keyNotFound(key, ctx): return "missing '\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx):
            return "wrong type at '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'"
        case let .dataCorrupted(ctx): return ctx.debugDescription
        @unknown default: return "\(e)"
        }
    }
}
