import Foundation
import MedVoxCore
import MedVoxIO

/// `medvox convert INPUT OUTPUT`: to .nii/.nii.gz, or a .png preview.
struct ConvertCommand: Command {
    static let spec = CommandSpec(
        name: "convert",
        abstract: "convert an image to .nii / .nii.gz, or render a .png preview",
        positionals: [
            PositionalSpec(name: "INPUT", help: "a NIfTI file (.nii, .nii.gz, .hdr)"),
            PositionalSpec(name: "OUTPUT", help: "OUT.nii, OUT.nii.gz or OUT.png"),
        ],
        options: [
            .value("datatype", "TYPE", "NIfTI: stored type (uint8 int8 int16 uint16 int32 uint32 int64 uint64 float32 float64); default: the input's"),
            .value("level", "N", "NIfTI .gz: gzip level 0-9 (default \(Gzip.defaultLevel))"),
            .flag("nifti2", "NIfTI: write NIfTI-2 (default NIfTI-1 unless a size needs NIfTI-2)"),
            .value("plane", "PLANE", "PNG: axial, coronal or sagittal (default: all three through the centre)"),
            .value("slice", "N", "PNG: slice index along the plane's axis, in RAS order (default: the centre)"),
            .value("montage", "N", "PNG: N evenly spaced slices of --plane (default axial) in a grid"),
            .value("window", "CENTER,WIDTH", "PNG: intensity window (default: 0.5-99.5 percentile)"),
            .flag("neurological", "PNG: patient's right on the right (default: radiological, right on the left)"),
            .value("overlay", "LABELS", "PNG: label map on the same grid, drawn in colour"),
            .value("alpha", "A", "PNG: overlay opacity 0-1 (default 0.5)"),
            .value("frame", "T", "PNG: which 3D frame of a 4D image (default 0)"),
        ],
        discussion: """
            Examples:
              medvox convert t1.nii t1.nii.gz
              medvox convert mask.nii.gz mask_u8.nii.gz --datatype uint8
              medvox convert t1.nii.gz preview.png
              medvox convert t1.nii.gz axial.png --plane axial --montage 12 --overlay seg.nii.gz
            """
    )

    enum Output { case nifti, png }

    let input: String
    let output: String
    let kind: Output
    let datatype: ScalarType?
    let level: Int?
    let nifti2: Bool
    let plane: Plane?
    let slice: Int?
    let montage: Int?
    let window: DisplayWindow?
    let neurological: Bool
    let overlay: String?
    let alpha: Float
    let frame: Int

    init(_ args: ParsedArguments) throws {
        input = args.positionals[0]
        output = args.positionals[1]
        let lower = output.lowercased()
        if lower.hasSuffix(".png") {
            kind = .png
        } else if ImageFile.writableSuffixes.contains(where: { lower.hasSuffix($0) }) {
            kind = .nifti
        } else {
            throw UsageError("OUTPUT must end in .nii, .nii.gz or .png, got '\(output)'", command: Self.spec)
        }
        let niftiOnly = ["datatype", "level"].filter { args.value($0) != nil } + (args.flag("nifti2") ? ["nifti2"] : [])
        let pngOnly = ["plane", "slice", "montage", "window", "overlay", "alpha", "frame"].filter { args.value($0) != nil }
            + (args.flag("neurological") ? ["neurological"] : [])
        if kind == .png, let o = niftiOnly.first { throw UsageError("--\(o) applies to NIfTI output, not .png", command: Self.spec) }
        if kind == .nifti, let o = pngOnly.first { throw UsageError("--\(o) applies to .png output", command: Self.spec) }
        if let t = args.value("datatype") {
            guard let st = ScalarType(rawValue: t), st != .rgb24 else {
                throw UsageError("--datatype: unknown type '\(t)'", command: Self.spec)
            }
            datatype = st
        } else {
            datatype = nil
        }
        level = try args.int("level", range: 0...9)
        nifti2 = args.flag("nifti2")
        if let p = args.value("plane") {
            guard let pl = Plane(rawValue: p.lowercased()) else {
                throw UsageError("--plane must be axial, coronal or sagittal, got '\(p)'", command: Self.spec)
            }
            plane = pl
        } else {
            plane = nil
        }
        slice = try args.int("slice", range: 0...Int(Int32.max))
        montage = try args.int("montage", range: 1...400)
        if slice != nil && plane == nil { throw UsageError("--slice needs --plane", command: Self.spec) }
        if slice != nil && montage != nil { throw UsageError("--slice and --montage exclude each other", command: Self.spec) }
        if let w = try args.doubles("window", counts: [2]) {
            guard w[1] > 0 else { throw UsageError("--window width must be positive", command: Self.spec) }
            window = DisplayWindow(center: Float(w[0]), width: Float(w[1]))
        } else {
            window = nil
        }
        neurological = args.flag("neurological")
        overlay = args.value("overlay")
        let a = try args.double("alpha") ?? 0.5
        guard (0...1).contains(a) else { throw UsageError("--alpha must be between 0 and 1", command: Self.spec) }
        alpha = Float(a)
        frame = try args.int("frame", range: 0...Int(Int32.max)) ?? 0
    }

    func run() throws {
        AtomicFile.protectedPaths = Set([input, overlay].compactMap { $0 }.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        let src = try ImageFile.open(input)
        let volume = try src.volume()
        switch kind {
        case .nifti:
            var options = NIfTIWriteOptions(datatype: datatype, version: nifti2 ? 2 : nil)
            if let level { options.compressionLevel = level }
            if let n = src as? NIfTISource {
                // Keep the input's transform codes (e.g. MNI space) when it had them.
                if n.file.header.sformCode > 0 { options.sformCode = n.file.header.sformCode }
                if n.file.header.qformCode > 0 { options.qformCode = n.file.header.qformCode }
            }
            try ImageFile.write(volume, to: output, options: options)
        case .png:
            let labels = try overlay.map { try ImageFile.read($0) }
            guard frame < volume.frames else {
                throw RenderError.outOfRange(path: input, reason: "--frame \(frame) but \(input) has \(volume.frames) frame(s)")
            }
            let r = try SliceRenderer(
                volume: volume, frame: frame, window: window, radiological: !neurological, overlay: labels, overlayAlpha: alpha)
            let picture: RGBImage
            if let montage {
                picture = r.montage(plane ?? .axial, count: montage)
            } else if let plane {
                if let slice, slice >= r.sliceCount(plane) {
                    throw RenderError.outOfRange(path: input, reason: "--slice \(slice) is outside 0...\(r.sliceCount(plane) - 1) for the \(plane) plane")
                }
                picture = r.slice(plane, index: slice)
            } else {
                picture = r.threePlane()
            }
            try PNG.write(picture.raster, to: output)
        }
    }
}
