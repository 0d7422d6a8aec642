import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Progress of long work on stderr: a redrawn bar with ETA when stderr is a terminal, plain
/// periodic lines otherwise (at most one every `interval` seconds), nothing when quiet.
public final class Progress {
    /// Set by the CLI's `--quiet`.
    nonisolated(unsafe) public static var quiet = false

    public let label: String
    public let total: Int
    private var done = 0
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let isTerminal = isatty(2) != 0
    private let interval: TimeInterval
    private let lock = NSLock()
    public var detail: String = ""

    public init(_ label: String, total: Int, interval: TimeInterval = 5) {
        self.label = label
        self.total = max(total, 1)
        self.interval = interval
    }

    /// Records `n` more units done and redraws when due.
    public func advance(_ n: Int = 1) {
        lock.lock()
        defer { lock.unlock() }
        done += n
        draw(final: false)
    }

    /// Marks the work complete (prints a final line).
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        done = total
        draw(final: true)
    }

    private func draw(final: Bool) {
        guard !Progress.quiet else { return }
        let now = Date()
        let minGap = isTerminal ? 0.1 : interval
        if !final && now.timeIntervalSince(lastPrint) < minGap { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let fraction = Double(min(done, total)) / Double(total)
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let etaText = final ? "done in \(Self.format(elapsed))" : "ETA \(Self.format(eta))"
        let extra = detail.isEmpty ? "" : " \(detail)"
        if isTerminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let line = "\r\(label) [\(bar)] \(done)/\(total) \(etaText)\(extra)\u{1B}[K"
            FileHandle.standardError.write(Data((final ? line + "\n" : line).utf8))
        } else {
            let line = "\(label): \(done)/\(total) (\(Int(fraction * 100))%) \(etaText)\(extra)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    static func format(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return String(format: "%.1fs", seconds)
    }
}

/// Prints a warning line on stderr (always, even when quiet: warnings are not progress).
public func warn(_ message: String) {
    FileHandle.standardError.write(Data("medvox: warning: \(message)\n".utf8))
}
