import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference

/// `medvox info INPUT [--json]`: header, geometry and intensity range.
struct InfoCommand: Command {
    static let spec = CommandSpec(
        """
        info: print an image's header, geometry and intensity range
          INPUT                     a NIfTI file (.nii, .nii.gz, .hdr), a DICOM file or a DICOM folder, or a model card (.json)
          --json                    print one JSON object (dims, spacing, affine, datatype, orientation, range, header)
          --header-only             do not read the voxels (no intensity range)
          \(DICOMFlags.options)
          --tags                    DICOM: list every attribute of the series' first file
          --phi                     DICOM: show patient-identifying and private values in --tags

        A DICOM folder with several series prints the series list (no patient data); pick one with --series.
        """)

    let input: String
    let json: Bool
    let headerOnly: Bool
    let dicom: DICOMReadOptions

    init(_ args: ParsedArguments) throws {
        var d = try DICOMFlags.readOptions(args)
        d.listTags = args.flag("tags")
        d.phi = args.flag("phi")
        dicom = d
        input = args.positionals[0]
        json = args.flag("json")
        headerOnly = args.flag("header-only")
    }

    func run() throws {
        if input.lowercased().hasSuffix(".json") {
            // A model card: what the model expects and its preprocessing.
            let card = try ModelCard.read(input)
            if json {
                print(String(decoding: card.encoded(), as: UTF8.self))
            } else {
                for (k, v) in card.summaryRows { print(k.padding(toLength: 16, withPad: " ", startingAt: 0) + v) }
            }
            return
        }
        if DICOMFlags.printSeriesList(input, dicom, json: json) { return }
        let src = try ImageFile.open(input, dicom: dicom)
        var range: (min: Float, max: Float)? = nil
        var mean: Double? = nil
        if !headerOnly {
            let v = try src.volume()
            range = v.range
            mean = v.mean
        }
        let orientation = Orientation(affine: src.affine).codes
        if json {
            var fields: [String] = [
                "\"path\": \(jsonString(src.path))",
                "\"format\": \(jsonString(src.formatName))",
                "\"dims\": [\(src.dims.map(String.init).joined(separator: ", "))]",
                "\"spacing\": [\(src.spacing.map(jsonNumber).joined(separator: ", "))]",
                "\"affine\": [\(src.affine.rows.map { "[" + $0.map(jsonNumber).joined(separator: ", ") + "]" }.joined(separator: ", "))]",
                "\"orientation\": \(jsonString(orientation))",
                "\"datatype\": \(jsonString(src.storedType.rawValue))",
            ]
            if let range {
                fields.append("\"range\": [\(jsonNumber(Double(range.min))), \(jsonNumber(Double(range.max)))]")
            }
            if let mean { fields.append("\"mean\": \(jsonNumber(mean))") }
            let meta = src.metadata.map { "\(jsonString($0.key)): \($0.value.json)" }.joined(separator: ", ")
            fields.append("\"header\": {\(meta)}")
            print("{" + fields.joined(separator: ", ") + "}")
            return
        }
        func row(_ k: String, _ v: String) { print(k.padding(toLength: 16, withPad: " ", startingAt: 0) + v) }
        row("file", src.path)
        row("format", src.formatName)
        row("dims", src.dims.map(String.init).joined(separator: " × "))
        row("spacing", src.spacing.map { String(format: "%.4g", $0) }.joined(separator: " × ") + " mm")
        row("orientation", orientation)
        row("datatype", src.storedType.rawValue)
        if let range {
            row(
                "range",
                String(format: "%.6g … %.6g", range.min, range.max)
                    + (mean.map { String(format: " (mean %.6g)", $0) } ?? ""))
        }
        for (i, r) in src.affine.rows.enumerated() {
            row(i == 0 ? "affine (RAS mm)" : "", r.map { String(format: "%10.4f", $0) }.joined(separator: " "))
        }
        for (k, v) in src.metadata {
            // Lists of text (DICOM tags, warnings, other series) one item per line.
            if case let .list(items) = v, items.count > 1, items.allSatisfy({ if case .text = $0 { return true } else { return false } }) {
                for (i, item) in items.enumerated() { row(i == 0 ? k : "", item.plain) }
            } else {
                row(k, v.plain)
            }
        }
    }
}
