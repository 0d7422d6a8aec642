import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference
import MedVoxTransforms

/// Assembles a `CaseReport` from what a run produced: the opened input, the models' results and
/// the figures, and adds the quality warnings.
public struct ReportBuilder {
    public private(set) var report: CaseReport
    /// Figures to write beside the report, by file name.
    public private(set) var figures: [String: RasterImage] = [:]
    let image: Volume

    /// - Parameters:
    ///   - source: the opened input (for its format and metadata); only its file or folder name is
    ///     shown, never the full path.
    ///   - image: the input's voxels.
    ///   - phi: include patient-identifying DICOM attributes in the acquisition table.
    public init(source: any ImageSource, image: Volume, phi: Bool, version: String, date: Date = Date()) {
        self.image = image
        var input = CaseReport.InputInfo(
            name: URL(fileURLWithPath: source.path).lastPathComponent, format: source.formatName,
            modality: source.modality, dims: image.dims, spacing: image.spacing,
            orientation: image.orientation.codes, datatype: image.storedType.rawValue)
        input.phiIncluded = phi
        input.acquisition = Self.acquisition(source, phi: phi)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        report = CaseReport(generatedAt: f.string(from: date), medvoxVersion: version, input: input)
        addInputWarnings(source)
    }

    /// Acquisition parameters: the BIDS-style sidecar fields for DICOM (patient attributes only
    /// with `phi`), the NIfTI description otherwise.
    static func acquisition(_ source: any ImageSource, phi: Bool) -> [String: String] {
        var out: [String: String] = [:]
        if let d = source as? DICOMSource {
            let json = DICOMConverter.sidecar(d.series, geometry: d.geometry, phi: phi)
            if let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] {
                for (k, v) in obj where k != "ConversionSoftware" {
                    if let a = v as? [Any] { out[k] = a.map { "\($0)" }.joined(separator: " ") } else { out[k] = "\(v)" }
                }
            }
        } else if let d = source.metadata.first(where: { $0.key == "description" })?.value.plain, !d.isEmpty {
            out["Description"] = d
        }
        return out
    }

    mutating func warn(_ code: String, _ message: String) {
        let w = CaseReport.QualityWarning(code: code, message: message)
        if !report.warnings.contains(w) { report.warnings.append(w) }
    }

    mutating func addInputWarnings(_ source: any ImageSource) {
        let s = image.spacing.prefix(3)
        if let lo = s.min(), let hi = s.max(), lo > 0, hi / lo >= 3 {
            warn("anisotropic-voxels", "voxels are \(s.map { String(format: "%.2f", $0) }.joined(separator: " × ")) mm (\(String(format: "%.1f", hi / lo))× anisotropic): thick slices limit 3D accuracy")
        }
        if let m = source.metadata.first(where: { $0.key == "warnings" })?.value, case let .list(items) = m {
            for i in items { warn("slice-geometry", i.plain) }
        }
        if let t = source.metadata.first(where: { $0.key == "gantry_tilt_deg" })?.value.plain {
            warn("gantry-tilt", "gantry tilt of \(t)°")
        }
    }

    /// Preprocessing steps as one readable line each.
    static func describe(_ p: PreprocessPipeline) -> [String] {
        guard let obj = try? JSONSerialization.jsonObject(with: p.encoded()) as? [String: Any],
            let steps = obj["steps"] as? [[String: Any]]
        else { return [] }
        return steps.map { s in
            let op = s["op"] as? String ?? "?"
            let args = s.filter { $0.key != "op" }.sorted { $0.key < $1.key }.map { "\($0.key)=\(compact($0.value))" }
            return args.isEmpty ? op : "\(op) (\(args.joined(separator: ", ")))"
        }
    }

    static func compact(_ v: Any) -> String {
        if let a = v as? [Any] { return "[" + a.map(compact).joined(separator: ",") + "]" }
        if let d = v as? [String: Any] { return "{" + d.keys.sorted().map { "\($0):\(compact(d[$0]!))" }.joined(separator: ",") + "}" }
        return "\(v)"
    }

    static func run(_ model: LoadedModel, seconds: Double, details: [String: String]) -> CaseReport.ModelRun {
        var r = CaseReport.ModelRun(
            model: model.card.name, version: model.card.version, task: model.card.task.rawValue,
            weightsSHA256: model.card.weights.sha256, preprocessing: describe(model.card.preprocessing), seconds: seconds)
        r.details = details
        return r
    }

    /// Adds a segmentation: statistics per label, overlay montages, and its warnings.
    ///
    /// - Parameter maskFile: the mask's path relative to the report folder (for `medvox report`).
    public mutating func addSegmentation(model: LoadedModel, result: SegmentationResult, maskFile: String?) throws {
        let card = model.card
        let mask = result.mask
        let labels = card.labels.filter { $0.value != 0 }
        let stats = labelStatistics(labelMap: mask.voxels, image: image.frames > 1 ? image.frame(0) : image, labels: labels.map(\.value))
        let rows = zip(labels, stats).map { l, s in
            CaseReport.LabelRow(name: l.name, color: LabelColors.legend([l.value])[0].hex, statistics: s)
        }
        report.segmentation = .init(maskFile: maskFile, labels: rows)
        report.runs.append(
            Self.run(model, seconds: result.seconds.values.reduce(0, +), details: [
                "windows": "\(result.windowCount) × \(result.window.map(String.init).joined(separator: "×"))",
                "preprocessed grid": result.preprocessedDims.map(String.init).joined(separator: "×"),
            ]))
        for w in result.warnings { warn("model-input-mismatch", w) }
        addSegmentationWarnings(rows, total: mask.frameCount)
        try addOverlayFigures(mask: mask, name: card.name)
        addIntensityWarning(card)
    }

    mutating func addSegmentationWarnings(_ rows: [CaseReport.LabelRow], total: Int) {
        let foreground = rows.map(\.voxels).reduce(0, +)
        if foreground == 0 {
            warn("empty-segmentation", "the segmentation is empty: no voxel was given a foreground label")
        } else if Double(foreground) > 0.8 * Double(total) {
            warn("implausibly-large", "foreground covers \(Int(100 * Double(foreground) / Double(total)))% of the image: check the input and the model")
        }
        for r in rows where r.voxels == 0 && foreground > 0 {
            warn("missing-label", "label \(r.value) (\(r.name)) is absent from the segmentation")
        }
    }

    /// Warns when the preprocessed input's intensities fall outside the range the model saw in
    /// training (the card's `input.intensityRange`): more than 1% of voxels outside it.
    mutating func addIntensityWarning(_ card: ModelCard) {
        guard let range = card.input.intensityRange, range.count == 2,
            let pre = try? card.preprocessing.apply(to: image.frames > 1 ? image.frame(0) : image)
        else { return }
        let lo = Float(range[0]), hi = Float(range[1])
        let outside = pre.image.voxels.reduce(0) { $0 + (($1 < lo || $1 > hi) ? 1 : 0) }
        let fraction = Double(outside) / Double(max(pre.image.voxels.count, 1))
        if fraction > 0.01 {
            warn("intensity-range", String(format: "%.1f%% of preprocessed voxels lie outside the model's training range [%.3g, %.3g]", 100 * fraction, range[0], range[1]))
        }
    }

    mutating func addOverlayFigures(mask: Volume, name: String) throws {
        let base = image.frames > 1 ? image.frame(0) : image
        let r = try SliceRenderer(volume: base, overlay: mask)
        for plane in [Plane.axial, .coronal, .sagittal] {
            let file = "\(name)-\(plane.rawValue).png"
            figures[file] = r.montage(plane, count: 9).raster
            report.figures.append(.init(
                file: file, title: "\(name): \(plane.rawValue) montage",
                caption: "\(plane.rawValue.capitalized) slices with the segmentation drawn in label colours (see the table's swatches)."))
        }
    }

    /// Adds a classification: probabilities, top class, and its confidence warnings.
    public mutating func addClassification(model: LoadedModel, result: ClassificationResult) throws {
        report.classification = .init(
            classes: result.classes, probabilities: result.probabilities, topClass: result.topClass,
            confidence: result.confidence, temperature: result.temperature)
        report.runs.append(Self.run(model, seconds: result.seconds.values.reduce(0, +), details: [:]))
        for w in result.warnings { warn("model-input-mismatch", w) }
        if result.confidence < 0.5 {
            warn("low-confidence", String(format: "top class '%@' has only %.0f%% confidence", result.topClass, 100 * result.confidence))
        }
        let k = Double(result.probabilities.count)
        if k > 1 {
            let h = -result.probabilities.filter { $0 > 0 }.map { $0 * Foundation.log($0) }.reduce(0, +) / Foundation.log(k)
            if h > 0.7 { warn("high-entropy", String(format: "the class probabilities are spread out (normalised entropy %.2f)", h)) }
        }
        addIntensityWarning(model.card)
        if figures["input.png"] == nil {
            let r = try SliceRenderer(volume: image.frames > 1 ? image.frame(0) : image)
            figures["input.png"] = r.threePlane().raster
            report.figures.append(.init(file: "input.png", title: "Input", caption: "Axial, coronal and sagittal slices through the centre of the input."))
        }
    }
}
