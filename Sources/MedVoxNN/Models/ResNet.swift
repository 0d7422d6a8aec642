import MedVoxCore
import MedVoxTensor

/// A ResNet basic block (He et al. 2016): conv–BN–ReLU–conv–BN plus a shortcut (a strided 1×1
/// convolution and BN when the shape changes), then ReLU.
public final class BasicBlock: Module {
    public let conv1: ConvNd, bn1: BatchNorm, conv2: ConvNd, bn2: BatchNorm
    public let shortcut: Sequential?
    public var training = true

    public init(_ cin: Int, _ cout: Int, stride: Int, spatialRank r: Int, rng: inout SeededGenerator) {
        let k3 = [Int](repeating: 3, count: r), p1 = [Int](repeating: 1, count: r), s = [Int](repeating: stride, count: r)
        conv1 = ConvNd(cin, cout, kernel: k3, stride: s, padding: p1, bias: false, rng: &rng)
        bn1 = BatchNorm(cout)
        conv2 = ConvNd(cout, cout, kernel: k3, padding: p1, bias: false, rng: &rng)
        bn2 = BatchNorm(cout)
        shortcut = (stride != 1 || cin != cout)
            ? Sequential(ConvNd(cin, cout, kernel: [Int](repeating: 1, count: r), stride: s, bias: false, rng: &rng), BatchNorm(cout))
            : nil
    }

    public var children: [(String, Module)] {
        [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)] + (shortcut.map { [("shortcut", $0 as Module)] } ?? [])
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        let h = bn2(conv2(relu(bn1(conv1(x)))))
        return relu(h + (shortcut?(x) ?? x))
    }
}

/// A small ResNet-style classifier for 2D or 3D images: a 3×3(×3) stem, one basic block per
/// entry of `widths` (stride 2 from the second on), global average pooling and a linear layer
/// to class logits `[N, classes]`.
public final class ResNetClassifier: Module {
    public let stem: ConvNd, stemNorm: BatchNorm
    public let blocks: [BasicBlock]
    public let fc: Linear
    public var training = true

    public init(spatialRank r: Int, inChannels: Int, classes: Int, widths: [Int] = [16, 32, 64, 128], rng: inout SeededGenerator) {
        stem = ConvNd(inChannels, widths[0], kernel: [Int](repeating: 3, count: r), padding: [Int](repeating: 1, count: r), bias: false, rng: &rng)
        stemNorm = BatchNorm(widths[0])
        var b: [BasicBlock] = []
        var cin = widths[0]
        for (i, w) in widths.enumerated() {
            b.append(BasicBlock(cin, w, stride: i == 0 ? 1 : 2, spatialRank: r, rng: &rng))
            cin = w
        }
        blocks = b
        fc = Linear(cin, classes, rng: &rng)
    }

    public var children: [(String, Module)] {
        [("stem", stem), ("stem_norm", stemNorm)] + blocks.enumerated().map { ("blocks.\($0.offset)", $0.element as Module) } + [("fc", fc)]
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        var h = relu(stemNorm(stem(x)))
        for block in blocks { h = block(h) }
        return fc(globalAvgPool(h))
    }
}
