import Foundation
import MedVoxCore
import MedVoxInference

/// `medvox import MODEL.onnx -o DIR/NAME`: an ONNX network becomes a model card with its weights
/// and graph (`ModelImport`), usable by segment, classify, batch, evaluate, run and bench model.
struct ImportCommand: Command {
    static let spec = CommandSpec(
        """
        import: make a MedVox model (card + weights + graph) from an ONNX network
          MODEL                     an ONNX file from torch.onnx.export (opsets 13-21; weights inline or external)
          --output DIR/NAME         writes DIR/NAME.json, DIR/NAME.safetensors, DIR/NAME.graph.json; also -o
          --task T                  segmentation or classification (default: from the output's shape)
          --labels A,B,C            label or class names in output order (default: background, label1, ...)
          --modality M              MR or CT (default MR)
          --contrast C              e.g. T1w
          --spacing X,Y,Z           voxel spacing (mm) the network was trained at: inputs are reoriented to RAS and resampled to it
          --normalize N             zscore, percentile:LO,HI, range:LO,HI (clip and scale to 0-1) or none (default)
          --patch I,J,K             sliding-window patch (default: the network's fixed input size, else 96 per axis)
          --softmax S               auto (default), yes (outputs are logits) or no (outputs are probabilities already)

        The network's spatial axes are the NIfTI array's i, j, k in order, as MONAI loads images.
        Unsupported operators or attributes are listed in one line, and nothing is written.

        Examples:
          medvox import unet.onnx -o models/spleen --labels background,spleen --modality CT --spacing 1.5,1.5,2 --normalize range:-57,164 --patch 96,96,96
          medvox segment ct.nii.gz -o mask.nii.gz --model models/spleen.json
        """)

    let model: String
    let prefix: String
    let options: ModelImport.Options

    init(_ args: ParsedArguments) throws {
        model = args.positionals[0]
        guard let o = args.value("output") else { throw UsageError("missing -o DIR/NAME", command: Self.spec) }
        prefix = o.hasSuffix(".json") ? String(o.dropLast(5)) : o
        var opt = ModelImport.Options()
        switch args.value("task") {
        case nil: break
        case "segmentation": opt.task = .segmentation
        case "classification": opt.task = .classification
        case let t?: throw UsageError("--task must be segmentation or classification, got '\(t)'", command: Self.spec)
        }
        opt.labels = args.value("labels").map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let m = args.value("modality") {
            guard ["MR", "CT"].contains(m.uppercased()) else { throw UsageError("--modality must be MR or CT, got '\(m)'", command: Self.spec) }
            opt.modality = m.uppercased()
        }
        opt.contrast = args.value("contrast")
        if let s = args.value("spacing") {
            let v = s.split(separator: ",").map { Double($0) }
            guard v.count == 3, v.allSatisfy({ $0 != nil && $0! > 0 && $0!.isFinite }) else {
                throw UsageError("--spacing expects three positive numbers X,Y,Z, got '\(s)'", command: Self.spec)
            }
            opt.spacing = v.map { $0! }
        }
        if let n = args.value("normalize") {
            do { _ = try ModelImport.normalization(n) } catch { throw UsageError("\(error)", command: Self.spec) }
            opt.normalize = n
        }
        if let p = args.value("patch") {
            let v = p.split(separator: ",").map { Int($0) }
            guard (2...3).contains(v.count), v.allSatisfy({ $0 != nil && $0! >= 1 && $0! <= 1024 }) else {
                throw UsageError("--patch expects two or three sizes I,J[,K] in 1...1024, got '\(p)'", command: Self.spec)
            }
            opt.patch = v.map { $0! }
        }
        if let s = args.value("softmax") {
            guard ["auto", "yes", "no"].contains(s) else { throw UsageError("--softmax must be auto, yes or no, got '\(s)'", command: Self.spec) }
            opt.softmax = s
        }
        opt.command = (["medvox"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        options = opt
    }

    func run() throws {
        AtomicFile.protect([model])
        let card = try ModelImport.run(onnx: model, to: prefix, options: options)
        let a = card.architecture
        print("\(prefix).json: \(card.task.rawValue), \(a.spatialRank)D, \(a.inChannels) input channel(s), \(a.classes) outputs (\(card.labels.map(\.name).joined(separator: ", "))); sizes multiple of \(a.sizeMultiple ?? 1)\(a.inputSize.map { ", fixed input \($0)" } ?? "")")
    }
}
