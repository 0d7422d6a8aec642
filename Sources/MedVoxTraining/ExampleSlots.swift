import Foundation

/// Lock-protected result slots for examples made in parallel.
final class ExampleSlots: @unchecked Sendable {
    private var slots: [Result<Example, any Error>?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<Example, any Error>) {
        lock.lock()
        defer { lock.unlock() }
        slots[i] = r
    }
    /// The examples in order, or the first slot's error.
    func values() throws -> [Example] { try slots.map { try $0!.get() } }
}
