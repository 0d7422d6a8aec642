import Foundation
import MedVoxCore
import MedVoxInference
import MedVoxInterchange

/// `medvox export CARD -o MODEL.onnx`: writes a MedVox model as an ONNX file (see `ONNXExport`),
/// the card in its metadata.
struct ExportCommand: Command {
    static let spec = CommandSpec(
        """
        export: write a MedVox model (U-Net or ResNet classifier) as an ONNX file (opset 17) for other runtimes
          CARD                      model name in Models/ or a card .json
          --output MODEL.onnx       the ONNX file to write; also -o

        The graph outputs raw logits ('logits': [N, classes, spatial...] or [N, classes]); apply softmax
        (and a classifier's calibration temperature) yourself. The input 'image' is [N, channels, spatial...]
        with free sizes (a U-Net's must divide by 2^(levels-1)). The card, its preprocessing included, is
        stored in the file's metadata ('medvox.card', 'medvox.preprocessing').

        Examples:
          medvox export brain-tissue -o brain-tissue.onnx
          medvox export runs/my-model.json -o my-model.onnx
        """)

    let card: String
    let output: String

    init(_ args: ParsedArguments) throws {
        card = args.positionals[0]
        guard let o = args.value("output") else { throw UsageError("missing -o MODEL.onnx", command: Self.spec) }
        guard o.hasSuffix(".onnx") else { throw UsageError("the output must end in .onnx: \(o)", command: Self.spec) }
        output = o
    }

    func run() throws {
        let model = try LoadedModel.load(card)
        AtomicFile.protect([model.cardPath])
        try ONNXExport.write(model.network, name: model.card.name, metadata: model.card.onnxMetadata, to: output)
        print("\(output): \(model.card.name) \(model.card.version) as ONNX opset \(ONNXExport.opset), input 'image', output 'logits'")
    }
}
