import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference
import MedVoxReport

/// `medvox classify INPUT`: runs a classification model and prints class probabilities.
struct ClassifyCommand: Command {
    static let spec = CommandSpec(
        """
        classify: classify a scan with a model: class probabilities, top class, calibrated confidence
          INPUT                     a NIfTI file, a DICOM file or a DICOM series folder
          --model NAME|PATH         model name in Models/ or a card .json (default: brain-qc)
          --json                    print one JSON object
          \(ReportFlags.options)

        Examples:
          medvox classify t1.nii.gz
          medvox classify dicom_series/ --model brain-qc --json
        """)

    let input: String
    let modelName: String
    let json: Bool

    let report: ReportFlags

    init(_ args: ParsedArguments) throws {
        report = ReportFlags(args)
        input = args.positionals[0]
        modelName = args.value("model") ?? "brain-qc"
        json = args.flag("json")
    }

    func run() throws {
        AtomicFile.protect([input])
        let model = try LoadedModel.load(modelName)
        let classifier = try Classifier(model: model)
        let source = try ImageFile.open(input)
        let volume = try source.volume()
        let r = try classifier.classify(volume, modality: source.modality)
        for w in r.warnings { warn("\(input): \(w)") }
        if let dir = report.directory {
            var b = ReportBuilder(source: source, image: volume, phi: report.phi, version: version)
            try b.addClassification(model: model, result: r)
            try ReportWriter.write(b.report, figures: b.figures, to: dir)
        }
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
