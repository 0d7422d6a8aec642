import MedVoxCore
import MedVoxTensor

/// Two (convolution → instance norm → leaky ReLU) stages, as in nnU-Net's plain encoder/decoder
/// blocks: 3×3(×3) kernels, padding 1, slope 0.01.
public final class ConvBlock: Module {
    public let conv1: ConvNd, norm1: GroupNorm, conv2: ConvNd, norm2: GroupNorm
    public let slope: Float
    public var training = true

    public init(_ cin: Int, _ cout: Int, spatialRank: Int, slope: Float = 0.01, rng: inout SeededGenerator) {
        let k = [Int](repeating: 3, count: spatialRank), p = [Int](repeating: 1, count: spatialRank)
        conv1 = ConvNd(cin, cout, kernel: k, padding: p, rng: &rng)
        norm1 = InstanceNorm(cout)
        conv2 = ConvNd(cout, cout, kernel: k, padding: p, rng: &rng)
        norm2 = InstanceNorm(cout)
        self.slope = slope
    }

    public var children: [(String, Module)] { [("conv1", conv1), ("norm1", norm1), ("conv2", conv2), ("norm2", norm2)] }

    public func callAsFunction(_ x: Variable) -> Variable {
        guard GradientRecording.isEnabled else {
            var input: [Tensor]? = [x.value]
            return Variable(inference(consumingParts: &input))
        }
        let h = leakyReLU(norm1(conv1(x)), slope: slope)
        return leakyReLU(norm2(conv2(h)), slope: slope)
    }

    /// Without a graph, on the channel concatenation of `parts` (one tensor, or a decoder's skip
    /// and up-sampled maps) without building it; the parts are released (`parts` becomes nil) once
    /// the first convolution has read them. The first norm and activation are applied by the
    /// second convolution as it reads its input where it can (Winograd), else in place, like the
    /// second ones. Winograd convolutions also sum their outputs for the norms as they write them.
    func inference(consumingParts parts: inout [Tensor]?) -> Tensor {
        var (y1, sums1) = conv1.inferenceWithStatistics(consuming: &parts)
        let (pending, _) = pendingNormalization(of: y1, .groups(norm1.groups), gamma: norm1.weight?.value, beta: norm1.bias?.value,
                                                eps: norm1.eps, leakySlope: slope, channelSums: sums1)
        let fused = conv2.readsPendingNormalization(inputShape: y1.shape)
        if !fused { pending.apply(to: &y1) }
        var h: [Tensor]? = [consume y1]
        var (y, sums2) = conv2.inferenceWithStatistics(consuming: &h, pending: fused ? pending : nil)
        pendingNormalization(of: y, .groups(norm2.groups), gamma: norm2.weight?.value, beta: norm2.bias?.value, eps: norm2.eps,
                             leakySlope: slope, channelSums: sums2).0.apply(to: &y)
        return y
    }
}

/// A U-Net (Ronneberger et al. 2015; 3D: Çiçek et al. 2016) in nnU-Net's plain form, for 2D or
/// 3D inputs: per level a `ConvBlock`, 2× max pooling down, 2×2(×2) stride-2 transposed
/// convolutions up, skip connections by channel concatenation, and a 1×1(×1) convolution to
/// class logits.
///
/// Parameter names (for checkpoints): `encoders.i.*`, `ups.i.*`, `decoders.i.*`, `head.*`.
///
/// ```swift
/// var rng = SeededGenerator(seed: 0)
/// let net = UNet(spatialRank: 3, inChannels: 1, classes: 4, features: [16, 32, 64, 128, 256], rng: &rng)
/// let probabilities = net.predict(Tensor(shape: [1, 1, 128, 128, 128]))
/// ```
public final class UNet: Module {
    public let spatialRank: Int, features: [Int], classes: Int
    public let encoders: [ConvBlock], ups: [ConvTransposeNd], decoders: [ConvBlock]
    public let head: ConvNd
    public var training = true

    public init(spatialRank: Int, inChannels: Int, classes: Int, features: [Int] = [16, 32, 64, 128, 256], rng: inout SeededGenerator) {
        precondition(spatialRank == 2 || spatialRank == 3, "U-Net is 2D or 3D")
        precondition(features.count >= 2, "a U-Net needs at least two levels")
        self.spatialRank = spatialRank
        self.features = features
        self.classes = classes
        var enc: [ConvBlock] = [], up: [ConvTransposeNd] = [], dec: [ConvBlock] = []
        var cin = inChannels
        for f in features {
            enc.append(ConvBlock(cin, f, spatialRank: spatialRank, rng: &rng))
            cin = f
        }
        let two = [Int](repeating: 2, count: spatialRank)
        for level in (0..<(features.count - 1)).reversed() {
            up.append(ConvTransposeNd(features[level + 1], features[level], kernel: two, stride: two, rng: &rng))
            dec.append(ConvBlock(2 * features[level], features[level], spatialRank: spatialRank, rng: &rng))
        }
        encoders = enc
        ups = up
        decoders = dec
        head = ConvNd(features[0], classes, kernel: [Int](repeating: 1, count: spatialRank), rng: &rng)
    }

    public var children: [(String, Module)] {
        encoders.enumerated().map { ("encoders.\($0.offset)", $0.element as Module) }
            + ups.enumerated().map { ("ups.\($0.offset)", $0.element as Module) }
            + decoders.enumerated().map { ("decoders.\($0.offset)", $0.element as Module) }
            + [("head", head)]
    }

    /// Spatial sizes must be divisible by 2^(levels − 1) so the up path meets its skips.
    public var sizeMultiple: Int { 1 << (features.count - 1) }

    /// Throws `ConvError.invalidGeometry` unless `shape` is `[N, Cin, s…]` with every spatial
    /// size a positive multiple of `sizeMultiple`.
    public func validate(inputShape shape: [Int]) throws {
        guard shape.count == spatialRank + 2, shape[1] == encoders[0].conv1.inChannels,
              shape.dropFirst(2).allSatisfy({ $0 > 0 && $0 % sizeMultiple == 0 })
        else {
            throw ConvError.invalidGeometry(reason: "U-Net input \(shape): expected [N, \(encoders[0].conv1.inChannels)] + \(spatialRank) sizes divisible by \(sizeMultiple)")
        }
    }

    /// Class logits `[N, classes, s…]`.
    public func callAsFunction(_ x: Variable) -> Variable {
        do { try validate(inputShape: x.shape) } catch { preconditionFailure("\(error)") }
        guard GradientRecording.isEnabled else { return Variable(inference(x.value)) }
        let two = [Int](repeating: 2, count: spatialRank)
        var skips: [Variable] = []
        var h = x
        for (level, block) in encoders.enumerated() {
            if level > 0 { h = maxPool(h, PoolGeometry(inputShape: h.shape, kernel: two)) }
            h = block(h)
            skips.append(h)
        }
        for (k, (up, block)) in zip(ups, decoders).enumerated() {
            let skip = skips[features.count - 2 - k]
            h = block(concatChannels([skip, up(h)]))
        }
        return head(h)
    }

    /// Logits without a graph, each activation released as soon as nothing needs it. A decoder's
    /// skip and up-sampled maps are never concatenated: the block's first convolution reads both
    /// where they are (Winograd) or fills its padded copy from both, and they are released once
    /// it has read them. The full-resolution level (f features) then holds at most skip +
    /// up-sampled + output (3f) per voxel, or skip + up-sampled + padded copy (4f) before a
    /// padded pass releases its parts.
    func inference(_ x: Tensor) -> Tensor {
        // The full-resolution convolutions' scratch (with padded passes, the decoder's 2f-channel
        // padded copy is the largest) is allocated first, below the activations, rather than
        // between them at the peak.
        let full = Array(x.shape.dropFirst(2))
        ConvPlan.reserveScratch(max(decoders.last?.conv1.forwardScratchCount(inputShape: [x.shape[0], 2 * features[0]] + full) ?? 0,
                                    encoders[0].conv2.forwardScratchCount(inputShape: [x.shape[0], features[0]] + full)))
        let two = [Int](repeating: 2, count: spatialRank)
        var skips: [Tensor?] = []
        var h = x
        for (level, block) in encoders.enumerated() {
            // The block's input (the network's input at level 0, which the caller keeps; the pooled
            // map below) and its first stage's output are released once read.
            var input: [Tensor]? = [level > 0 ? maxPoolValues(h, PoolGeometry(inputShape: h.shape, kernel: two)) : h]
            if level > 0 { h = Tensor(shape: [0]) }  // the pre-pool map lives on as a skip, or is released here
            h = block.inference(consumingParts: &input)
            if level < encoders.count - 1 { skips.append(h) }
        }
        for (k, (up, block)) in zip(ups, decoders).enumerated() {
            let i = features.count - 2 - k
            // The skip and the up-sampled maps go straight into the first convolution (no
            // concatenation) and are released once it has read them.
            var parts: [Tensor]? = [skips[i]!, up(Variable(h)).value]
            skips[i] = nil
            h = Tensor(shape: [0])  // the coarser map: up-sampled, no longer needed
            h = block.inference(consumingParts: &parts)
        }
        return head(Variable(h)).value
    }

    /// Softmax probabilities over classes, without recording a graph.
    public func predict(_ x: Tensor) -> Tensor {
        withoutGradients { softmax(self(Variable(x))).value }
    }
}
