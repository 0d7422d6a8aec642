import Foundation
import MedVoxTensor

// Losses for segmentation and classification. Predictions are `[N, C, …]` (logits, or
// probabilities for Dice); targets are class indices stored as integer-valued Floats, shaped
// `[N, …]` or `[N, 1, …]` (a label volume as read from a mask file). Each loss returns a
// one-element variable whose backward fills the prediction's gradient.

/// The class index of each position, checked against `classes`; `ignore` positions pass.
func classIndices(_ target: Tensor, logitsShape: [Int], ignore: Int?) -> [Int] {
    let n = logitsShape[0], c = logitsShape[1], inner = logitsShape.dropFirst(2).reduce(1, *)
    precondition(target.count == n * inner, "target \(target.shape) does not match predictions \(logitsShape)")
    return target.storage.map { v in
        let k = Int(v.rounded())
        precondition(k == ignore || (k >= 0 && k < c), "label \(v) outside 0..<\(c)")
        return k
    }
}

/// Cross-entropy over channels with optional class weights and an ignored label, as PyTorch's
/// `cross_entropy(reduction="mean")`: −Σ w_y·log softmax(x)_y / Σ w_y over non-ignored positions.
public func crossEntropy(_ logits: Variable, target: Tensor, classWeights: [Float]? = nil, ignoreIndex: Int? = nil) -> Variable {
    let shape = logits.shape
    let (n, c, inner) = (shape[0], shape[1], shape.dropFirst(2).reduce(1, *))
    let labels = classIndices(target, logitsShape: shape, ignore: ignoreIndex)
    precondition(classWeights == nil || classWeights!.count == c, "\(classWeights!.count) class weights for \(c) classes")
    let lsm = logSoftmax(logits.value)
    var total = 0.0, weightSum = 0.0
    for b in 0..<n {
        for s in 0..<inner {
            let y = labels[b * inner + s]
            if y == ignoreIndex { continue }
            let w = Double(classWeights?[y] ?? 1)
            total -= w * Double(lsm.storage[(b * c + y) * inner + s])
            weightSum += w
        }
    }
    let norm = weightSum > 0 ? weightSum : 1
    return Variable.result(Tensor(shape: [1], storage: [Float(total / norm)]), inputs: [logits]) { g in
        var gx = Tensor(shape: shape)
        let scale = g.storage[0] / Float(norm)
        for b in 0..<n {
            for s in 0..<inner {
                let y = labels[b * inner + s]
                if y == ignoreIndex { continue }
                let w = (classWeights?[y] ?? 1) * scale
                for k in 0..<c {
                    let i = (b * c + k) * inner + s
                    gx.storage[i] = w * (Foundation.exp(lsm.storage[i]) - (k == y ? 1 : 0))
                }
            }
        }
        return [gx]
    }
}

/// Per-item, per-class soft Dice of probabilities `probs` `[N, C, …]` against one-hot targets:
/// (2·Σp·t + smooth) / (Σp + Σt + smooth), as `[N, C]` values (for reporting).
public func softDiceScores(_ probs: Tensor, target: Tensor, smooth: Float = 1e-5) -> Tensor {
    let (i, p, t) = diceSums(probs, labels: classIndices(target, logitsShape: probs.shape, ignore: nil))
    var d = Tensor(shape: [probs.shape[0], probs.shape[1]])
    for k in 0..<d.count { d.storage[k] = Float((2 * i[k] + Double(smooth)) / (p[k] + t[k] + Double(smooth))) }
    return d
}

/// Σp·t, Σp, Σt per (item, class).
func diceSums(_ probs: Tensor, labels: [Int]) -> ([Double], [Double], [Double]) {
    let (n, c, inner) = (probs.shape[0], probs.shape[1], probs.shape.dropFirst(2).reduce(1, *))
    var inter = [Double](repeating: 0, count: n * c), psum = inter, tsum = inter
    for b in 0..<n {
        for k in 0..<c {
            var si = 0.0, sp = 0.0, st = 0.0
            for s in 0..<inner {
                let p = Double(probs.storage[(b * c + k) * inner + s])
                sp += p
                if labels[b * inner + s] == k {
                    si += p
                    st += 1
                }
            }
            inter[b * c + k] = si
            psum[b * c + k] = sp
            tsum[b * c + k] = st
        }
    }
    return (inter, psum, tsum)
}

/// Soft Dice loss (Milletari et al. 2016): 1 − mean over items and classes of the soft Dice
/// score of `probs` (softmax outputs) against the target labels, with `smooth` added to
/// numerator and denominator; `includeBackground: false` leaves class 0 out of the mean.
public func softDiceLoss(_ probs: Variable, target: Tensor, smooth: Float = 1e-5, includeBackground: Bool = true) -> Variable {
    let shape = probs.shape
    let (n, c, inner) = (shape[0], shape[1], shape.dropFirst(2).reduce(1, *))
    let labels = classIndices(target, logitsShape: shape, ignore: nil)
    let (inter, psum, tsum) = diceSums(probs.value, labels: labels)
    let first = includeBackground ? 0 : 1
    precondition(c > first, "Dice without background needs at least two classes")
    let count = Double(n * (c - first)), sm = Double(smooth)
    var dice = 0.0
    for b in 0..<n { for k in first..<c { dice += (2 * inter[b * c + k] + sm) / (psum[b * c + k] + tsum[b * c + k] + sm) } }
    return Variable.result(Tensor(shape: [1], storage: [Float(1 - dice / count)]), inputs: [probs]) { g in
        var gx = Tensor(shape: shape)
        for b in 0..<n {
            for k in first..<c {
                let num = 2 * inter[b * c + k] + sm, den = psum[b * c + k] + tsum[b * c + k] + sm
                // d(num/den)/dp = (2t·den − num) / den²; the loss is −mean of it.
                let onHit = Float(-Double(g.storage[0]) / count * (2 * den - num) / (den * den))
                let onMiss = Float(-Double(g.storage[0]) / count * (-num) / (den * den))
                for s in 0..<inner { gx.storage[(b * c + k) * inner + s] = labels[b * inner + s] == k ? onHit : onMiss }
            }
        }
        return [gx]
    }
}

/// nnU-Net's default loss: cross-entropy on the logits plus soft Dice on their softmax.
public func diceCrossEntropyLoss(_ logits: Variable, target: Tensor, smooth: Float = 1e-5, includeBackground: Bool = true,
                                 classWeights: [Float]? = nil) -> Variable
{
    crossEntropy(logits, target: target, classWeights: classWeights)
        + softDiceLoss(softmax(logits), target: target, smooth: smooth, includeBackground: includeBackground)
}

/// Binary cross-entropy on logits (numerically stable, PyTorch's `binary_cross_entropy_with_logits`):
/// mean of max(x, 0) − x·t + log(1 + e^−|x|), with targets t in [0, 1] of the same shape;
/// `positiveWeight` scales the positive term.
public func binaryCrossEntropy(_ logits: Variable, target: Tensor, positiveWeight: Float = 1) -> Variable {
    precondition(logits.shape == target.shape || logits.value.count == target.count, "target \(target.shape) does not match \(logits.shape)")
    let x = logits.value, count = Float(x.count), pw = positiveWeight
    var total = 0.0
    for i in 0..<x.count {
        let v = x.storage[i], t = target.storage[i]
        // −[pw·t·log σ(v) + (1−t)·log(1−σ(v))], with log σ(v) = −softplus(−v).
        let softplusNeg = max(-v, 0) + Foundation.log1p(Foundation.exp(-abs(v)))
        total += Double(pw * t * softplusNeg + (1 - t) * (softplusNeg + v))
    }
    return Variable.result(Tensor(shape: [1], storage: [Float(total / Double(count))]), inputs: [logits]) { g in
        var gx = x.zerosLike()
        for i in 0..<x.count {
            let s = sigmoid(x.storage[i]), t = target.storage[i]
            gx.storage[i] = g.storage[0] / count * (pw * t * (s - 1) + (1 - t) * s)
        }
        return [gx]
    }
}

/// Multi-class focal loss (Lin et al. 2017): mean over non-ignored positions of
/// −α_y·(1 − p_y)^γ·log p_y with p = softmax(logits); γ = 0 and no α is cross-entropy.
public func focalLoss(_ logits: Variable, target: Tensor, gamma: Float = 2, alpha: [Float]? = nil, ignoreIndex: Int? = nil) -> Variable {
    let shape = logits.shape
    let (n, c, inner) = (shape[0], shape[1], shape.dropFirst(2).reduce(1, *))
    let labels = classIndices(target, logitsShape: shape, ignore: ignoreIndex)
    let lsm = logSoftmax(logits.value)
    var total = 0.0, used = 0
    for b in 0..<n {
        for s in 0..<inner {
            let y = labels[b * inner + s]
            if y == ignoreIndex { continue }
            let lp = lsm.storage[(b * c + y) * inner + s], p = Foundation.exp(lp)
            total -= Double((alpha?[y] ?? 1) * Foundation.pow(1 - p, gamma) * lp)
            used += 1
        }
    }
    let norm = Float(max(used, 1))
    return Variable.result(Tensor(shape: [1], storage: [Float(total) / norm]), inputs: [logits]) { g in
        var gx = Tensor(shape: shape)
        for b in 0..<n {
            for s in 0..<inner {
                let y = labels[b * inner + s]
                if y == ignoreIndex { continue }
                let lp = lsm.storage[(b * c + y) * inner + s], p = Foundation.exp(lp)
                // dL/d(log p_y) = α·[γ(1−p)^(γ−1)·p·log p − (1−p)^γ]; then through log-softmax:
                // dz_k = dL/dlog p_y · (δ_ky − p_k).
                let q = 1 - p
                let dlp = (alpha?[y] ?? 1) * ((gamma == 0 ? 0 : gamma * Foundation.pow(q, gamma - 1) * p * lp) - Foundation.pow(q, gamma))
                let scale = dlp * g.storage[0] / norm
                for k in 0..<c {
                    let i = (b * c + k) * inner + s
                    gx.storage[i] = scale * ((k == y ? 1 : 0) - Foundation.exp(lsm.storage[i]))
                }
            }
        }
        return [gx]
    }
}
