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

/// Whole-volume label prediction with a U-Net, for validation during training and the card's
/// evaluation: 3D models see the volume zero-padded at the end of each axis up to a multiple of
/// the network's size multiple; 2D models see its k-slices in batches. Returns the argmax label
/// map on the volume's grid.
public func predictLabels(_ net: UNet, _ image: Volume) -> Volume {
    let d = image.shape3, m = net.sizeMultiple
    func up(_ n: Int) -> Int { (n + m - 1) / m * m }
    let classes = net.classes
    var out = image.withVoxels([Float](repeating: 0, count: image.frameCount))
    let plane = d[0] * d[1]
    // Pads k-slices `ks` to [count, 1, py, px] or one [1, 1, pz, py, px] volume; writes argmax back.
    func run(_ ks: Range<Int>, threeD: Bool) {
        let (px, py) = (up(d[0]), up(d[1]))
        let pz = threeD ? up(d[2]) : 1
        let items = threeD ? 1 : ks.count
        var x = [Float](repeating: 0, count: items * pz * py * px)
        for (n, k) in ks.enumerated() {
            for j in 0..<d[1] {
                let src = (k * d[1] + j) * d[0]
                let dst = ((threeD ? k * py : n * pz * py) + j) * px
                for i in 0..<d[0] { x[dst + i] = image.voxels[src + i] }
            }
        }
        let shape = threeD ? [1, 1, pz, py, px] : [items, 1, py, px]
        let p = net.predict(Tensor(shape: shape, storage: x))
        let inner = pz * py * px
        for (n, k) in ks.enumerated() {
            for j in 0..<d[1] {
                for i in 0..<d[0] {
                    let s = threeD ? (k * py + j) * px + i : (j * px + i)
                    let base = (threeD ? 0 : n) * classes * inner + s
                    var best = 0
                    var bv = p.storage[base]
                    for c in 1..<classes where p.storage[base + c * inner] > bv {
                        bv = p.storage[base + c * inner]
                        best = c
                    }
                    out.voxels[k * plane + j * d[0] + i] = Float(best)
                }
            }
        }
    }
    if net.spatialRank == 3 {
        run(0..<d[2], threeD: true)
    } else {
        var k = 0
        while k < d[2] {
            run(k..<min(d[2], k + 16), threeD: false)
            k += 16
        }
    }
    out.storedType = .uint8
    return out
}

/// Class probabilities of a classifier for one fixed-shape image.
public func predictProbabilities(_ net: Module, _ image: Volume, spatialRank: Int) -> [Double] {
    let shape = spatialRank == 3 ? [1, 1, image.nz, image.ny, image.nx] : [1, 1, image.ny, image.nx]
    let p = withoutGradients { softmax(net(Variable(Tensor(shape: shape, storage: image.voxels)))).value }
    return p.storage.map(Double.init)
}

/// Segmentation figures over held-out items: per-label mean Dice and HD95 (mm) and the mean
/// foreground Dice ("dice.mean"); labels absent from both maps of an item are left out of its means.
public func evaluateSegmentation(_ net: UNet, items: [HeldOutItem], labelNames: [String], withDistances: Bool) -> [String: Double] {
    var sums: [String: (Double, Int)] = [:]
    func add(_ k: String, _ v: Double?) {
        guard let v, v.isFinite else { return }
        let s = sums[k] ?? (0, 0)
        sums[k] = (s.0 + v, s.1 + 1)
    }
    for item in items {
        let pred = predictLabels(net, item.image)
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
public func evaluateClassification(_ net: Module, items: [HeldOutItem], classNames: [String], spatialRank: Int)
    -> (metrics: [String: Double], confusion: [[Int]])
{
    let probs = items.map { predictProbabilities(net, $0.image, spatialRank: spatialRank) }
    let s = classificationScores(truth: items.map { $0.classIndex! }, probabilities: probs, classes: classNames.count)
    var m: [String: Double] = ["accuracy": s.accuracy, "balanced_accuracy": s.balancedAccuracy, "ece": s.expectedCalibrationError]
    if let a = s.macroAUC { m["auc"] = a }
    for (c, a) in s.aucPerClass.enumerated() { if let a { m["auc.\(classNames[c])"] = a } }
    return (m, s.confusion)
}
