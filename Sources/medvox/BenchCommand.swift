import Foundation
import MedVoxBench
import MedVoxCore

/// `medvox bench [SUITE] [--json]`: runs the speed benchmarks of `MedVoxBench` (one suite per
/// file there, listed in `BenchSuite.all`) and prints their lines as they come.
struct BenchCommand: Command {
    static let spec = CommandSpec(
        """
        bench: measure speed (suites: \(BenchSuite.all.map(\.name).joined(separator: ", ")); default: all)
          [SUITE]                   which benchmark suite to run
          [CARD]                    model suite: the model card (.json) or name, e.g. medvox bench model models/unet.json --json
          --json                    print one JSON object per measurement
          --size N                  problem size where the suite takes one (e.g. volume edge)
          --repeat N                repetitions per measurement (the median is reported)
          --case A,B                only these cases, where the suite names its cases (transforms; conv: e.g. conv3d_1_16_128)
          --dir DIR                 folder for temporary benchmark files (default: the system's temporary folder)

        Time benchmarks when the machine is otherwise idle; each suite reports medians.
        """)

    let suites: [BenchSuite]
    let args: ParsedArguments

    init(_ args: ParsedArguments) throws {
        if let name = args.positionals.first {
            guard let s = BenchSuite.all.first(where: { $0.name == name }) else {
                throw UsageError("unknown benchmark suite '\(name)'", command: Self.spec)
            }
            suites = [s]
        } else {
            suites = BenchSuite.all.filter { $0.name != "model" }
        }
        guard args.positionals.count < 2 || suites.map(\.name) == ["model"] else {
            throw UsageError("only the model suite takes a card", command: Self.spec)
        }
        self.args = args
    }

    func run() throws {
        for s in suites {
            try s.run(WithCard(args: args)) { line in
                print(line)
                fflush(stdout)
            }
        }
    }
}


/// The command's options, plus the model suite's card (the second positional) as `card`.
private struct WithCard: CommandOptions {
    let args: ParsedArguments
    func value(_ name: String) -> String? { name == "card" ? args.positionals.dropFirst().first : args.value(name) }
    func flag(_ name: String) -> Bool { args.flag(name) }
}
