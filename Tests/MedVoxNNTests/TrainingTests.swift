import Foundation
import MedVoxCore
import MedVoxTensor
import MedVoxTestSupport
import XCTest

@testable import MedVoxNN

/// Real training on tiny synthetic problems: the whole stack (layers, autograd, losses,
/// optimizers, schedules) has to work for these to pass.
final class TrainingTests: XCTestCase {
    /// The graph-free inference path (convolutions reading their inputs in place, the first norm
    /// of each block applied by the Winograd pass that reads it, everything released early)
    /// computes the same network as the recorded forward pass, in 3D and 2D, with Winograd off,
    /// forced on, and chosen by shape.
    func testUNetInferenceMatchesTheRecordedForward() {
        for rank in [3, 2] {
        var rng = SeededGenerator(seed: 21)
        let net = UNet(spatialRank: rank, inChannels: 2, classes: 3, features: rank == 3 ? [4, 8, 16] : [16, 32], rng: &rng)
        net.setTraining(false)
        var x = Tensor(shape: rank == 3 ? [2, 2, 8, 12, 8] : [2, 2, 12, 20])
        for i in 0..<x.count { x.storage[i] = Float(rng.normal()) }
        let saved = KernelSettings.current.winograd
        defer { KernelSettings.current.winograd = saved }
        for setting in [false, true, nil] as [Bool?] {
            KernelSettings.current.winograd = setting
            let recorded = net(Variable(x, requiresGrad: true)).value
            let inference = withoutGradients { net(Variable(x)).value }
            XCTAssertEqual(recorded.shape, inference.shape)
            let scale = maxAbsError(recorded.storage, [Float](repeating: 0, count: recorded.count))
            XCTAssertLessThan(maxAbsError(recorded.storage, inference.storage) / scale, 1e-5, "\(rank)D winograd \(setting.map { "\($0)" } ?? "auto")")
        }
        }
    }

    func testTinyUNetOverfitsOneVolume() {
        // A 12³ volume: a ball (label 1) and a brighter box (label 2) on noise.
        let n = 12
        var rng = SeededGenerator(seed: 11)
        var image = Tensor(shape: [1, 1, n, n, n]), label = Tensor(shape: [1, n, n, n])
        for z in 0..<n {
            for y in 0..<n {
                for x in 0..<n {
                    let i = (z * n + y) * n + x
                    let dz = Double(z) - 4, dy = Double(y) - 5, dx = Double(x) - 4
                    var c: Float = 0
                    if dz * dz + dy * dy + dx * dx < 9 { c = 1 } else if (7..<11).contains(z) && (6..<11).contains(y) && (7..<10).contains(x) { c = 2 }
                    label.storage[i] = c
                    image.storage[i] = c * 0.6 + Float(rng.normal() * 0.1)
                }
            }
        }
        // Width 4-8 stalls with the ball (the middle intensity) predicted as background; 8-16
        // reaches Dice 0.99 in about 40 steps.
        let net = UNet(spatialRank: 3, inChannels: 1, classes: 3, features: [8, 16], rng: &rng)
        let steps = 100
        let opt = Adam(net.parameters(), learningRate: 0.01)
        let schedule = PolynomialSchedule(initial: 0.01, totalSteps: steps)
        var dice: Float = 0, used = 0
        for step in 0..<steps {
            opt.learningRate = schedule.learningRate(at: step)
            opt.zeroGrad()
            let logits = net(Variable(image))
            let loss = diceCrossEntropyLoss(logits, target: label)
            loss.backward()
            clipGradientNorm(net.parameters(), maxNorm: 12)
            opt.step()
            used = step + 1
            if step % 5 == 4 {
                dice = hardDice(net.predict(image), label)
                if dice > 0.97 { break }
            }
        }
        dice = hardDice(net.predict(image), label)
        XCTAssertGreaterThan(dice, 0.95, "mean foreground Dice after \(used) steps")
    }

    /// Mean Dice over foreground classes of the arg-max prediction.
    func hardDice(_ probs: Tensor, _ label: Tensor) -> Float {
        let c = probs.shape[1], inner = label.count
        var total: Float = 0
        for k in 1..<c {
            var inter = 0, p = 0, t = 0
            for s in 0..<inner {
                var best = 0
                for j in 1..<c where probs.storage[j * inner + s] > probs.storage[best * inner + s] { best = j }
                let pk = best == k, tk = Int(label.storage[s]) == k
                if pk { p += 1 }
                if tk { t += 1 }
                if pk && tk { inter += 1 }
            }
            total += Float(2 * inter) / Float(max(p + t, 1))
        }
        return total / Float(c - 1)
    }

    func testTinyClassifierSeparatesTwoClasses() {
        // 8×8 images: class 0 has horizontal stripes, class 1 vertical, with random phase and noise.
        var rng = SeededGenerator(seed: 21)
        func batch(_ count: Int) -> (Tensor, Tensor) {
            var x = Tensor(shape: [count, 1, 8, 8]), y = Tensor(shape: [count])
            for b in 0..<count {
                let cls = b % 2, phase = rng.int(in: 0...1)
                y.storage[b] = Float(cls)
                for r in 0..<8 {
                    for c in 0..<8 {
                        let on = ((cls == 0 ? r : c) + phase) % 2 == 0
                        x.storage[b * 64 + r * 8 + c] = (on ? 1 : -1) + Float(rng.normal() * 0.3)
                    }
                }
            }
            return (x, y)
        }
        let net = ResNetClassifier(spatialRank: 2, inChannels: 1, classes: 2, widths: [4, 8], rng: &rng)
        let opt = SGD(net.parameters(), learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4)
        let schedule = CosineSchedule(initial: 0.05, warmupSteps: 5, totalSteps: 60)
        for step in 0..<60 {
            opt.learningRate = schedule.learningRate(at: step)
            let (x, y) = batch(16)
            opt.zeroGrad()
            crossEntropy(net(Variable(x)), target: y).backward()
            opt.step()
        }
        net.setTraining(false)
        let (x, y) = batch(64)
        let logits = withoutGradients { net(Variable(x)).value }
        var correct = 0
        for b in 0..<64 where (logits.storage[2 * b + 1] > logits.storage[2 * b] ? 1 : 0) == Int(y.storage[b]) { correct += 1 }
        XCTAssertGreaterThanOrEqual(correct, 62, "held-out accuracy \(correct)/64")
    }
}
