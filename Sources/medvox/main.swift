import Foundation
import MedVoxCore
import MedVoxTensor

#if canImport(Glibc)
    import Glibc
#endif

/// A subcommand: declares its arguments, then runs with them. It only wires the libraries.
protocol Command {
    static var spec: CommandSpec { get }
    /// Validates the parsed arguments (throwing `UsageError`, or a library's
    /// `CommandOptionError`) and builds the command.
    init(_ args: ParsedArguments) throws
    /// Does the work; throws a `MedVoxError` (exit 1) when the input or the run fails.
    func run() throws
}

let version = "0.1.0"

/// Every subcommand, in the order `--help` lists them.
let commands: [any Command.Type] = [
    InfoCommand.self,
    ConvertCommand.self,
    SegmentCommand.self,
    ClassifyCommand.self,
    EvaluateCommand.self,
    BenchCommand.self,
    AugmentCommand.self,
    TrainCommand.self,
    ExportCommand.self,
    ReportCommand.self,
    BatchCommand.self,
    ImportCommand.self,
    RunCommand.self,
]

func topLevelHelp() -> String {
    var lines = [
        "medvox \(version) — medical image analysis (DICOM, NIfTI, 2D/3D CNNs) on the CPU",
        "",
        "Usage: medvox SUBCOMMAND [arguments] [options]",
        "",
        "Subcommands:",
    ]
    for c in commands { lines.append(CommandSpec.row(c.spec.name, c.spec.abstract)) }
    lines += [
        "",
        "Run 'medvox help SUBCOMMAND' for a subcommand's arguments and options.",
        "Exit status: 0 success, 1 the input or the run failed, 2 usage error.",
    ]
    return lines.joined(separator: "\n")
}

func printErr(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

func mainEntry(_ argv: [String]) -> Int32 {
    guard let first = argv.first else {
        printErr(topLevelHelp())
        return 2
    }
    switch first {
    case "--help", "-h":
        print(topLevelHelp())
        return 0
    case "--version":
        print("medvox \(version)")
        return 0
    case "help":
        guard argv.count > 1 else {
            print(topLevelHelp())
            return 0
        }
        guard let c = commands.first(where: { $0.spec.name == argv[1] }) else {
            printErr("medvox: unknown subcommand '\(argv[1])'\n\n" + topLevelHelp())
            return 2
        }
        print(c.spec.help)
        return 0
    default:
        break
    }
    guard let type = commands.first(where: { $0.spec.name == first }) else {
        printErr("medvox: unknown subcommand '\(first)'\n\n" + topLevelHelp())
        return 2
    }
    let spec = type.spec
    do {
        let parsed = try spec.parse(Array(argv.dropFirst()))
        if parsed.flag("help") {
            print(spec.help)
            return 0
        }
        if let t = try parsed.int("threads", range: 1...1024) { Runtime.threads = t }
        if let m = try parsed.byteSize("max-memory") { Runtime.maxMemory = m }
        if parsed.flag("quiet") { Progress.quiet = true }
        let command = try type.init(parsed)
        try command.run()
        return 0
    } catch let e where e is UsageError || e is CommandOptionError {
        // A usage error of the parser, or a command line a library cannot honour.
        printErr("medvox \(spec.name): \(e)\n\n\(spec.help)")
        return 2
    } catch let e as MedVoxError {
        printErr("medvox: \(e.description)")
        return 1
    } catch {
        printErr("medvox: \(error)")
        return 1
    }
}

signal(SIGPIPE, SIG_IGN)
Runtime.configureHeap()
exit(mainEntry(Array(CommandLine.arguments.dropFirst())))
