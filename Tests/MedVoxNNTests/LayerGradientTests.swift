import MedVoxCore
import MedVoxTensor
import XCTest

@testable import MedVoxNN

func randomTensor(_ shape: [Int], seed: UInt64, scale: Double = 1) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    var t = Tensor(shape: shape)
    for i in 0..<t.count { t.storage[i] = Float(rng.uniform(-scale, scale)) }
    return t
}

func assertGradients(_ inputs: [Variable], tolerance: Double = 2e-2, eps: Float = 1e-2, floor: Double = 1e-2,
                     file: StaticString = #filePath, line: UInt = #line, _ f: () -> Variable)
{
    let r = gradientCheck(inputs: inputs, eps: eps, floor: floor, f)
    XCTAssertLessThan(r.maxRelativeError, tolerance, r.description, file: file, line: line)
}

final class LayerGradientTests: XCTestCase {
    func testConvolutionLayers2DAnd3D() {
        var rng = SeededGenerator(seed: 1)
        let cases: [(ConvNd, [Int])] = [
            (ConvNd(2, 3, kernel: [3, 3], padding: [1, 1], rng: &rng), [2, 2, 5, 4]),
            (ConvNd(1, 2, kernel: [3, 2], stride: [2, 1], padding: [1, 0], dilation: [1, 2], rng: &rng), [1, 1, 6, 5]),
            (ConvNd(2, 2, kernel: [3, 3, 3], padding: [1, 1, 1], rng: &rng), [1, 2, 3, 4, 3]),
            (ConvNd(1, 3, kernel: [2, 3, 1], stride: [2, 2, 1], dilation: [1, 1, 2], bias: false, rng: &rng), [1, 1, 4, 5, 3]),
        ]
        for (k, (layer, shape)) in cases.enumerated() {
            let x = Variable(randomTensor(shape, seed: UInt64(10 + k)), requiresGrad: true)
            assertGradients([x] + layer.parameters()) { layer(x) }
            // A fused activation: applied in the kernel's output pass without a graph, as its
            // own differentiable operation (gradient-checked in MedVoxTensorTests) with one; both
            // give the same values.
            let separate = leakyReLU(layer(x), slope: 0.1).value
            layer.activation = .leakyReLU(0.1)
            let fused = withoutGradients { layer(x).value }
            XCTAssertEqual(layer(x).value, separate)
            for i in 0..<fused.count { XCTAssertEqual(fused.storage[i], separate.storage[i], accuracy: 1e-5) }
            layer.activation = .none
        }
    }

    func testTransposedConvolution2DAnd3D() {
        var rng = SeededGenerator(seed: 2)
        let up2 = ConvTransposeNd(3, 2, kernel: [2, 2], stride: [2, 2], rng: &rng)
        let x2 = Variable(randomTensor([2, 3, 2, 3], seed: 20), requiresGrad: true)
        XCTAssertEqual(up2(x2).shape, [2, 2, 4, 6])
        assertGradients([x2] + up2.parameters()) { up2(x2) }
        let up3 = ConvTransposeNd(2, 2, kernel: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1], outputPadding: [1, 1, 1], rng: &rng)
        let x3 = Variable(randomTensor([1, 2, 2, 2, 3], seed: 21), requiresGrad: true)
        XCTAssertEqual(up3(x3).shape, [1, 2, 4, 4, 6])
        assertGradients([x3] + up3.parameters()) { up3(x3) }
    }

    func testTransposedConvolutionIsTheAdjointOfConvolution() {
        // ⟨convT(x), y⟩ = ⟨x, conv(y)⟩ for the same weights, without bias.
        var rng = SeededGenerator(seed: 3)
        let up = ConvTransposeNd(3, 2, kernel: [2, 2, 2], stride: [2, 2, 2], bias: false, rng: &rng)
        let down = ConvNd(2, 3, kernel: [2, 2, 2], stride: [2, 2, 2], bias: false, rng: &rng)
        down.weight.value = up.weight.value
        let x = randomTensor([1, 3, 2, 3, 2], seed: 30), y = randomTensor([1, 2, 4, 6, 4], seed: 31)
        let lhs = (up(Variable(x)).value * y).sum(), rhs = (x * down(Variable(y)).value).sum()
        XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)))
        // Hand-computed: a 1-channel 1×1 input of value 2 with kernel [[1,2],[3,4]] and bias 1.
        let hand = ConvTransposeNd(1, 1, kernel: [2, 2], stride: [2, 2], rng: &rng)
        hand.weight.value = Tensor(shape: [1, 1, 2, 2], storage: [1, 2, 3, 4])
        hand.bias!.value = Tensor(shape: [1], storage: [1])
        XCTAssertEqual(hand(Variable(Tensor(shape: [1, 1, 1, 1], storage: [2]))).value.storage, [3, 5, 7, 9])
    }

    func testNormalisationLayers() {
        let x = Variable(randomTensor([3, 4, 2, 3], seed: 40), requiresGrad: true)
        let bn = BatchNorm(4)
        bn.weight.value = randomTensor([4], seed: 41)
        assertGradients([x] + bn.parameters()) { bn(x) }
        let inorm = InstanceNorm(4)
        inorm.weight!.value = randomTensor([4], seed: 42)
        inorm.bias!.value = randomTensor([4], seed: 43)
        assertGradients([x] + inorm.parameters()) { inorm(x) }
        let gn = GroupNorm(groups: 2, channels: 4)
        assertGradients([x] + gn.parameters()) { gn(x) }
        // Running statistics: after one training step with momentum 1 they equal the batch's
        // mean and unbiased variance; inference then normalises with them.
        let b2 = BatchNorm(1, momentum: 1)
        let t = Tensor(shape: [2, 1, 2], storage: [1, 2, 3, 6])
        _ = b2(Variable(t))
        XCTAssertEqual(b2.runningMean.value.storage[0], 3, accuracy: 1e-6)
        XCTAssertEqual(b2.runningVar.value.storage[0], 14 / 3, accuracy: 1e-5)
        b2.setTraining(false)
        let y = b2(Variable(t)).value
        XCTAssertEqual(y.storage[3], 3 / (14 / 3 + 1e-5 as Float).squareRoot(), accuracy: 1e-5)
        let xi = Variable(randomTensor([2, 1, 3], seed: 44), requiresGrad: true)
        assertGradients([xi]) { b2(xi) }
    }

    func testActivationPoolingLinearDropoutLayers() {
        var rng = SeededGenerator(seed: 5)
        let x = Variable(randomTensor([2, 3, 4, 4], seed: 50), requiresGrad: true)
        let pr = PReLU(channels: 3)
        assertGradients([x] + pr.parameters()) { pr(x) }
        let net = Sequential(AvgPool(kernel: [2, 2]), ELU(), Upsample(scale: [2, 2], mode: .linear), Tanh(), GlobalAvgPool(),
                             Linear(3, 2, rng: &rng), Sigmoid())
        assertGradients([x] + net.parameters()) { net(x) }
        XCTAssertEqual(net.namedParameters().map(\.0), ["5.weight", "5.bias"])
        let drop = Dropout(p: 0.5, seed: 9)
        drop.setTraining(false)
        XCTAssertEqual(drop(x).value, x.value)
        drop.setTraining(true)
        XCTAssertNotEqual(drop(x).value, x.value)
    }

    func testModelsGradientsAndNames() {
        var rng = SeededGenerator(seed: 6)
        let unet = UNet(spatialRank: 3, inChannels: 1, classes: 2, features: [2, 3], rng: &rng)
        let x = Variable(randomTensor([1, 1, 2, 4, 2], seed: 60), requiresGrad: true)
        XCTAssertEqual(unet(x).shape, [1, 2, 2, 4, 2])
        // Whole models: ε = 1e-3, because after instance/batch norm many pre-activations lie
        // within 1e-2 of the (leaky) ReLU kink and a larger step straddles it; with that small
        // a step, Float32 rounding in the loss makes numeric gradients below ~0.05 noisy at the
        // 1e-3 level, so those are compared absolutely (floor 0.05). A wrong gradient is off by O(1).
        let some = [unet.head.weight, unet.ups[0].weight, unet.encoders[0].conv1.weight]
        assertGradients([x] + some, tolerance: 5e-2, eps: 1e-3, floor: 5e-2) { unet(x) }
        // The inference path (norm and activation fused in place) computes the same values.
        let recorded = unet(x).value, fused = withoutGradients { unet(x).value }
        for i in 0..<recorded.count { XCTAssertEqual(recorded.storage[i], fused.storage[i], accuracy: 1e-5) }
        let names = unet.namedParameters().map(\.0)
        XCTAssertTrue(names.contains("encoders.0.conv1.weight") && names.contains("ups.0.bias") && names.contains("decoders.0.norm2.weight"))
        XCTAssertThrowsError(try unet.validate(inputShape: [1, 1, 3, 4, 2]))
        let resnet = ResNetClassifier(spatialRank: 2, inChannels: 1, classes: 3, widths: [2, 4], rng: &rng)
        let x2 = Variable(randomTensor([2, 1, 4, 4], seed: 61), requiresGrad: true)
        XCTAssertEqual(resnet(x2).shape, [2, 3])
        assertGradients([x2, resnet.fc.weight, resnet.blocks[1].conv1.weight], tolerance: 5e-2, eps: 1e-3, floor: 5e-2) { resnet(x2) }
        XCTAssertTrue(resnet.namedBuffers().map(\.0).contains("blocks.1.shortcut.1.running_mean"))
    }
}
