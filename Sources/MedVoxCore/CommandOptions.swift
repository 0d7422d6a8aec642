import Foundation

/// The options of a command line, read by name (without the leading dashes), with readers for
/// numbers that throw `CommandOptionError` for a malformed value. The CLI's parser provides
/// them; a library that turns a command's options into a request (a training run, a
/// benchmark suite) reads them in its own order with its own ranges and defaults, so the
/// command stays wiring only.
public protocol CommandOptions {
    /// The text given for `--name` (the last one when repeated), nil when absent.
    func value(_ name: String) -> String?
    /// Whether the flag `--name` was given.
    func flag(_ name: String) -> Bool
}

extension CommandOptions {
    /// The whole number given for `--name`, nil when absent; throws when it is not a whole
    /// number within `range`.
    public func int(_ name: String, range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let s = value(name) else { return nil }
        guard let v = Int(s), range.map({ $0.contains(v) }) ?? true else {
            let expected = range.map { " in \($0.lowerBound)...\($0.upperBound)" } ?? ""
            throw CommandOptionError("--\(name) expects a whole number\(expected), got '\(s)'")
        }
        return v
    }

    /// The finite number given for `--name`, nil when absent; throws otherwise.
    public func double(_ name: String) throws -> Double? {
        guard let s = value(name) else { return nil }
        guard let v = Double(s), v.isFinite else { throw CommandOptionError("--\(name) expects a number, got '\(s)'") }
        return v
    }

    /// The comma-separated finite numbers given for `--name`, e.g. "1,1,2", as many as one of
    /// `counts`; nil when absent; throws otherwise.
    public func doubles(_ name: String, counts: Set<Int>) throws -> [Double]? {
        guard let s = value(name) else { return nil }
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ $0 != nil && $0!.isFinite }), counts.contains(parts.count) else {
            let expected = counts.sorted().map(String.init).joined(separator: " or ")
            throw CommandOptionError("--\(name) expects \(expected) comma-separated numbers, got '\(s)'")
        }
        return parts.map { $0! }
    }
}

/// A command line the library cannot honour (options that exclude each other, a value out of
/// range, a missing choice): the command line is at fault, so the CLI reports it as a usage
/// error (exit status 2, with the command's help).
public struct CommandOptionError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
