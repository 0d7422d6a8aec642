import Foundation
import MedVoxCore
import MedVoxTensor
import XCTest

@testable import MedVoxNN

final class OptimizerTests: XCTestCase {
    func param(_ v: [Float], grad: [Float]) -> Variable {
        let p = Variable(Tensor(shape: [v.count], storage: v), requiresGrad: true)
        p.grad = Tensor(shape: [grad.count], storage: grad)
        return p
    }

    func testSGDMomentumNesterovWeightDecay() {
        // Plain: 1 − 0.1·0.5 = 0.95.
        let p = param([1], grad: [0.5])
        SGD([p], learningRate: 0.1).step()
        XCTAssertEqual(p.value.storage[0], 0.95, accuracy: 1e-7)
        // Momentum 0.9, weight decay 0.1, two steps with gradient 1 at p = 1:
        // step 1: g = 1 + 0.1 = 1.1, b = 1.1, p = 1 − 0.11 = 0.89;
        // step 2: g = 1 + 0.089 = 1.089, b = 0.99 + 1.089 = 2.079, p = 0.89 − 0.2079 = 0.6821.
        let q = param([1], grad: [1])
        let sgd = SGD([q], learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        sgd.step()
        XCTAssertEqual(q.value.storage[0], 0.89, accuracy: 1e-6)
        q.grad = Tensor(shape: [1], storage: [1])
        sgd.step()
        XCTAssertEqual(q.value.storage[0], 0.6821, accuracy: 1e-6)
        // Nesterov, two steps with gradient 1: step 1 b = 1, update g + 0.9b = 1.9 → 0.81;
        // step 2 b = 1.9, update 1 + 1.71 = 2.71 → 0.81 − 0.271 = 0.539.
        let r = param([1], grad: [1])
        let nes = SGD([r], learningRate: 0.1, momentum: 0.9, nesterov: true)
        nes.step()
        XCTAssertEqual(r.value.storage[0], 0.81, accuracy: 1e-6)
        nes.step()
        XCTAssertEqual(r.value.storage[0], 0.539, accuracy: 1e-6)
        // No gradient: unchanged.
        let s = Variable(Tensor(shape: [1], storage: [2]), requiresGrad: true)
        SGD([s], learningRate: 1).step()
        XCTAssertEqual(s.value.storage[0], 2)
    }

    func testAdamAndAdamWSteps() {
        // First Adam step moves each weight by lr·sign(g) (m̂ = g, v̂ = g²), up to ε.
        let p = param([1, -2], grad: [0.3, -4])
        let adam = Adam([p], learningRate: 0.01)
        adam.step()
        XCTAssertEqual(p.value.storage[0], 0.99, accuracy: 1e-6)
        XCTAssertEqual(p.value.storage[1], -1.99, accuracy: 1e-6)
        // Second step with gradient 0.1 (after 0.3): m = 0.9·0.03 + 0.01 = 0.037, v = 0.999·9e-5 +
        // 1e-5 = 9.991e-5; m̂ = 0.037/0.19 = 0.194737, v̂ = 9.991e-5/0.001999 = 0.0499800;
        // step = 0.01·0.194737/0.223562 = 0.0087106 → 0.99 − 0.0087106 = 0.9812894.
        p.grad = Tensor(shape: [2], storage: [0.1, 0])
        adam.step()
        XCTAssertEqual(p.value.storage[0], 0.9812894, accuracy: 2e-6)
        // Adam with L2 decay adds λp to g; AdamW shrinks p by lr·λ first: p = 1, g = 0.5,
        // lr 0.1, λ 0.5: AdamW → 1·(1 − 0.05) − 0.1 = 0.85.
        let w = param([1], grad: [0.5])
        Adam.adamW([w], learningRate: 0.1, weightDecay: 0.5).step()
        XCTAssertEqual(w.value.storage[0], 0.85, accuracy: 1e-6)
        // Adam with L2: g = 0.5 + 0.5 = 1; first step still lr·sign = 0.9.
        let l2 = param([1], grad: [0.5])
        Adam([l2], learningRate: 0.1, weightDecay: 0.5).step()
        XCTAssertEqual(l2.value.storage[0], 0.9, accuracy: 1e-6)
    }

    func testSchedulesAndClipping() {
        let poly = PolynomialSchedule(initial: 0.01, totalSteps: 1000)
        XCTAssertEqual(poly.learningRate(at: 0), 0.01, accuracy: 1e-12)
        XCTAssertEqual(poly.learningRate(at: 500), 0.01 * pow(0.5, 0.9), accuracy: 1e-12)
        XCTAssertEqual(poly.learningRate(at: 1000), 0)
        let cos = CosineSchedule(initial: 1, warmupSteps: 10, totalSteps: 110, minimum: 0.1)
        XCTAssertEqual(cos.learningRate(at: 0), 0.1, accuracy: 1e-12)
        XCTAssertEqual(cos.learningRate(at: 9), 1, accuracy: 1e-12)
        XCTAssertEqual(cos.learningRate(at: 10), 1, accuracy: 1e-12)
        XCTAssertEqual(cos.learningRate(at: 60), 0.55, accuracy: 1e-12)
        XCTAssertEqual(cos.learningRate(at: 110), 0.1, accuracy: 1e-12)
        let step = StepSchedule(initial: 1, stepSize: 30, gamma: 0.1)
        XCTAssertEqual(step.learningRate(at: 29), 1)
        XCTAssertEqual(step.learningRate(at: 30), 0.1, accuracy: 1e-12)
        XCTAssertEqual(step.learningRate(at: 65), 0.01, accuracy: 1e-12)

        let a = param([0, 0], grad: [3, 0]), b = param([0], grad: [4])
        XCTAssertEqual(clipGradientNorm([a, b], maxNorm: 1), 5, accuracy: 1e-9)
        XCTAssertEqual(a.grad!.storage[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(b.grad!.storage[0], 0.8, accuracy: 1e-6)
        XCTAssertEqual(clipGradientNorm([a, b], maxNorm: 10), 1, accuracy: 1e-5)
        XCTAssertEqual(b.grad!.storage[0], 0.8, accuracy: 1e-6)
    }
}
