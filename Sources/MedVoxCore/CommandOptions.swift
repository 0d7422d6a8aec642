/// The options of a command line, read by name (without the leading dashes). The CLI's parser
/// provides them; a library that turns a command's options into a request (a training run, a
/// benchmark suite) reads them in its own order with its own ranges and defaults, so the
/// command stays wiring only.
public protocol CommandOptions {
    /// The text given for `--name` (the last one when repeated), nil when absent.
    func value(_ name: String) -> String?
    /// Whether the flag `--name` was given.
    func flag(_ name: String) -> Bool
    /// The whole number given for `--name`, nil when absent; throws a usage error when it is not
    /// a whole number within `range`.
    func int(_ name: String, range: ClosedRange<Int>?) throws -> Int?
    /// The finite number given for `--name`, nil when absent; throws a usage error otherwise.
    func double(_ name: String) throws -> Double?
    /// The comma-separated finite numbers given for `--name` (as many as one of `counts`), nil
    /// when absent; throws a usage error otherwise.
    func doubles(_ name: String, counts: Set<Int>) throws -> [Double]?
}

/// A command line the library cannot honour (options that exclude each other, a value out of
/// range, a missing choice): the command line is at fault, so the CLI reports it as a usage
/// error (exit status 2, with the command's help).
public struct CommandOptionError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
