import Foundation
import MedVoxTransforms

extension ModelCard {
    /// What `medvox info CARD` prints: the model, what it expects, and the preprocessing it
    /// applies, step by step, as (label, value) rows.
    public var summaryRows: [(String, String)] {
        let a = architecture
        var rows: [(String, String)] = [("model", "\(name) \(version)"), ("task", task.rawValue)]
        if !description.isEmpty { rows.append(("description", description)) }
        var arch = "\(a.kind), \(a.spatialRank)D, \(a.inChannels) input channel(s), \(a.classes) outputs"
        if let f = a.features { arch += ", features \(f)" }
        if let w = a.widths { arch += ", widths \(w)" }
        if a.kind == "graph" {
            arch += ", sizes multiple of \(a.sizeMultiple ?? 1)"
            if let s = a.inputSize { arch += ", fixed input \(s)" }
            arch += a.outputIsProbability == true ? ", outputs probabilities" : ", outputs logits (softmax applied)"
        }
        rows.append(("architecture", arch))
        if a.kind == "graph" { rows.append(("axes", "network spatial axes = NIfTI i, j, k (as MONAI loads arrays)")) }
        rows.append(("labels", labels.map { "\($0.value)=\($0.name)" }.joined(separator: ", ")))
        var input = "\(self.input.modality)" + (self.input.contrast.map { " \($0)" } ?? "")
        input += ", spacing \(self.input.spacing.map { String(format: "%g", $0) }.joined(separator: "×")) mm"
        input += ", patch \(self.input.patchSize.map(String.init).joined(separator: "×"))"
        rows.append(("input", input))
        if preprocessing.steps.isEmpty { rows.append(("preprocessing", "none (the network sees the image as stored)")) }
        for (i, s) in preprocessing.steps.enumerated() { rows.append((i == 0 ? "preprocessing" : "", "\(i + 1). \(s.summary)")) }
        rows.append(("weights", "\(weights.file) (sha256 \(weights.sha256.prefix(16))…)"))
        if let g = a.graph { rows.append(("graph", "\(g.file) (sha256 \(g.sha256.prefix(16))…)")) }
        return rows
    }
}

extension PreprocessStep {
    /// One line naming the step and its parameters.
    public var summary: String {
        func list(_ v: [Double]) -> String { v.map { String(format: "%g", $0) }.joined(separator: ",") }
        switch op {
        case .reorient: return "reorient to \(orientation ?? "RAS")"
        case .resample:
            let target = spacing.map { "spacing \(list($0)) mm" } ?? shape.map { "shape \($0)" } ?? "?"
            return "resample to \(target) (\(interpolation.map { "\($0)" } ?? "linear"))"
        case .cropForeground: return "crop to the foreground (threshold \(threshold ?? 0), margin \(margin ?? 0))"
        case .padCrop: return "pad or crop to \(shape ?? [])"
        case .centreCrop: return "centre crop to \(shape ?? [])"
        case .zscore: return "z-score" + (nonZero == true ? " over non-zero voxels" : "")
        case .percentile: return "scale percentiles \(lower ?? 0.5)-\(upper ?? 99.5) to 0-1" + (nonZero == true ? " (non-zero voxels)" : "")
        case .ctWindow: return "clip to \(lower ?? 0)...\(upper ?? 0) and scale to 0-1"
        case .histogram: return "histogram standardisation"
        }
    }
}
