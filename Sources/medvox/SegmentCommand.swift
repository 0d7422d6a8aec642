import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference
import MedVoxReport

/// `medvox segment INPUT -o MASK.nii.gz`: runs a segmentation model, writes a uint8 mask on the
/// input's grid (and optionally probabilities and a preview).
struct SegmentCommand: Command {
    static let spec = CommandSpec(
        """
        segment: segment a scan with a model; write a uint8 mask on the input's grid
          INPUT                     a NIfTI file, a DICOM file or a DICOM series folder
          --output MASK             the mask to write (.nii or .nii.gz); also -o
          --model NAME|PATH         model name in Models/ or a card .json (default: brain-tissue)
          --tta                     test-time mirroring: average over every flip of the spatial axes (8× slower in 3D)
          --probabilities P         also write per-class probabilities (float32, one frame per class)
          --preview PNG             also write a three-plane preview with the mask drawn over the input
          --window W                sliding window: patch (the card's, default), largest (fewest windows within --max-memory) or IxJxK
          --overlap F               overlap of neighbouring windows, 0-0.9 (default 0.5)
          --no-postprocess          skip the card's post-processing (largest connected components, hole filling)
          --dicom-seg SEG.dcm       DICOM input: also write the mask as a DICOM Segmentation object in the source's study
          \(ReportFlags.options)

        Examples:
          medvox segment t1.nii.gz -o mask.nii.gz --preview mask.png
          medvox segment dicom_series/ -o mask.nii.gz --model brain-tissue --tta
          medvox segment t1.nii.gz -o mask.nii.gz --window largest --max-memory 4G
          medvox segment ct_series/ -o mask.nii.gz --dicom-seg mask_seg.dcm
        """)

    let input: String
    let output: String
    let modelName: String
    let probabilities: String?
    let preview: String?
    let dicomSeg: String?
    let options: SegmentationOptions

    let report: ReportFlags

    init(_ args: ParsedArguments) throws {
        report = ReportFlags(args)
        input = args.positionals[0]
        guard let o = args.value("output") else { throw UsageError("missing -o MASK", command: Self.spec) }
        func niftiName(_ p: String, _ what: String) throws {
            guard ImageFile.writableSuffixes.contains(where: { p.lowercased().hasSuffix($0) }) else {
                throw UsageError("\(what) must end in .nii or .nii.gz, got '\(p)'", command: Self.spec)
            }
        }
        try niftiName(o, "-o")
        output = o
        probabilities = args.value("probabilities")
        if let p = probabilities { try niftiName(p, "--probabilities") }
        preview = args.value("preview")
        if let p = preview, !p.lowercased().hasSuffix(".png") {
            throw UsageError("--preview must end in .png, got '\(p)'", command: Self.spec)
        }
        dicomSeg = args.value("dicom-seg")
        modelName = args.value("model") ?? "brain-tissue"
        var opt = SegmentationOptions()
        opt.tta = args.flag("tta")
        opt.postprocess = !args.flag("no-postprocess")
        opt.probabilities = probabilities != nil
        if let f = try args.double("overlap") {
            guard f >= 0 && f <= 0.9 else { throw UsageError("--overlap must be in 0...0.9, got \(f)", command: Self.spec) }
            opt.overlap = f
        }
        switch args.value("window") {
        case nil, "patch": opt.window = .patch
        case "largest": opt.window = .largest
        case let w?:
            let parts = w.lowercased().split(separator: "x").map { Int($0) }
            guard parts.count == 3, parts.allSatisfy({ $0 != nil && $0! > 0 && $0! <= 4096 }) else {
                throw UsageError("--window must be patch, largest or IxJxK (e.g. 128x128x96), got '\(w)'", command: Self.spec)
            }
            opt.window = .fixed(parts.map { $0! })
        }
        opt.memoryBudget = Runtime.maxMemory
        options = opt
    }

    func run() throws {
        AtomicFile.protect([input])
        let model = try LoadedModel.load(modelName)
        let segmenter = try Segmenter(model: model, options: options)
        let source = try ImageFile.open(input)
        if dicomSeg != nil, !(source is DICOMSource) {
            throw DICOMSeg.Failure.unsupported(path: input, reason: "--dicom-seg needs DICOM input (a DICOM file or series folder)")
        }
        let volume = try source.volume()
        let result = try segmenter.segment(volume, modality: source.modality)
        for w in result.warnings { warn("\(input): \(w)") }
        // Built before anything is written, so a mask that cannot become a SEG leaves no output.
        let seg = try dicomSeg.map { try DICOMSeg.make(mask: result.mask, source: source, model: model, software: "medvox \(version)", phi: report.phi, path: $0) }
        if let dir = report.directory { try ReportFlags.createFolder(dir) }
        try ImageFile.write(result.mask, to: output, as: .uint8)
        if let p = probabilities, let probs = result.probabilities { try ImageFile.write(probs, to: p, as: .float32) }
        if let p = dicomSeg, let seg { try DICOMWriter.write(seg, to: p) }
        if let p = preview { try PNG.write(try segmentationPreview(image: volume, mask: result.mask), to: p) }
        if let dir = report.directory {
            var b = ReportBuilder(source: source, image: volume, phi: report.phi, version: version)
            try b.addSegmentation(model: model, result: result, maskFile: ReportFlags.relative(output, to: dir))
            var r = b.report
            r.input.imageFile = ReportFlags.relative(input, to: dir)
            try ReportWriter.write(r, figures: b.figures, to: dir)
        }
        let t = result.seconds
        let total = t.values.reduce(0, +)
        let timing = ["preprocess", "inference", "restore", "postprocess"].map { String(format: "%@ %.2fs", $0, t[$0] ?? 0) }
        print("\(output): \(model.card.name) \(model.card.version), \(result.windowCount) window(s) of \(result.window.map(String.init).joined(separator: "x")) on a \(result.preprocessedDims.map(String.init).joined(separator: "x")) grid\(options.tta ? ", TTA" : ""); " + String(format: "%.2fs", total) + " (" + timing.joined(separator: ", ") + ")")
    }
}
