import Synchronization

/// A thread-safe increasing counter, for ids.
final class AtomicCounter: Sendable {
    private let value = Atomic<UInt64>(0)

    func next() -> UInt64 { value.add(1, ordering: .relaxed).newValue }

    /// The last value `next()` returned (0 before the first).
    var current: UInt64 { value.load(ordering: .relaxed) }
}
