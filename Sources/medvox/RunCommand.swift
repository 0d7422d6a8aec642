import Foundation
import MedVoxCore
import MedVoxIO
import MedVoxInference

/// `medvox run CARD INPUT -o OUTPUT.nii.gz`: the network once on the whole input array, raw
/// outputs as a 4D float32 NIfTI (`RawRun`).
struct RunCommand: Command {
    static let spec = CommandSpec(
        """
        run: apply a model's network once to a whole image as stored; write its raw outputs
          CARD                      a model card (.json) or model name
          INPUT                     a NIfTI file (its frames are the input channels)
          --output OUT              the outputs (.nii or .nii.gz): one float32 frame per output channel; also -o

        No reorientation, resampling, normalisation or sliding window: imported networks see the
        array as MONAI loads it ([1, C, i, j, k]); a classifier's C outputs come out as a 1x1x1xC image.
        """)

    let card: String
    let input: String
    let output: String

    init(_ args: ParsedArguments) throws {
        card = args.positionals[0]
        input = args.positionals[1]
        guard let o = args.value("output") else { throw UsageError("missing -o OUTPUT.nii.gz", command: Self.spec) }
        guard ImageFile.writableSuffixes.contains(where: { o.lowercased().hasSuffix($0) }) else {
            throw UsageError("-o must end in .nii or .nii.gz, got '\(o)'", command: Self.spec)
        }
        output = o
    }

    func run() throws {
        AtomicFile.protect([input, card])
        let model = try LoadedModel.load(card)
        let volume = try ImageFile.read(input)
        let out = try RawRun.apply(model, to: volume)
        try ImageFile.write(out, to: output, as: .float32)
    }
}
