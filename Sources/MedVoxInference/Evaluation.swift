import Foundation
import MedVoxCore
import MedVoxIO

/// Errors evaluating predictions against references.
public enum EvaluationError: MedVoxError {
    case noCases(path: String)
    case missingReference(prediction: String, expected: String)
    case gridMismatch(prediction: String, reference: String, predictionDims: [Int], referenceDims: [Int])
    case badCSV(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case let .noCases(path): return "\(path): no .nii or .nii.gz files to evaluate"
        case let .missingReference(prediction, expected): return "\(prediction): no reference \(expected)"
        case let .gridMismatch(p, r, pd, rd): return "\(p): grid \(pd) does not match the reference \(r) grid \(rd)"
        case let .badCSV(path, line, reason): return "\(path):\(line): \(reason)"
        }
    }
}

/// Segmentation metrics of prediction/reference pairs, per case and label, as CSV (`medvox evaluate
/// --task segment`).
public struct SegmentationEvaluation: Sendable {
    public struct Row: Sendable {
        public var caseName: String
        public var scores: SegmentationScores
    }
    public var rows: [Row]
    public var labels: [Int]
    /// Notes such as affines that differ although the voxel grids match.
    public var warnings: [String]

    /// Pairs prediction and reference files: two files, or two folders matched by file name.
    public static func pairs(prediction: String, reference: String) throws -> [(name: String, prediction: String, reference: String)] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: prediction, isDirectory: &isDir) else {
            throw FileError.cannotRead(path: prediction, reason: "no such file or folder")
        }
        guard isDir.boolValue else {
            return [(URL(fileURLWithPath: prediction).lastPathComponent, prediction, reference)]
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: prediction)) ?? [])
            .filter { $0.hasSuffix(".nii") || $0.hasSuffix(".nii.gz") }.sorted()
        guard !names.isEmpty else { throw EvaluationError.noCases(path: prediction) }
        return try names.map { n in
            let r = (reference as NSString).appendingPathComponent(n)
            guard FileManager.default.fileExists(atPath: r) else {
                throw EvaluationError.missingReference(prediction: (prediction as NSString).appendingPathComponent(n), expected: r)
            }
            return (n, (prediction as NSString).appendingPathComponent(n), r)
        }
    }

    /// Scores every pair; `labels` nil: every non-zero label found in either map.
    public static func run(pairs: [(name: String, prediction: String, reference: String)], labels: [Int]?) throws -> SegmentationEvaluation {
        var rows: [Row] = []
        var warnings: [String] = []
        var allLabels = Set<Int>()
        var loaded: [(String, [Float], [Float], [Int], [Double])] = []
        for p in pairs {
            let pred = try ImageFile.read(p.prediction), ref = try ImageFile.read(p.reference)
            guard pred.shape3 == ref.shape3 else {
                throw EvaluationError.gridMismatch(prediction: p.prediction, reference: p.reference, predictionDims: pred.shape3, referenceDims: ref.shape3)
            }
            if !pred.affine.isClose(to: ref.affine, tolerance: 1e-3 * max(1, ref.spacing.max() ?? 1)) {
                warnings.append("\(p.prediction): affine differs from the reference's; scored voxel by voxel on the reference's spacing")
            }
            let pv = Array(pred.voxels.prefix(pred.frameCount)).map { $0.rounded() }
            let rv = Array(ref.voxels.prefix(ref.frameCount)).map { $0.rounded() }
            if labels == nil { allLabels.formUnion((pv + rv).map { Int($0) }.filter { $0 != 0 }) }
            loaded.append((p.name, pv, rv, ref.shape3, Array(ref.spacing.prefix(3))))
        }
        let chosen = labels ?? allLabels.sorted()
        for (name, pv, rv, dims, spacing) in loaded {
            for s in segmentationScores(prediction: pv, reference: rv, dims: dims, spacing: spacing, labels: chosen) {
                rows.append(Row(caseName: name, scores: s))
            }
        }
        return SegmentationEvaluation(rows: rows, labels: chosen, warnings: warnings)
    }

    /// Mean and sample standard deviation of the defined values.
    static func meanSD(_ v: [Double?]) -> (Double?, Double?) {
        let d = v.compactMap { $0 }
        guard !d.isEmpty else { return (nil, nil) }
        let m = d.reduce(0, +) / Double(d.count)
        guard d.count > 1 else { return (m, nil) }
        return (m, (d.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(d.count - 1)).squareRoot())
    }

    /// Per label, the mean (and SD) over cases of Dice, HD95, mean surface distance and volume
    /// difference.
    public var summary: [(label: Int, dice: (Double?, Double?), hd95: (Double?, Double?), msd: (Double?, Double?), volumeDifference: (Double?, Double?))] {
        labels.map { l in
            let r = rows.filter { $0.scores.label == l }.map(\.scores)
            return (l, Self.meanSD(r.map(\.dice)), Self.meanSD(r.map(\.hd95)), Self.meanSD(r.map(\.meanSurfaceDistance)),
                    Self.meanSD(r.map { Optional($0.volumeDifferenceML) }))
        }
    }

    /// CSV: one row per case and label; then per case the mean over labels (label "mean"); then per
    /// label the mean and SD over cases (case "mean" / "sd"). Empty cells: undefined (e.g. Dice of
    /// two empty masks, distances to an empty mask).
    public var csv: String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.6g", $0) } ?? "" }
        var lines = ["case,label,dice,hd95_mm,mean_surface_distance_mm,predicted_ml,reference_ml,volume_difference_ml"]
        for r in rows {
            let s = r.scores
            lines.append([r.caseName, String(s.label), f(s.dice), f(s.hd95), f(s.meanSurfaceDistance), f(s.predictedML), f(s.referenceML), f(s.volumeDifferenceML)].joined(separator: ","))
        }
        var cases: [String] = []
        for r in rows where !cases.contains(r.caseName) { cases.append(r.caseName) }
        for c in cases {
            let s = rows.filter { $0.caseName == c }.map(\.scores)
            lines.append([c, "mean", f(Self.meanSD(s.map(\.dice)).0), f(Self.meanSD(s.map(\.hd95)).0), f(Self.meanSD(s.map(\.meanSurfaceDistance)).0), "", "", ""].joined(separator: ","))
        }
        for (l, dice, hd, msd, vd) in summary {
            lines.append(["mean", String(l), f(dice.0), f(hd.0), f(msd.0), "", "", f(vd.0)].joined(separator: ","))
            lines.append(["sd", String(l), f(dice.1), f(hd.1), f(msd.1), "", "", f(vd.1)].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Classification metrics from a predictions CSV (`medvox evaluate --task classify`).
///
/// Predictions: a header `case,CLASS_A,CLASS_B,…` (probability columns named after the classes;
/// columns named `label`, `truth`, `predicted`, `confidence` are not probabilities), one row per
/// case. Truth: a `label`/`truth` column in the predictions, or a reference CSV `case,label`. A
/// label is a class name or a 0-based class index.
public struct ClassificationEvaluation: Sendable {
    public var classes: [String]
    public var cases: [String]
    public var truth: [Int]
    public var probabilities: [[Double]]
    public var scores: ClassificationScores

    static func readCSV(_ path: String) throws -> [[String]] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FileError.cannotRead(path: path, reason: error.localizedDescription)
        }
        let rows = text.split(whereSeparator: \.isNewline).map { line in
            line.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }.filter { !($0.count == 1 && $0[0].isEmpty) }
        guard rows.count >= 2 else { throw EvaluationError.badCSV(path: path, line: 1, reason: "needs a header and at least one row") }
        for (n, r) in rows.enumerated() where r.count != rows[0].count {
            throw EvaluationError.badCSV(path: path, line: n + 1, reason: "\(r.count) fields, the header has \(rows[0].count)")
        }
        return rows
    }

    public static func run(predictions: String, reference: String?) throws -> ClassificationEvaluation {
        let rows = try readCSV(predictions)
        let header = rows[0]
        let special: Set<String> = ["label", "truth", "predicted", "confidence"]
        let probColumns = header.indices.dropFirst().filter { !special.contains(header[$0].lowercased()) }
        guard probColumns.count >= 2 else {
            throw EvaluationError.badCSV(path: predictions, line: 1, reason: "needs at least two probability columns named after the classes")
        }
        let classes = probColumns.map { header[$0] }
        func classIndex(_ s: String, _ path: String, _ line: Int) throws -> Int {
            if let i = classes.firstIndex(of: s) { return i }
            if let i = Int(s), (0..<classes.count).contains(i) { return i }
            throw EvaluationError.badCSV(path: path, line: line, reason: "unknown class '\(s)' (classes: \(classes.joined(separator: ", ")))")
        }
        var truthByCase: [String: Int] = [:]
        if let reference {
            let r = try readCSV(reference)
            for (n, row) in r.enumerated().dropFirst() {
                guard row.count >= 2 else { throw EvaluationError.badCSV(path: reference, line: n + 1, reason: "expected case,label") }
                truthByCase[row[0]] = try classIndex(row[1], reference, n + 1)
            }
        }
        let truthColumn = header.firstIndex { ["label", "truth"].contains($0.lowercased()) }
        var cases: [String] = [], truth: [Int] = [], probs: [[Double]] = []
        for (n, row) in rows.enumerated().dropFirst() {
            let p = try probColumns.map { c -> Double in
                guard let v = Double(row[c]), v.isFinite, v >= 0 else {
                    throw EvaluationError.badCSV(path: predictions, line: n + 1, reason: "'\(row[c])' is not a probability")
                }
                return v
            }
            let t: Int
            if reference != nil {
                guard let v = truthByCase[row[0]] else {
                    throw EvaluationError.badCSV(path: reference!, line: 0, reason: "no label for case '\(row[0])'")
                }
                t = v
            } else if let tc = truthColumn {
                t = try classIndex(row[tc], predictions, n + 1)
            } else {
                throw EvaluationError.badCSV(path: predictions, line: 1, reason: "no label/truth column and no reference CSV")
            }
            cases.append(row[0])
            truth.append(t)
            probs.append(p)
        }
        let scores = classificationScores(truth: truth, probabilities: probs, classes: classes.count)
        return ClassificationEvaluation(classes: classes, cases: cases, truth: truth, probabilities: probs, scores: scores)
    }

    /// CSV `metric,class,value`: accuracy, balanced accuracy, one-vs-rest AUC per class, macro AUC,
    /// expected calibration error, and the confusion matrix as `confusion,TRUTH>PREDICTED,count`.
    public var csv: String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.6g", $0) } ?? "" }
        var lines = ["metric,class,value", "cases,,\(cases.count)", "accuracy,,\(f(scores.accuracy))",
                     "balanced_accuracy,,\(f(scores.balancedAccuracy))"]
        for (c, a) in zip(classes, scores.aucPerClass) { lines.append("auc,\(c),\(f(a))") }
        lines.append("macro_auc,,\(f(scores.macroAUC))")
        lines.append("expected_calibration_error,,\(f(scores.expectedCalibrationError))")
        for (t, row) in scores.confusion.enumerated() {
            for (p, n) in row.enumerated() { lines.append("confusion,\(classes[t])>\(classes[p]),\(n)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
