import Foundation
import MedVoxCore
import MedVoxTensor
import XCTest

@testable import MedVoxNN

final class LossTests: XCTestCase {
    let labels = Tensor(shape: [2, 1, 3, 2], storage: [0, 1, 2, 2, 1, 0, 1, 1, 0, 2, 2, 2])

    func testCrossEntropyGradientsAndValues() {
        let logits = Variable(randomTensor([2, 3, 3, 2], seed: 1, scale: 2), requiresGrad: true)
        assertGradients([logits]) { crossEntropy(logits, target: labels) }
        assertGradients([logits]) { crossEntropy(logits, target: labels, classWeights: [0.2, 1, 3], ignoreIndex: 1) }
        // Equal logits: the loss is log C whatever the labels.
        let flat = Variable(Tensor(shape: [2, 3, 3, 2]))
        XCTAssertEqual(crossEntropy(flat, target: labels).value.storage[0], Foundation.log(3), accuracy: 1e-6)
        // Hand-computed with weights and an ignored label: logits [0, ln 3] for labels 1 and
        // 0 (ignored): −log(3/4) = 0.28768.
        let two = Variable(Tensor(shape: [2, 2], storage: [0, Foundation.log(3), 0, Foundation.log(3)]))
        let lab = Tensor(shape: [2], storage: [1, 0])
        XCTAssertEqual(crossEntropy(two, target: lab, classWeights: [5, 2], ignoreIndex: 0).value.storage[0], 0.287682, accuracy: 1e-5)
        XCTAssertEqual(crossEntropy(two, target: lab, classWeights: [1, 3]).value.storage[0],
                       Float((3 * -Foundation.log(0.75) + -Foundation.log(0.25)) / 4), accuracy: 1e-5)
    }

    func testDiceLossesGradientsAndValues() {
        let logits = Variable(randomTensor([2, 3, 3, 2], seed: 2, scale: 2), requiresGrad: true)
        assertGradients([logits]) { softDiceLoss(softmax(logits), target: labels, smooth: 1) }
        assertGradients([logits]) { softDiceLoss(softmax(logits), target: labels, includeBackground: false) }
        assertGradients([logits]) { diceCrossEntropyLoss(logits, target: labels) }
        // A perfect one-hot prediction has loss 0; p = 0.5 everywhere for one foreground voxel of
        // four: Dice = 2·0.5 / (2 + 1) = 1/3.
        var onehot = Tensor(shape: [1, 2, 4])
        for (s, c) in [0, 1, 1, 0].enumerated() { onehot.storage[c * 4 + s] = 1 }
        let t = Tensor(shape: [1, 4], storage: [0, 1, 1, 0])
        XCTAssertEqual(softDiceLoss(Variable(onehot), target: t, smooth: 0).value.storage[0], 0, accuracy: 1e-6)
        let half = Tensor(shape: [1, 2, 4], repeating: 0.5)
        let scores = softDiceScores(half, target: Tensor(shape: [1, 4], storage: [0, 0, 0, 1]), smooth: 0)
        XCTAssertEqual(scores.storage[1], 1.0 / 3, accuracy: 1e-6)
        XCTAssertEqual(scores.storage[0], 2 * 1.5 / 5, accuracy: 1e-6)
    }

    func testBinaryAndFocalLosses() {
        let logits = Variable(randomTensor([3, 2, 2], seed: 3, scale: 3), requiresGrad: true)
        let targets = randomTensor([3, 2, 2], seed: 4).map { $0 > 0 ? 1 : 0.25 }
        assertGradients([logits]) { binaryCrossEntropy(logits, target: targets) }
        assertGradients([logits]) { binaryCrossEntropy(logits, target: targets, positiveWeight: 3) }
        // BCE of logit 0 is log 2 for any target; of logit 100 with target 1 it is ~0 (stable).
        XCTAssertEqual(binaryCrossEntropy(Variable(Tensor(shape: [1])), target: Tensor(shape: [1], repeating: 1)).value.storage[0],
                       Foundation.log(2), accuracy: 1e-6)
        XCTAssertEqual(binaryCrossEntropy(Variable(Tensor(shape: [1], repeating: 100)), target: Tensor(shape: [1], repeating: 1)).value.storage[0], 0, accuracy: 1e-6)
        let multi = Variable(randomTensor([2, 3, 3, 2], seed: 5, scale: 2), requiresGrad: true)
        assertGradients([multi]) { focalLoss(multi, target: labels, gamma: 2) }
        assertGradients([multi]) { focalLoss(multi, target: labels, gamma: 1.5, alpha: [0.25, 0.5, 1], ignoreIndex: 2) }
        // γ = 0 is cross-entropy.
        XCTAssertEqual(focalLoss(multi, target: labels, gamma: 0).value.storage[0],
                       crossEntropy(multi, target: labels).value.storage[0], accuracy: 1e-6)
        // Hand-computed: p_y = 3/4, γ = 2: −(1/4)²·log(3/4) = 0.0179801.
        let two = Variable(Tensor(shape: [1, 2], storage: [0, Foundation.log(3)]))
        XCTAssertEqual(focalLoss(two, target: Tensor(shape: [1], storage: [1])).value.storage[0], 0.0179801, accuracy: 1e-6)
    }
}
