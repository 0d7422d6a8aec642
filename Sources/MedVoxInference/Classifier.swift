import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxNN
import MedVoxTensor
import MedVoxTransforms

/// What `Classifier.classify` returns.
public struct ClassificationResult: Sendable, Codable, Equatable {
    /// Class names in the model's output order.
    public var classes: [String]
    /// Calibrated probabilities (softmax of logits / temperature), in class order.
    public var probabilities: [Double]
    /// Uncalibrated softmax probabilities (temperature 1).
    public var rawProbabilities: [Double]
    public var topIndex: Int
    public var topClass: String
    /// The top class's calibrated probability.
    public var confidence: Double
    /// The temperature used (1 when the card has no calibration).
    public var temperature: Double
    /// Input/model mismatches worth telling the user (modality, spacing).
    public var warnings: [String]
    /// Wall-clock seconds of preprocessing and of the forward pass.
    public var seconds: [String: Double]
}

/// Runs a classification model: preprocess as the card says, one forward pass in inference mode
/// (no graph), softmax with the card's temperature (temperature scaling; 1 when absent).
///
/// ```swift
/// let r = try Classifier(model: try LoadedModel.load("brain-qc")).classify(try ImageFile.read("t1.nii.gz"))
/// print(r.topClass, r.confidence)
/// ```
public final class Classifier {
    public let model: LoadedModel

    public init(model: LoadedModel) throws {
        guard model.card.task == .classification else {
            throw InferenceError.wrongTask(model: model.card.name, expected: "classification")
        }
        if let t = model.card.calibration?.temperature, !(t > 0 && t.isFinite) {
            throw ModelError.invalidCard(path: model.cardPath, reason: "calibration temperature must be positive, got \(t)")
        }
        self.model = model
        model.network.setTraining(false)
    }

    /// Classifies `volume` (`modality` from the DICOM header when known).
    public func classify(_ volume: Volume, modality: String? = nil) throws -> ClassificationResult {
        let card = model.card
        let cin = card.architecture.inChannels
        guard volume.frames == cin else {
            throw InferenceError.channelMismatch(model: card.name, expected: cin, actual: volume.frames)
        }
        var t0 = Date()
        let pre = try card.preprocessing.apply(to: volume)
        var seconds = ["preprocess": Date().timeIntervalSince(t0)]
        let img = pre.image
        let shape = card.architecture.spatialRank == 3
            ? [1, cin, img.nz, img.ny, img.nx] : [1, cin * img.nz, img.ny, img.nx]
        // Rough activation bound: stem width × 6 maps of the input size.
        let bytes = img.voxels.count * 4 * (6 * (card.architecture.widths?.first ?? 16) + 2)
        guard bytes <= Runtime.maxMemory else {
            throw InferenceError.tooLarge(what: "classifying a \(img.shape3) volume", bytes: bytes, limit: Runtime.maxMemory)
        }
        t0 = Date()
        let logits = withoutGradients { model.network(Variable(Tensor(shape: shape, storage: img.voxels))).value }
        seconds["forward"] = Date().timeIntervalSince(t0)
        let temperature = card.calibration?.temperature ?? 1
        let z = logits.storage.map(Double.init)
        let calibrated = softmax(z.map { $0 / temperature })
        let top = calibrated.indices.max { calibrated[$0] < calibrated[$1] }!
        return ClassificationResult(
            classes: card.labels.map(\.name), probabilities: calibrated, rawProbabilities: softmax(z),
            topIndex: top, topClass: card.labels[top].name, confidence: calibrated[top], temperature: temperature,
            warnings: Segmenter.inputWarnings(card: card, volume: volume, modality: modality), seconds: seconds)
    }

    func softmax(_ z: [Double]) -> [Double] {
        let m = z.max() ?? 0
        let e = z.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

/// A three-plane preview (axial, coronal, sagittal through the centre) of `image` with `mask`
/// drawn over it in label colours, radiological convention, for `--preview`.
public func segmentationPreview(image: Volume, mask: Volume) throws -> RasterImage {
    try SliceRenderer(volume: image.frames > 1 ? image.frame(0) : image, overlay: mask).threePlane().raster
}
