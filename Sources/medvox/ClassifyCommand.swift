import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference

/// `medvox classify INPUT`: runs a classification model and prints class probabilities.
struct ClassifyCommand: Command {
    static let spec = CommandSpec(
        name: "classify",
        abstract: "classify a scan with a model: class probabilities, top class, calibrated confidence",
        positionals: [PositionalSpec(name: "INPUT", help: "a NIfTI file, a DICOM file or a DICOM series folder")],
        options: [
            .value("model", "NAME|PATH", "model name in Models/ or a card .json (default: brain-qc)"),
            .flag("json", "print one JSON object"),
        ],
        discussion: """
            Examples:
              medvox classify t1.nii.gz
              medvox classify dicom_series/ --model brain-qc --json
            """
    )

    let input: String
    let modelName: String
    let json: Bool

    init(_ args: ParsedArguments) throws {
        input = args.positionals[0]
        modelName = args.value("model") ?? "brain-qc"
        json = args.flag("json")
    }

    func run() throws {
        let model = try LoadedModel.load(modelName)
        let classifier = try Classifier(model: model)
        let (volume, modality) = try readInputImage(input)
        let r = try classifier.classify(volume, modality: modality)
        for w in r.warnings { warn("\(input): \(w)") }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            struct Output: Encodable {
                var input: String
                var model: String
                var result: ClassificationResult
            }
            print(String(decoding: try e.encode(Output(input: input, model: model.card.name, result: r)), as: UTF8.self))
        } else {
            print("\(input): \(r.topClass) (confidence \(String(format: "%.3f", r.confidence)), model \(model.card.name) \(model.card.version))")
            for (c, p) in zip(r.classes, r.probabilities) { print(CommandSpec.row(c, String(format: "%.4f", p))) }
        }
    }
}
