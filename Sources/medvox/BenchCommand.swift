import Foundation
import MedVoxCore

/// `medvox bench [SUITE] [--json]`: runs the speed benchmarks. Each suite lives in its library
/// (the CLI only prints); suites register themselves in `benchSuites` below, one file each.
struct BenchCommand: Command {
    static let spec = CommandSpec(
        name: "bench",
        abstract: "measure speed (suites: \(benchSuites.map(\.name).joined(separator: ", ")); default: all)",
        positionals: [PositionalSpec(name: "SUITE", help: "which benchmark suite to run", optional: true)],
        options: [
            .flag("json", "print one JSON object per measurement"),
            .value("size", "N", "problem size where the suite takes one (e.g. volume edge)"),
            .value("repeat", "N", "repetitions per measurement (the median is reported)"),
            .value("case", "A,B", "only these cases, where the suite names its cases (transforms; conv: e.g. conv3d_1_16_128)"),
            .value("dir", "DIR", "folder for temporary benchmark files (default: the system's temporary folder)"),
        ],
        discussion: "Time benchmarks when the machine is otherwise idle; each suite reports medians."
    )

    let suites: [BenchSuite]
    let args: ParsedArguments

    init(_ args: ParsedArguments) throws {
        if let name = args.positionals.first {
            guard let s = benchSuites.first(where: { $0.name == name }) else {
                throw UsageError("unknown benchmark suite '\(name)'", command: Self.spec)
            }
            suites = [s]
        } else {
            suites = benchSuites
        }
        self.args = args
    }

    func run() throws {
        for s in suites { try s.run(args) }
    }
}

/// A named benchmark suite: parses what it needs from the bench arguments and prints its rows.
struct BenchSuite {
    var name: String
    var run: (ParsedArguments) throws -> Void
}

/// Every suite, in the order `medvox bench` runs them. Each entry is defined in its own file.
let benchSuites: [BenchSuite] = [
    convBenchSuite,
    benchIO,
    dicomBenchSuite,
    codecsBenchSuite,
    transformsBenchSuite,
    unetBenchSuite,
]
