import Foundation
import MedVoxInference
import MedVoxTensor

/// Softmax of each item's class logits divided by `temperature` (MedVox's one softmax, as the
/// classifier applies a card's calibration).
public func classProbabilities(logits: [[Double]], temperature: Double = 1) -> [[Double]] {
    guard let k = logits.first?.count, k > 0 else { return logits.map { _ in [] } }
    let z = Tensor(shape: [logits.count, k], storage: logits.flatMap { $0.map(Float.init) })
    let p = softmax(z, temperature: Float(temperature)).storage.map(Double.init)
    return logits.indices.map { Array(p[($0 * k)..<(($0 + 1) * k)]) }
}

/// Temperature scaling (Guo et al. 2017): the T > 0 minimising the mean negative log-likelihood of
/// softmax(z / T) on held-out logits, searched over T in [0.05, 20] (1 without logits).
///
/// The likelihood is convex in β = 1/T, with derivative mean(Σ_c p_c·z_c − z_y), p = softmax(z / T)
/// from `classProbabilities`: bisection on that derivative's sign over log T finds the minimum to
/// the precision of the probabilities, where a search on the likelihood itself would stop at the
/// square root of it.
public func fitTemperature(logits: [[Double]], truth: [Int]) -> Double {
    guard !logits.isEmpty else { return 1 }
    func slope(_ logT: Double) -> Double {
        let p = classProbabilities(logits: logits, temperature: Foundation.exp(logT))
        var total = 0.0
        for (i, y) in truth.enumerated() {
            for (pc, zc) in zip(p[i], logits[i]) { total += pc * zc }
            total -= logits[i][y]
        }
        return total / Double(truth.count)
    }
    var a = Foundation.log(0.05), b = Foundation.log(20.0)
    for _ in 0..<60 {
        let m = (a + b) / 2
        if slope(m) > 0 { a = m } else { b = m }
    }
    return Foundation.exp((a + b) / 2)
}

/// Whether a classifier keeps temperature scaling: the temperature fitted on validation logits
/// (`fitTemperature`) is kept only when it lowers the validation expected calibration error
/// (the likelihood it minimises is not the calibration error, and can raise it).
public struct TemperatureChoice: Sendable, Equatable {
    public var fitted: Double
    public var uncalibratedECE: Double
    public var fittedECE: Double
    /// The fitted temperature when it lowers ECE, else nil (no calibration).
    public var kept: Double? { fittedECE < uncalibratedECE ? fitted : nil }

    public init(logits: [[Double]], truth: [Int], classes: Int) {
        func ece(_ t: Double) -> Double {
            classificationScores(truth: truth, probabilities: classProbabilities(logits: logits, temperature: t), classes: classes).expectedCalibrationError
        }
        fitted = fitTemperature(logits: logits, truth: truth)
        uncalibratedECE = ece(1)
        fittedECE = ece(fitted)
    }
}
