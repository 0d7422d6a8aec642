import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxReport
import MedVoxTransforms

/// `medvox augment INPUT -o OUTPUT`: one seeded random augmentation of an image (and its label
/// map), and optionally a preview grid of several draws.
struct AugmentCommand: Command {
    static let spec = CommandSpec(
        """
        augment: apply seeded random augmentation to an image and its label map
          INPUT                     a NIfTI image
          --output OUTPUT           augmented image, .nii or .nii.gz (also -o)
          --label LABEL             a label map on the image's grid, transformed with it (nearest)
          --label-output PATH       where the augmented label map goes (default: OUTPUT with _label before the suffix)
          --seed N                  random seed (default: the config's, else 0); the same seed gives the same bits
          --transforms SPEC         comma-separated transforms with optional @probability, e.g. flip,affine@0.5,noise
          --config JSON             an augmentation description (transforms with parameters, probabilities, one_of, seed)
          --preview GRID.png        a grid of the input and augmented draws (middle axial slices)
          --count N                 draws in the preview (default 8; seeds SEED, SEED+1, …)
          --record JSON             write the applied transforms and their drawn parameters

        Transforms: \(AugmentKind.allCases.filter { $0 != .oneOf }.map(\.rawValue).joined(separator: ", ")).
        Default: flip,affine,elastic@0.3,bias_field@0.3,gamma@0.3,noise@0.3.
        Examples:
          medvox augment t1.nii.gz -o aug.nii.gz --label seg.nii.gz --seed 7 --transforms affine,elastic,motion@0.5
          medvox augment t1.nii.gz -o aug.nii.gz --config augment.json --preview grid.png --count 12
        """)

    static let defaultSpec = "flip,affine,elastic@0.3,bias_field@0.3,gamma@0.3,noise@0.3"

    let input: String
    let output: String
    let label: String?
    let labelOutput: String?
    let seed: UInt64?
    let transforms: String?
    let config: String?
    let preview: String?
    let count: Int
    let record: String?

    init(_ args: ParsedArguments) throws {
        input = args.positionals[0]
        guard let o = args.value("output") else { throw UsageError("missing -o OUTPUT", command: Self.spec) }
        guard ImageFile.writableSuffixes.contains(where: { o.lowercased().hasSuffix($0) }) else {
            throw UsageError("OUTPUT must end in .nii or .nii.gz, got '\(o)'", command: Self.spec)
        }
        output = o
        label = args.value("label")
        labelOutput = args.value("label-output")
        if labelOutput != nil && label == nil { throw UsageError("--label-output needs --label", command: Self.spec) }
        if let s = args.value("seed") {
            guard let v = UInt64(s) else { throw UsageError("--seed expects a whole number ≥ 0, got '\(s)'", command: Self.spec) }
            seed = v
        } else {
            seed = nil
        }
        transforms = args.value("transforms")
        config = args.value("config")
        if transforms != nil && config != nil { throw UsageError("--transforms and --config exclude each other", command: Self.spec) }
        if let t = transforms {
            do { _ = try AugmentPipeline.parse(spec: t) } catch let e as TransformError { throw UsageError(e.description, command: Self.spec) }
        }
        preview = args.value("preview")
        if let p = preview, !p.lowercased().hasSuffix(".png") { throw UsageError("--preview must end in .png, got '\(p)'", command: Self.spec) }
        count = try args.int("count", range: 1...64) ?? 8
        record = args.value("record")
    }

    /// OUTPUT with "_label" inserted before .nii / .nii.gz.
    static func labelPath(for output: String) -> String {
        for suffix in [".nii.gz", ".nii"] where output.lowercased().hasSuffix(suffix) {
            return String(output.dropLast(suffix.count)) + "_label" + suffix
        }
        return output + "_label.nii.gz"
    }

    func run() throws {
        AtomicFile.protect([input, label, config].compactMap { $0 })
        let pipeline: AugmentPipeline
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else {
                throw FileError.cannotRead(path: config, reason: "no such file or not readable")
            }
            pipeline = try AugmentPipeline.decode(data, source: config)
        } else {
            pipeline = try AugmentPipeline.parse(spec: transforms ?? Self.defaultSpec)
        }
        let image = try ImageFile.read(input)
        var labels = [Volume]()
        if let label {
            let l = try ImageFile.read(label)
            guard l.shape3 == image.shape3 else {
                throw TransformError.gridMismatch(what: label, expected: image.shape3, actual: l.shape3)
            }
            labels.append(l)
        }
        let sample = Sample(image: image, labels: labels)
        let seed = self.seed ?? pipeline.seed ?? 0
        let (out, applied) = try pipeline.apply(to: sample, seed: seed)

        // Preview first (it is the slow part with many draws); outputs are written last.
        let picture = try preview.map { _ in try AugmentPreview.grid(sample, pipeline: pipeline, seed: seed, count: count, first: out) }
        try ImageFile.write(out.image, to: output)
        if let l = out.labels.first { try ImageFile.write(l, to: labelOutput ?? Self.labelPath(for: output)) }
        if let preview, let picture { try PNG.write(picture.raster, to: preview) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let record {
            let doc = AugmentRecord(input: input, seed: seed, transforms: applied)
            try AtomicFile.write(Array(try encoder.encode(doc)), to: record)
        }
        for a in applied {
            let params = a.parameters.keys.sorted().filter { a.parameters[$0]!.count <= 12 }
                .map { k in "\(k)=" + a.parameters[k]!.map { String(format: "%.4g", $0) }.joined(separator: ",") }
            print("\(a.name) " + params.joined(separator: " "))
        }
    }
}
