import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxReport
import MedVoxTransforms

/// `medvox convert INPUT OUTPUT`: to .nii/.nii.gz, or a .png preview.
struct ConvertCommand: Command {
    static let spec = CommandSpec(
        """
        convert: convert an image to .nii / .nii.gz, or render a .png preview
          INPUT                     a NIfTI file (.nii, .nii.gz, .hdr), a DICOM file or a DICOM folder
          OUTPUT                    OUT.nii, OUT.nii.gz or OUT.png; for DICOM also OUTDIR/ (one .nii.gz + .json per series)
          --datatype TYPE           NIfTI: stored type (uint8 int8 int16 uint16 int32 uint32 int64 uint64 float32 float64); default: the input's
          --level N                 NIfTI .gz: gzip level 0-9 (default \(Gzip.defaultLevel))
          --nifti2                  NIfTI: write NIfTI-2 (default NIfTI-1 unless a size needs NIfTI-2)
          --plane PLANE             PNG: axial, coronal or sagittal (default: all three through the centre)
          --slice N                 PNG: slice index along the plane's axis, in RAS order (default: the centre)
          --montage N               PNG: N evenly spaced slices of --plane (default axial) in a grid
          --window CENTER,WIDTH     PNG: intensity window (default: 0.5-99.5 percentile)
          --neurological            PNG: patient's right on the right (default: radiological, right on the left)
          --overlay LABELS          PNG: label map on the same grid, drawn in colour
          --alpha A                 PNG: overlay opacity 0-1 (default 0.5)
          --frame T                 PNG: which 3D frame of a 4D image (default 0)
          --reorient CODES          preprocess: reorient to CODES, e.g. RAS or LPS (axes permuted and flipped, no resampling)
          --spacing MM[,MM,MM]      preprocess: resample to this voxel size in mm (same field of view)
          --shape X,Y,Z             preprocess: resample to this size; with --spacing: pad/crop to it after resampling
          --interp METHOD           preprocess: nearest, linear (default) or bspline
          --crop-foreground         preprocess: crop to the bounding box of voxels > 0
          --normalize METHOD        preprocess: zscore, zscore-nonzero, percentile[:LOW,HIGH] or ct:LOW,HIGH
          --pipeline JSON           preprocess: apply a saved pipeline (e.g. from a model card) instead of the flags
          --save-pipeline JSON      preprocess: write the pipeline that was applied as JSON
          \(DICOMFlags.options)
          --phi                     DICOM: put patient-identifying attributes into the JSON sidecars

        Examples:
          medvox convert t1.nii t1.nii.gz
          medvox convert mask.nii.gz mask_u8.nii.gz --datatype uint8
          medvox convert t1.nii.gz preview.png
          medvox convert t1.nii.gz axial.png --plane axial --montage 12 --overlay seg.nii.gz
          medvox convert dicom_study/ nifti/          (one NIfTI + JSON sidecar per series)
          medvox convert ct_series/ ct.nii.gz --series 1.2.840.113619.2.55.3
          medvox convert t1.nii.gz t1_pre.nii.gz --reorient RAS --spacing 1 --interp bspline --normalize zscore-nonzero
        Preprocessing flags apply in the order listed (reorient, spacing, shape, crop, normalize).
        """)

    enum Output { case nifti, png }

    /// What a .png output shows: the plane and slices, the window, the convention, the overlay.
    struct Picture {
        /// One slice of `plane` (default: its centre) or a `montage` of it; neither: three planes.
        var plane: Plane?, slice: Int?, montage: Int?
        /// The intensity window (nil: automatic) and the left-right convention.
        var window: DisplayWindow?, neurological: Bool
        /// A label map drawn over the image, and its opacity.
        var overlay: String?, alpha: Float
        /// Which 3D frame of a 4D image.
        var frame: Int
    }

    let input: String, output: String
    let kind: Output
    let nifti: NIfTIWriteOptions
    let picture: Picture
    let dicom: DICOMReadOptions
    let phi: Bool
    /// Preprocessing: the flags' pipeline, or the path of a saved one; where to save the one applied.
    let pipeline: PreprocessPipeline?, pipelinePath: String?, savePipeline: String?

    init(_ args: ParsedArguments) throws {
        input = args.positionals[0]
        output = args.positionals[1]
        dicom = try DICOMFlags.readOptions(args)
        phi = args.flag("phi")
        kind = try Self.outputKind(output)
        try Self.checkFormatOptions(args, kind: kind)
        nifti = try Self.niftiOptions(args)
        picture = try Self.picture(args)
        pipelinePath = args.value("pipeline")
        savePipeline = args.value("save-pipeline")
        pipeline = try Self.preprocessing(args)
    }

    /// A folder (DICOM input only, checked in `run`), a .png, or a NIfTI file.
    static func outputKind(_ output: String) throws -> Output {
        var isDir: ObjCBool = false
        if output.hasSuffix("/") || (FileManager.default.fileExists(atPath: output, isDirectory: &isDir) && isDir.boolValue) {
            return .nifti
        }
        let lower = output.lowercased()
        if lower.hasSuffix(".png") { return .png }
        if ImageFile.writableSuffixes.contains(where: { lower.hasSuffix($0) }) { return .nifti }
        throw UsageError("OUTPUT must end in .nii, .nii.gz or .png, got '\(output)'", command: spec)
    }

    /// NIfTI options are refused for a .png output, and PNG options for NIfTI.
    static func checkFormatOptions(_ args: ParsedArguments, kind: Output) throws {
        let niftiOnly =
            ["datatype", "level"].filter { args.value($0) != nil } + (args.flag("nifti2") ? ["nifti2"] : [])
        let pngOnly =
            ["plane", "slice", "montage", "window", "overlay", "alpha", "frame"].filter { args.value($0) != nil }
            + (args.flag("neurological") ? ["neurological"] : [])
        if kind == .png, let o = niftiOnly.first {
            throw UsageError("--\(o) applies to NIfTI output, not .png", command: spec)
        }
        if kind == .nifti, let o = pngOnly.first {
            throw UsageError("--\(o) applies to .png output", command: spec)
        }
    }

    /// --datatype, --level and --nifti2.
    static func niftiOptions(_ args: ParsedArguments) throws -> NIfTIWriteOptions {
        var datatype: ScalarType?
        if let t = args.value("datatype") {
            guard let st = ScalarType(rawValue: t), st != .rgb24 else {
                throw UsageError("--datatype: unknown type '\(t)'", command: spec)
            }
            datatype = st
        }
        let level = try args.int("level", range: 0...9)
        var options = NIfTIWriteOptions(datatype: datatype, version: args.flag("nifti2") ? 2 : nil)
        if let level { options.compressionLevel = level }
        return options
    }

    /// --plane, --slice, --montage, --window, --neurological, --overlay, --alpha and --frame.
    static func picture(_ args: ParsedArguments) throws -> Picture {
        var plane: Plane?
        if let p = args.value("plane") {
            guard let pl = Plane(rawValue: p.lowercased()) else {
                throw UsageError("--plane must be axial, coronal or sagittal, got '\(p)'", command: spec)
            }
            plane = pl
        }
        let slice = try args.int("slice", range: 0...Int(Int32.max))
        let montage = try args.int("montage", range: 1...400)
        if slice != nil && plane == nil { throw UsageError("--slice needs --plane", command: spec) }
        if slice != nil && montage != nil {
            throw UsageError("--slice and --montage exclude each other", command: spec)
        }
        var window: DisplayWindow?
        if let w = try args.doubles("window", counts: [2]) {
            guard w[1] > 0 else { throw UsageError("--window width must be positive", command: spec) }
            window = DisplayWindow(center: Float(w[0]), width: Float(w[1]))
        }
        let neurological = args.flag("neurological")
        let overlay = args.value("overlay")
        let a = try args.double("alpha") ?? 0.5
        guard (0...1).contains(a) else { throw UsageError("--alpha must be between 0 and 1", command: spec) }
        let frame = try args.int("frame", range: 0...Int(Int32.max)) ?? 0
        return Picture(
            plane: plane, slice: slice, montage: montage, window: window, neurological: neurological, overlay: overlay,
            alpha: Float(a), frame: frame)
    }

    /// The preprocessing flags as a pipeline (nil without them); they exclude --pipeline.
    static func preprocessing(_ args: ParsedArguments) throws -> PreprocessPipeline? {
        let flags = ["reorient", "spacing", "shape", "interp", "normalize"].filter { args.value($0) != nil }
            + (args.flag("crop-foreground") ? ["crop-foreground"] : [])
        if let first = flags.first, args.value("pipeline") != nil {
            throw UsageError("--\(first) and --pipeline exclude each other", command: spec)
        }
        var interp: Interpolation?
        if let i = args.value("interp") {
            guard let m = Interpolation(rawValue: i.lowercased()) else {
                throw UsageError("--interp must be nearest, linear or bspline, got '\(i)'", command: spec)
            }
            interp = m
        }
        if flags.isEmpty { return nil }
        do {
            let shape = try args.doubles("shape", counts: [3]).map { s in s.map { Int(exactly: $0) ?? 0 } }
            return try PreprocessPipeline.fromOptions(
                reorient: args.value("reorient"), spacing: try args.doubles("spacing", counts: [1, 3]), shape: shape,
                interpolation: interp, cropForeground: args.flag("crop-foreground"), normalize: args.value("normalize"))
        } catch let e as TransformError {
            throw UsageError(e.description, command: spec)
        }
    }

    func run() throws {
        AtomicFile.protect([input, picture.overlay, pipelinePath].compactMap { $0 })
        if kind == .nifti && DICOMSource.isDICOM(input) {
            var o = DICOMConvertOptions()
            o.read = dicom
            o.phi = phi
            o.nifti = nifti
            try DICOMConverter.convert(input, to: output, options: o)
            return
        }
        if output.hasSuffix("/") { throw FileError.cannotWrite(path: output, reason: "a folder output needs DICOM input") }
        let src = try ImageFile.open(input, dicom: dicom)
        var volume = try src.volume()
        var steps = pipeline
        if let pipelinePath {
            guard let data = FileManager.default.contents(atPath: pipelinePath) else {
                throw FileError.cannotRead(path: pipelinePath, reason: "no such file or not readable")
            }
            steps = try PreprocessPipeline.decode(data, source: pipelinePath)
        }
        var labels = try picture.overlay.map { try ImageFile.read($0) }
        if let steps {
            let r = try steps.apply(to: volume, labels: labels.map { [$0] } ?? [])
            volume = r.image
            labels = r.labels.first
        }
        switch kind {
        case .nifti: try writeNIfTI(volume, from: src, preprocessed: steps != nil)
        case .png: try writePNG(volume, overlay: labels)
        }
        if let savePipeline {
            try AtomicFile.write(Array((steps ?? PreprocessPipeline(steps: [])).encoded()), to: savePipeline)
        }
    }

    func writeNIfTI(_ volume: Volume, from src: any ImageSource, preprocessed: Bool) throws {
        var options = nifti
        if let n = src as? NIfTISource {
            // Keep the input's transform codes (e.g. MNI space) when it had them.
            if n.file.header.sformCode > 0 { options.sformCode = n.file.header.sformCode }
            if n.file.header.qformCode > 0 { options.qformCode = n.file.header.qformCode }
        }
        if let n = src as? NIfTISource, !preprocessed, options.datatype == nil || options.datatype == volume.storedType {
            // Same type, no preprocessing: copy the stored values exactly (no Float32 round trip).
            try NIfTIWriter.write(volume, storedBytes: try n.file.rawData(), to: output, options: options)
        } else {
            try ImageFile.write(volume, to: output, options: options)
        }
    }

    func writePNG(_ volume: Volume, overlay labels: Volume?) throws {
        let p = picture
        guard p.frame < volume.frames else {
            throw RenderError.outOfRange(
                path: input, reason: "--frame \(p.frame) but \(input) has \(volume.frames) frame(s)")
        }
        let r = try SliceRenderer(
            volume: volume, frame: p.frame, window: p.window, radiological: !p.neurological, overlay: labels,
            overlayAlpha: p.alpha)
        let image: RGBImage
        if let montage = p.montage {
            image = r.montage(p.plane ?? .axial, count: montage)
        } else if let plane = p.plane {
            if let slice = p.slice, slice >= r.sliceCount(plane) {
                throw RenderError.outOfRange(
                    path: input,
                    reason: "--slice \(slice) is outside 0...\(r.sliceCount(plane) - 1) for the \(plane) plane")
            }
            image = r.slice(plane, index: p.slice)
        } else {
            image = r.threePlane()
        }
        try PNG.write(image.raster, to: output)
        if let labels {
            let legend = LabelColors.legend(LabelColors.labels(in: labels))
            print("label colours: " + legend.map { "\($0.label) \($0.hex)" }.joined(separator: ", "))
        }
    }
}
