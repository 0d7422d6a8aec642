import Foundation
import MedVoxCore
import MedVoxInference

/// `medvox evaluate --task segment|classify --pred P --ref R -o metrics.csv`.
struct EvaluateCommand: Command {
    static let spec = CommandSpec(
        """
        evaluate: score predictions against references (Dice, HD95, surface distance; accuracy, AUC, ECE)
          --task TASK               segment or classify
          --pred P                  segment: a mask file or a folder of masks; classify: a predictions CSV (case,CLASS...)
          --ref R                   segment: the reference file or folder (same file names); classify: a CSV case,label (optional when --pred has a label column)
          --labels L                segment: comma-separated labels to score (default: every non-zero label present)
          --output CSV              where to write the metrics CSV; also -o

        Examples:
          medvox evaluate --task segment --pred preds/ --ref labelsTs/ -o metrics.csv
          medvox evaluate --task classify --pred predictions.csv --ref truth.csv -o metrics.csv
        """)

    enum Task: String { case segment, classify }
    let task: Task
    let pred: String
    let ref: String?
    let labels: [Int]?
    let output: String

    init(_ args: ParsedArguments) throws {
        guard let t = args.value("task"), let task = Task(rawValue: t) else {
            throw UsageError("--task must be segment or classify", command: Self.spec)
        }
        self.task = task
        guard let p = args.value("pred") else { throw UsageError("missing --pred", command: Self.spec) }
        pred = p
        ref = args.value("ref")
        if task == .segment && ref == nil { throw UsageError("--task segment needs --ref", command: Self.spec) }
        guard let o = args.value("output") else { throw UsageError("missing -o CSV", command: Self.spec) }
        output = o
        if let l = args.value("labels") {
            guard task == .segment else { throw UsageError("--labels applies to --task segment", command: Self.spec) }
            let v = l.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !v.isEmpty, v.allSatisfy({ $0 != nil && $0! >= 0 }) else {
                throw UsageError("--labels expects comma-separated label numbers, got '\(l)'", command: Self.spec)
            }
            labels = v.map { $0! }
        } else {
            labels = nil
        }
    }

    func run() throws {
        AtomicFile.protect([pred, ref].compactMap { $0 })
        switch task {
        case .segment:
            let e = try SegmentationEvaluation.run(pairs: try SegmentationEvaluation.pairs(prediction: pred, reference: ref!), labels: labels)
            for w in e.warnings { warn(w) }
            try AtomicFile.write(e.csv, to: output)
            let cases = Set(e.rows.map(\.caseName)).count
            print("\(output): \(cases) case(s), labels \(e.labels.map(String.init).joined(separator: ","))")
            func f(_ v: (Double?, Double?), _ fmt: String) -> String {
                guard let m = v.0 else { return "-" }
                return String(format: fmt, m) + (v.1.map { String(format: " ± " + fmt, $0) } ?? "")
            }
            for s in e.summary {
                print("  label \(s.label): Dice \(f(s.dice, "%.4f")), HD95 \(f(s.hd95, "%.2f")) mm, mean surface distance \(f(s.msd, "%.2f")) mm, volume difference \(f(s.volumeDifference, "%.2f")) mL")
            }
        case .classify:
            let e = try ClassificationEvaluation.run(predictions: pred, reference: ref)
            try AtomicFile.write(e.csv, to: output)
            let s = e.scores
            print("\(output): \(e.cases.count) case(s), accuracy \(String(format: "%.4f", s.accuracy)), balanced accuracy \(String(format: "%.4f", s.balancedAccuracy)), macro AUC \(s.macroAUC.map { String(format: "%.4f", $0) } ?? "-"), ECE \(String(format: "%.4f", s.expectedCalibrationError))")
        }
    }
}
