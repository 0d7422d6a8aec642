import Foundation
import MedVoxCore
import MedVoxInference
import MedVoxNN
import MedVoxTensor
import MedVoxTransforms

/// A held-out item: a whole preprocessed volume with its reference labels or class.
public struct HeldOutItem: Sendable {
    public var image: Volume
    public var label: Volume?
    public var classIndex: Int?
    public init(image: Volume, label: Volume? = nil, classIndex: Int? = nil) {
        self.image = image
        self.label = label
        self.classIndex = classIndex
    }
}

/// Label prediction with a U-Net exactly as `medvox segment` runs it on a preprocessed volume:
/// the `Segmenter`'s sliding window of the training patch size (50% overlap, Gaussian blending),
/// softmax and argmax. Returns the label map on the volume's grid (no post-processing).
public func predictLabels(_ net: UNet, _ image: Volume, patch: [Int]) throws -> Volume {
    let card = ModelCard(
        name: "training", version: "0", task: .segmentation,
        architecture: .init(kind: "unet", spatialRank: net.spatialRank, inChannels: 1, classes: net.classes, features: net.features),
        labels: (0..<net.classes).map { .init(value: $0, name: "\($0)") },
        input: .init(modality: "MR", spacing: image.spacing, patchSize: net.spatialRank == 3 ? patch : Array(patch.prefix(2))),
        preprocessing: PreprocessPipeline(steps: []), weights: .init(file: "none", sha256: ""))
    let wasQuiet = Progress.quiet
    Progress.quiet = true
    defer { Progress.quiet = wasQuiet }
    let seg = try Segmenter(model: LoadedModel(card: card, network: net, cardPath: "training"))
    let run = try seg.slidingWindow(image: image.voxels, dims: image.shape3, window: try seg.chooseWindow(dims: image.shape3))
    var out = image.withVoxels(run.labels.map(Float.init))
    out.storedType = .uint8
    return out
}

/// Class logits of a classifier for one fixed-shape image.
public func predictLogits(_ net: Module, _ image: Volume, spatialRank: Int) -> [Double] {
    let shape = spatialRank == 3 ? [1, 1, image.nz, image.ny, image.nx] : [1, 1, image.ny, image.nx]
    let z = withoutGradients { net(Variable(Tensor(shape: shape, storage: image.voxels))).value }
    return z.storage.map(Double.init)
}

/// Segmentation figures over held-out items: per-label mean Dice and HD95 (mm) and the mean
/// foreground Dice ("dice.mean"); labels absent from both maps of an item are left out of its means.
public func evaluateSegmentation(_ net: UNet, items: [HeldOutItem], labelNames: [String], patch: [Int], withDistances: Bool) throws -> [String: Double] {
    var sums: [String: (Double, Int)] = [:]
    func add(_ k: String, _ v: Double?) {
        guard let v, v.isFinite else { return }
        let s = sums[k] ?? (0, 0)
        sums[k] = (s.0 + v, s.1 + 1)
    }
    for item in items {
        let pred = try predictLabels(net, item.image, patch: patch)
        let labels = Array(1..<labelNames.count)
        if withDistances {
            let scores = segmentationScores(prediction: pred.voxels, reference: item.label!.voxels, dims: pred.shape3,
                                            spacing: pred.spacing, labels: labels)
            var diceSum = 0.0, n = 0
            for s in scores {
                add("dice.\(labelNames[s.label])", s.dice)
                add("hd95.\(labelNames[s.label])", s.hd95)
                if let d = s.dice { diceSum += d; n += 1 }
            }
            add("dice.mean", n > 0 ? diceSum / Double(n) : nil)
        } else {
            var diceSum = 0.0, n = 0
            for l in labels {
                var a = 0, b = 0, both = 0
                let lf = Float(l)
                for (p, r) in zip(pred.voxels, item.label!.voxels) {
                    let x = p == lf, y = r == lf
                    if x { a += 1 }
                    if y { b += 1 }
                    if x && y { both += 1 }
                }
                if a + b > 0 {
                    let d = 2 * Double(both) / Double(a + b)
                    add("dice.\(labelNames[l])", d)
                    diceSum += d
                    n += 1
                }
            }
            add("dice.mean", n > 0 ? diceSum / Double(n) : nil)
        }
    }
    return sums.mapValues { $0.0 / Double($0.1) }
}

/// Classification figures over held-out items: accuracy, balanced accuracy, macro AUC (and per
/// class), expected calibration error, and the confusion matrix [truth][predicted].
public func evaluateClassification(_ net: Module, items: [HeldOutItem], classNames: [String], spatialRank: Int, temperature: Double = 1)
    -> (metrics: [String: Double], confusion: [[Int]])
{
    let probs = classProbabilities(logits: items.map { predictLogits(net, $0.image, spatialRank: spatialRank) }, temperature: temperature)
    let s = classificationScores(truth: items.map { $0.classIndex! }, probabilities: probs, classes: classNames.count)
    var m: [String: Double] = ["accuracy": s.accuracy, "balanced_accuracy": s.balancedAccuracy, "ece": s.expectedCalibrationError]
    if let a = s.macroAUC { m["auc"] = a }
    for (c, a) in s.aucPerClass.enumerated() { if let a { m["auc.\(classNames[c])"] = a } }
    return (m, s.confusion)
}
