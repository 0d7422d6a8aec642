import MedVoxCore
import MedVoxNN
import MedVoxTensor

/// Writes a network MedVox trained (a `UNet` or a `ResNetClassifier` with its weights) as an
/// ONNX file (opset 17, IR version 8) that other runtimes (onnxruntime, OpenVINO …) run.
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
/// names. `metadata_props` hold the caller's entries (the CLI passes the model card as
/// `medvox.card` and its preprocessing as `medvox.preprocessing`, see `ModelCard.onnxMetadata`),
/// then `medvox.output` = `logits`.
///
/// ```swift
/// let model = try LoadedModel.load("brain-tissue")
/// try ONNXExport.write(model.network, name: "brain-tissue", metadata: model.card.onnxMetadata, to: "bt.onnx")
/// ```
public enum ONNXExport {
    /// The operator set version the export targets.
    public static let opset: Int64 = 17
    /// The IR version that goes with `opset`.
    public static let irVersion: Int64 = 8

    /// The ONNX model of `network` (weights inline); `path` names the output in errors.
    public static func build(_ network: Module, name: String, metadata: [(key: String, value: String)] = [],
                             path: String = "") throws -> ONNXModelBuilder
    {
        var g = ONNXNetworkWriter(builder: ONNXModelBuilder(graphName: name, opset: opset, irVersion: irVersion), path: path)
        let batch = ONNXDimension.param("batch")
        let logits: String, rank: Int, inChannels: Int, classes: Int
        switch network {
        case let unet as UNet:
            (rank, inChannels, classes) = (unet.spatialRank, unet.encoders[0].conv1.inChannels, unet.classes)
            g.builder.addInput("image", [batch, .value(Int64(inChannels))] + spatialAxes(rank))
            logits = try g.unet(unet, input: "image")
        case let resnet as ResNetClassifier:
            (rank, inChannels, classes) = (resnet.stem.kernel.count, resnet.stem.inChannels, resnet.fc.weight.shape[0])
            g.builder.addInput("image", [batch, .value(Int64(inChannels))] + spatialAxes(rank))
            logits = try g.resnet(resnet, input: "image")
        default:
            throw ModelFormatError.unsupported(path: path, context: "export", reason: "no ONNX export for a network of type \(type(of: network))")
        }
        let out = g.builder.node("Identity", [logits], name: "logits")
        let c = ONNXDimension.value(Int64(classes))
        g.builder.addOutput(out, network is ResNetClassifier ? [batch, c] : [batch, c] + spatialAxes(rank))
        g.builder.metadata = metadata + [("medvox.output", "logits")]
        return g.builder
    }

    /// Writes `network` as an ONNX file at `path` (atomically: nothing is left behind on failure).
    public static func write(_ network: Module, name: String, metadata: [(key: String, value: String)] = [],
                             to path: String) throws
    {
        try AtomicFile.write(try build(network, name: name, metadata: metadata, path: path).encoded(), to: path)
    }

    /// The symbolic spatial axes `i`, `j`(, `k`).
    static func spatialAxes(_ rank: Int) -> [ONNXDimension] { ["i", "j", "k"].prefix(rank).map { .param($0) } }
}
