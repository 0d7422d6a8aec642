import MedVoxCore

/// A named benchmark suite: reads its options (`--size N`, `--repeat N`, `--case A,B`, `--dir DIR`,
/// `--json`, each with the suite's own ranges and defaults; a request it cannot honour throws a
/// `CommandOptionError`), runs its measurements and hands each result line
/// (text, or one JSON object with `--json`) to `emit` as soon as it is measured.
public struct BenchSuite {
    public var name: String
    public var run: (_ args: any CommandOptions, _ emit: (String) -> Void) throws -> Void

    public init(name: String, run: @escaping (_ args: any CommandOptions, _ emit: (String) -> Void) throws -> Void) {
        self.name = name
        self.run = run
    }

    /// Every suite, in the order `medvox bench` runs them (without a suite name: all but `model`,
    /// which needs a card).
    public static let all: [BenchSuite] = [conv, io, dicom, codecs, transforms, unet, model]
}
