import Foundation
import MedVoxCore
import MedVoxInterchange
import MedVoxNN
import MedVoxTensor

/// Writes a model MedVox trained (a card's U-Net or ResNet classifier with its weights) as an
/// ONNX file (opset 17, IR version 8) that other runtimes (onnxruntime, OpenVINO, TensorRT) run.
///
/// The graph is built from the network's own module tree, one ONNX node per layer operation:
///
/// | MedVox | ONNX |
/// | --- | --- |
/// | `ConvNd` | Conv (pads symmetric, strides, dilations) |
/// | `GroupNorm` with one group per channel (instance norm) | InstanceNormalization |
/// | leaky ReLU of a `ConvBlock` | LeakyRelu |
/// | 2× max pooling of the U-Net | MaxPool (kernel 2, stride 2) |
/// | `ConvTransposeNd` | ConvTranspose |
/// | decoder's skip + up-sampled maps | Concat (axis 1, skip first) |
/// | `BatchNorm` (running statistics) | BatchNormalization |
/// | ReLU, residual sum | Relu, Add |
/// | global average pooling, `Linear` | GlobalAveragePool, Flatten, Gemm (transB) |
///
/// The graph's output is the network's raw **logits** (output `logits`: `[N, classes, spatial…]`
/// for a U-Net, `[N, classes]` for a classifier), exactly what MedVox's forward pass returns;
/// softmax (and a classifier's temperature) is left to the caller, as MedVox applies it after
/// the sliding-window sum. The input `image` is `[N, inChannels, spatial…]` with symbolic batch
/// and spatial sizes (`batch`, `i`, `j`, `k`): a U-Net takes any size divisible by
/// 2^(levels − 1), a classifier any size.
///
/// Weights keep the names of MedVox's checkpoints (`encoders.0.conv1.weight` …) as initializer
/// names. `metadata_props` carry what `medvox import` needs to rebuild the card:
/// `medvox.card` (the whole card as JSON, preprocessing, labels, input spacing and patch size
/// included), `medvox.preprocessing` (the preprocessing pipeline alone, as JSON) and
/// `medvox.output` (`logits`).
public enum ONNXExport {
    /// The operator set version the export targets.
    public static let opset: Int64 = 17
    /// The IR version that goes with `opset`.
    public static let irVersion: Int64 = 8

    /// The ONNX model of `model`'s network, weights inline.
    public static func build(_ model: LoadedModel) throws -> ONNXModelBuilder {
        var g = GraphWriter(builder: ONNXModelBuilder(graphName: model.card.name, opset: opset, irVersion: irVersion))
        let card = model.card
        let spatial: [ONNXDimension] = ["i", "j", "k"].prefix(card.architecture.spatialRank).map { .param($0) }
        let batch = ONNXDimension.param("batch")
        g.builder.addInput("image", [batch, .value(Int64(card.architecture.inChannels))] + spatial)
        let logits: String
        switch model.network {
        case let unet as UNet: logits = try g.unet(unet, input: "image")
        case let resnet as ResNetClassifier: logits = try g.resnet(resnet, input: "image")
        default:
            throw ModelError.architectureMismatch(path: model.cardPath, reason: "no ONNX export for a network of type \(type(of: model.network))")
        }
        let out = g.builder.node("Identity", [logits], name: "logits")
        let classes = ONNXDimension.value(Int64(card.architecture.classes))
        g.builder.addOutput(out, model.network is ResNetClassifier ? [batch, classes] : [batch, classes] + spatial)
        g.builder.metadata = [
            ("medvox.card", String(decoding: card.encoded(), as: UTF8.self)),
            ("medvox.preprocessing", String(decoding: try jsonData(card.preprocessing), as: UTF8.self)),
            ("medvox.output", "logits"),
        ]
        return g.builder
    }

    /// Writes `model` as an ONNX file at `path` (atomically: nothing is left behind on failure).
    public static func write(_ model: LoadedModel, to path: String) throws {
        let bytes = try build(model).encoded()
        try AtomicFile.write(bytes, to: path)
    }

    static func jsonData<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return try e.encode(value)
    }
}

/// Emits the nodes of MedVox modules into an `ONNXModelBuilder`, each parameter an initializer
/// under its checkpoint name.
struct GraphWriter {
    var builder: ONNXModelBuilder

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
            throw ModelError.architectureMismatch(path: name, reason: "group normalisation with \(n.groups) groups of \(channels) channels has no ONNX export")
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
                    throw ModelError.architectureMismatch(path: p, reason: "unexpected shortcut layers")
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
