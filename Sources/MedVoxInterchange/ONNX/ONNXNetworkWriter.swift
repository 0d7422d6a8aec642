import MedVoxCore
import MedVoxNN
import MedVoxTensor

/// Emits the nodes of MedVox modules into an `ONNXModelBuilder`, each parameter an initializer
/// under its checkpoint name.
struct ONNXNetworkWriter {
    var builder: ONNXModelBuilder
    /// The output file, for errors.
    let path: String

    mutating func weight(_ name: String, _ v: Variable) -> String {
        builder.initializer(name, dims: v.shape, values: v.value.storage)
    }

    mutating func conv(_ c: ConvNd, _ x: String, name: String) -> String {
        var inputs = [x, weight(name + ".weight", c.weight)]
        if let b = c.bias { inputs.append(weight(name + ".bias", b)) }
        let y = builder.node(
            "Conv", inputs, name: name,
            attributes: [
                .ints("kernel_shape", c.kernel.map(Int64.init)), .ints("strides", c.stride.map(Int64.init)),
                .ints("pads", (c.padding + c.padding).map(Int64.init)), .ints("dilations", c.dilation.map(Int64.init)),
                .int("group", 1),
            ])
        switch c.activation {
        case .none: return y
        case .relu: return builder.node("Relu", [y], name: name + ".relu")
        case let .leakyReLU(s): return builder.node("LeakyRelu", [y], name: name + ".leaky_relu", attributes: [.float("alpha", s)])
        }
    }

    mutating func convTranspose(_ c: ConvTransposeNd, _ x: String, name: String) -> String {
        var inputs = [x, weight(name + ".weight", c.weight)]
        if let b = c.bias { inputs.append(weight(name + ".bias", b)) }
        var attributes: [ONNXModelBuilder.Attribute] = [
            .ints("kernel_shape", c.kernel.map(Int64.init)), .ints("strides", c.stride.map(Int64.init)),
            .ints("pads", (c.padding + c.padding).map(Int64.init)),
        ]
        if c.outputPadding.contains(where: { $0 != 0 }) { attributes.append(.ints("output_padding", c.outputPadding.map(Int64.init))) }
        return builder.node("ConvTranspose", inputs, name: name, attributes: attributes)
    }

    /// Instance normalisation (a `GroupNorm` with one channel per group); MedVox's U-Nets have no other kind.
    mutating func instanceNorm(_ n: GroupNorm, channels: Int, _ x: String, name: String) throws -> String {
        guard n.groups == channels else {
            throw ModelFormatError.unsupported(path: path, context: name, reason: "group normalisation with \(n.groups) groups of \(channels) channels has no ONNX export")
        }
        let scale = n.weight.map { weight(name + ".weight", $0) }
            ?? builder.initializer(name + ".weight", dims: [channels], values: [Float](repeating: 1, count: channels))
        let bias = n.bias.map { weight(name + ".bias", $0) }
            ?? builder.initializer(name + ".bias", dims: [channels], values: [Float](repeating: 0, count: channels))
        return builder.node("InstanceNormalization", [x, scale, bias], name: name, attributes: [.float("epsilon", n.eps)])
    }

    mutating func batchNorm(_ n: BatchNorm, _ x: String, name: String) -> String {
        builder.node(
            "BatchNormalization",
            [x, weight(name + ".weight", n.weight), weight(name + ".bias", n.bias),
             weight(name + ".running_mean", n.runningMean), weight(name + ".running_var", n.runningVar)],
            name: name, attributes: [.float("epsilon", n.eps)])
    }

    /// conv → instance norm → leaky ReLU, twice.
    mutating func convBlock(_ b: ConvBlock, _ x: String, name: String) throws -> String {
        var h = x
        for (i, (c, n)) in [(b.conv1, b.norm1), (b.conv2, b.norm2)].enumerated() {
            let stage = "\(name).\(["conv1", "conv2"][i])"
            h = conv(c, h, name: stage)
            h = try instanceNorm(n, channels: c.outChannels, h, name: "\(name).\(["norm1", "norm2"][i])")
            h = builder.node("LeakyRelu", [h], name: stage + ".leaky_relu", attributes: [.float("alpha", b.slope)])
        }
        return h
    }

    /// `UNet.callAsFunction`: encoder blocks with 2× max pooling between them, transposed
    /// convolutions up, skip first in each concatenation, a 1×1 head.
    mutating func unet(_ net: UNet, input: String) throws -> String {
        let two = [Int64](repeating: 2, count: net.spatialRank)
        var skips: [String] = []
        var h = input
        for (level, block) in net.encoders.enumerated() {
            if level > 0 {
                h = builder.node("MaxPool", [h], name: "encoders.\(level).pool", attributes: [.ints("kernel_shape", two), .ints("strides", two)])
            }
            h = try convBlock(block, h, name: "encoders.\(level)")
            skips.append(h)
        }
        for (k, (up, block)) in zip(net.ups, net.decoders).enumerated() {
            let skip = skips[net.features.count - 2 - k]
            let u = convTranspose(up, h, name: "ups.\(k)")
            let cat = builder.node("Concat", [skip, u], name: "decoders.\(k).concat", attributes: [.int("axis", 1)])
            h = try convBlock(block, cat, name: "decoders.\(k)")
        }
        return conv(net.head, h, name: "head")
    }

    /// `ResNetClassifier.callAsFunction` in inference mode (batch norms on running statistics).
    mutating func resnet(_ net: ResNetClassifier, input: String) throws -> String {
        var h = builder.node("Relu", [batchNorm(net.stemNorm, conv(net.stem, input, name: "stem"), name: "stem_norm")], name: "stem.relu")
        for (i, block) in net.blocks.enumerated() {
            let p = "blocks.\(i)"
            var r = builder.node("Relu", [batchNorm(block.bn1, conv(block.conv1, h, name: p + ".conv1"), name: p + ".bn1")], name: p + ".relu1")
            r = batchNorm(block.bn2, conv(block.conv2, r, name: p + ".conv2"), name: p + ".bn2")
            var shortcut = h
            if let s = block.shortcut {
                guard s.layers.count == 2, let c = s.layers[0] as? ConvNd, let n = s.layers[1] as? BatchNorm else {
                    throw ModelFormatError.unsupported(path: path, context: p + ".shortcut", reason: "a shortcut other than convolution + batch norm has no ONNX export")
                }
                shortcut = batchNorm(n, conv(c, h, name: p + ".shortcut.0"), name: p + ".shortcut.1")
            }
            h = builder.node("Relu", [builder.node("Add", [r, shortcut], name: p + ".add")], name: p + ".relu2")
        }
        let pooled = builder.node("GlobalAveragePool", [h], name: "pool")
        let flat = builder.node("Flatten", [pooled], name: "flatten", attributes: [.int("axis", 1)])
        var gemm = [flat, weight("fc.weight", net.fc.weight)]
        if let b = net.fc.bias { gemm.append(weight("fc.bias", b)) }
        return builder.node("Gemm", gemm, name: "fc", attributes: [.int("transB", 1)])
    }
}
