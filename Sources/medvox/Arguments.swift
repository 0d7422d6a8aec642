import Foundation
import MedVoxCore

/// A small declarative argument parser in the shape of swift-argument-parser: each subcommand
/// declares its positionals and options, `parse` fills a `ParsedArguments`, and a usage error
/// (exit status 2, with the help text) is a `UsageError`.

/// One `--name VALUE` option or `--flag`.
struct OptionSpec {
    var name: String  // without the leading dashes
    var valueName: String?  // nil for a flag
    var help: String
    var repeatable = false

    static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, help: help)
    }
    static func value(_ name: String, _ valueName: String, _ help: String, repeatable: Bool = false) -> OptionSpec {
        OptionSpec(name: name, valueName: valueName, help: help, repeatable: repeatable)
    }
}

struct PositionalSpec {
    var name: String
    var help: String
    var optional = false
    var variadic = false
}

/// What a subcommand accepts.
struct CommandSpec {
    var name: String
    var abstract: String
    var positionals: [PositionalSpec] = []
    var options: [OptionSpec] = []
    var discussion: String = ""

    /// Options every subcommand takes.
    static let common: [OptionSpec] = [
        .value("threads", "N", "worker threads (default: all cores)"),
        .value("max-memory", "SIZE", "memory cap, e.g. 4G or 512M (default: the machine's memory)"),
        .flag("quiet", "no progress output"),
        .flag("help", "show this help"),
    ]

    var allOptions: [OptionSpec] { options + Self.common }

    var usageLine: String {
        var parts = ["medvox", name]
        for p in positionals {
            let n = p.variadic ? "\(p.name)..." : p.name
            parts.append(p.optional ? "[\(n)]" : n)
        }
        if !options.isEmpty { parts.append("[options]") }
        return parts.joined(separator: " ")
    }

    var help: String {
        var lines = ["\(abstract)", "", "Usage: \(usageLine)"]
        if !positionals.isEmpty {
            lines.append("")
            lines.append("Arguments:")
            for p in positionals { lines.append(Self.row(p.name, p.help)) }
        }
        lines.append("")
        lines.append("Options:")
        for o in allOptions {
            let left = "--\(o.name)" + (o.valueName.map { " \($0)" } ?? "")
            lines.append(Self.row(left, o.help))
        }
        if !discussion.isEmpty {
            lines.append("")
            lines.append(discussion)
        }
        return lines.joined(separator: "\n")
    }

    static func row(_ left: String, _ right: String) -> String {
        let pad = max(2, 26 - left.count)
        return "  " + left + String(repeating: " ", count: pad) + right
    }

    /// Parses `arguments` (the words after the subcommand name).
    func parse(_ arguments: [String]) throws -> ParsedArguments {
        var parsed = ParsedArguments()
        var i = 0
        var onlyPositionals = false
        let byName = Dictionary(allOptions.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        while i < arguments.count {
            let word = arguments[i]
            i += 1
            if !onlyPositionals && word == "--" {
                onlyPositionals = true
                continue
            }
            if !onlyPositionals && word.hasPrefix("-") && word.count > 1 && Double(word) == nil {
                var name = String(word.drop(while: { $0 == "-" }))
                var inlineValue: String?
                if let eq = name.firstIndex(of: "=") {
                    inlineValue = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                if name == "h" { name = "help" }
                if name == "o" { name = "output" }
                guard let spec = byName[name] else { throw UsageError("unknown option '\(word)'", command: self) }
                if spec.valueName == nil {
                    if inlineValue != nil { throw UsageError("option --\(name) takes no value", command: self) }
                    parsed.flags.insert(name)
                } else {
                    let value: String
                    if let inlineValue {
                        value = inlineValue
                    } else {
                        guard i < arguments.count else {
                            throw UsageError("option --\(name) needs a value \(spec.valueName!)", command: self)
                        }
                        value = arguments[i]
                        i += 1
                    }
                    if parsed.values[name] != nil && !spec.repeatable {
                        throw UsageError("option --\(name) given more than once", command: self)
                    }
                    parsed.values[name, default: []].append(value)
                }
            } else {
                parsed.positionals.append(word)
            }
        }
        if parsed.flags.contains("help") { return parsed }
        let required = positionals.filter { !$0.optional }.count
        let variadic = positionals.contains { $0.variadic }
        if parsed.positionals.count < required {
            let missing = positionals[parsed.positionals.count].name
            throw UsageError("missing argument \(missing)", command: self)
        }
        if !variadic && parsed.positionals.count > positionals.count {
            throw UsageError("unexpected argument '\(parsed.positionals[positionals.count])'", command: self)
        }
        return parsed
    }
}

extension CommandSpec {
    /// A spec written the way its help reads, one line per item, columns apart by two or more
    /// spaces:
    ///
    ///     NAME: ABSTRACT
    ///       POSITIONAL         help      ([NAME] optional, NAME... variadic)
    ///       --option VALUE     help      (--option VALUE... may be repeated)
    ///       --flag             help
    ///
    ///     DISCUSSION: everything after the first blank line, verbatim.
    ///
    /// The options every subcommand takes (`common`) are added by `help` and `parse`. A malformed
    /// line is a mistake in the program, not in the user's input.
    init(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let blank = lines.firstIndex { $0.allSatisfy(\.isWhitespace) } ?? lines.count
        guard let header = lines.first, let colon = header.range(of: ": ") else {
            preconditionFailure("command spec without a 'NAME: ABSTRACT' line: \(text)")
        }
        self.init(name: String(header[..<colon.lowerBound]), abstract: String(header[colon.upperBound...]))
        discussion = lines[min(blank + 1, lines.count)...].joined(separator: "\n")
        for line in lines[1..<blank] {
            let item = line.trimmingCharacters(in: .whitespaces)
            guard let gap = item.range(of: "  ") else { preconditionFailure("command spec line without help: \(line)") }
            let left = item[..<gap.lowerBound].split(separator: " ").map(String.init)
            let help = item[gap.upperBound...].trimmingCharacters(in: .whitespaces)
            var last = left.last!
            let repeated = last.hasSuffix("...")
            if repeated { last.removeLast(3) }
            if left[0].hasPrefix("--") {
                precondition(left.count <= 2, "command spec option with more than one value name: \(line)")
                let name = String(left[0].dropFirst(2))
                options.append(
                    left.count == 1 ? .flag(name, help) : .value(name, last, help, repeatable: repeated))
            } else {
                precondition(left.count == 1, "command spec argument with more than one name: \(line)")
                let optional = last.hasPrefix("[") && last.hasSuffix("]")
                let name = optional ? String(last.dropFirst().dropLast()) : last
                positionals.append(PositionalSpec(name: name, help: help, optional: optional, variadic: repeated))
            }
        }
    }
}

/// A usage error: printed with the command's help; exit status 2.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    var command: CommandSpec?
    init(_ message: String, command: CommandSpec? = nil) {
        self.message = message
        self.command = command
    }
    var description: String { message }
}

/// The result of parsing: positionals in order, option values by name, flags.
struct ParsedArguments: CommandOptions {
    var positionals: [String] = []
    var values: [String: [String]] = [:]
    var flags: Set<String> = []

    func flag(_ name: String) -> Bool { flags.contains(name) }
    func value(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }

    /// A size such as 512M, 4G, 1.5G or a plain byte count.
    func byteSize(_ name: String) throws -> Int? {
        guard let s = value(name) else { return nil }
        let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        var text = s.uppercased()
        if text.hasSuffix("B") { text.removeLast() }
        var scale = 1.0
        if let last = text.last, let u = units[last] {
            scale = u
            text.removeLast()
        }
        guard let v = Double(text), v > 0, v.isFinite else {
            throw UsageError("--\(name) expects a size such as 512M or 4G, got '\(s)'")
        }
        return Int(v * scale)
    }
}
