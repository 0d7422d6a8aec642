import MedVoxCore

/// The options `medvox bench` passes to a suite. Each suite reads what it takes, with its own
/// ranges and defaults: `--size N`, `--repeat N`, `--case A,B`, `--dir DIR`, `--json`.
public protocol BenchArguments {
    /// The whole number given for `--name`, nil when absent; throws a usage error when it is not
    /// a whole number within `range`.
    func int(_ name: String, range: ClosedRange<Int>?) throws -> Int?
    /// The text given for `--name`, nil when absent.
    func value(_ name: String) -> String?
    /// Whether `--name` was given.
    func flag(_ name: String) -> Bool
}

/// A request a suite cannot honour (an unknown case name, a size it cannot run): the command
/// line is at fault, so the CLI reports it as a usage error.
public struct BenchUsageError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A named benchmark suite: reads its options, runs its measurements and hands each result line
/// (text, or one JSON object with `--json`) to `emit` as soon as it is measured.
public struct BenchSuite {
    public var name: String
    public var run: (_ args: any BenchArguments, _ emit: (String) -> Void) throws -> Void

    public init(name: String, run: @escaping (_ args: any BenchArguments, _ emit: (String) -> Void) throws -> Void) {
        self.name = name
        self.run = run
    }

    /// Every suite, in the order `medvox bench` runs them.
    public static let all: [BenchSuite] = [conv, io, dicom, codecs, transforms, unet]
}
