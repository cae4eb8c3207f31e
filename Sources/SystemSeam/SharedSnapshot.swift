import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What a costly pass made (a walk over /proc), shared by every reader: each gets a value at most
/// the age it asks for, and a host is walked about once per that age whatever the load. The
/// host scan and the registry's own /proc scan both keep theirs in one.
///
/// A pass is dated by its start: one that began before a change (`invalidate()`) may have missed
/// it, so it is not installed when it ends, and neither is one older than the value it would
/// replace.
package final class SharedSnapshot<Value: Sendable>: Sendable {
    private struct State {
        var value: Value
        /// When the pass that made `value` started.
        var takenAt = -Double.infinity
        /// When `value` was installed.
        var installedAt = -Double.infinity
        /// The earliest start a pass must have to be installed.
        var notBefore = -Double.infinity

        mutating func install(_ fresh: Value, takenAt started: Double, at now: Double) {
            guard started >= notBefore && started > takenAt else { return }
            value = fresh
            takenAt = started
            installedAt = now
        }
    }

    private let state: Mutex<State>
    /// Set while a refresh ahead of time runs, so at most one does.
    private let refreshing = Atomic<Bool>(false)
    private let passes = Atomic<Int>(0)
    private let pass: @Sendable () -> Value
    private let now: @Sendable () -> Double
    private let background: @Sendable (@escaping @Sendable () -> Void) -> Void

    /// `pass` makes a value; `empty` stands until the first one. `now` and `background` (where a
    /// refresh ahead of time runs) are for tests.
    package init(
        empty: Value, now: @escaping @Sendable () -> Double = monotonicSeconds,
        background: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void = {
            DispatchQueue.global().async(execute: $0)
        },
        pass: @escaping @Sendable () -> Value
    ) {
        state = Mutex(State(value: empty))
        self.pass = pass
        self.now = now
        self.background = background
    }

    /// Passes made so far.
    package var passesRun: Int { passes.load(ordering: .relaxed) }

    /// A value at most `maximumAge` seconds old; the caller waits for a pass when there is none
    /// (and callers arriving during it wait for the same pass). With `refreshingAhead`, a value
    /// past half its age that has also served half that age since it came starts a pass in the
    /// background, so a steady stream of readers never waits. (Counted from its start alone, a
    /// slow pass is half its age old when it arrives: the reader that waited for it would start
    /// the next one at once.)
    package func value(maximumAge: Double, refreshingAhead: Bool = false) -> Value {
        if let value = cached(maximumAge: maximumAge, refreshingAhead: refreshingAhead) { return value }
        return state.withLock { state in
            if now() - state.takenAt <= maximumAge { return state.value }
            let started = now()
            let fresh = run()
            state.install(fresh, takenAt: started, at: now())
            return state.value
        }
    }

    /// `value(maximumAge:refreshingAhead:)` when that needs no pass; nil when it would make the
    /// caller wait for one.
    package func cached(maximumAge: Double, refreshingAhead: Bool = false) -> Value? {
        let (value, takenAt, installedAt) = state.withLock { ($0.value, $0.takenAt, $0.installedAt) }
        let current = now()
        let age = current - takenAt
        guard age <= maximumAge else { return nil }
        if refreshingAhead && age > maximumAge / 2 && current - installedAt > maximumAge / 2 {
            refreshInBackground()
        }
        return value
    }

    /// The last value, however old (`empty` before the first pass).
    package func last() -> Value { state.withLock { $0.value } }

    /// When the last value's pass started (-infinity before the first).
    package var lastTakenAt: Double { state.withLock { $0.takenAt } }

    /// A value from a pass that starts now, for decisions that must not rest on an older one; it
    /// becomes the shared one.
    package func fresh() -> Value {
        let started = now()
        let value = run()
        state.withLock { $0.install(value, takenAt: started, at: now()) }
        return value
    }

    /// Forgets the value: the next reader gets a pass that starts after this call, and a pass
    /// already running is not installed when it ends.
    package func invalidate() {
        let current = now()
        state.withLock { state in
            state.takenAt = -.infinity
            state.notBefore = current
        }
    }

    private func run() -> Value {
        let value = pass()
        passes.add(1, ordering: .relaxed)
        return value
    }

    private func refreshInBackground() {
        guard !refreshing.exchange(true, ordering: .acquiring) else { return }
        background { [self] in
            let started = now()
            let value = run()
            state.withLock { $0.install(value, takenAt: started, at: now()) }
            refreshing.store(false, ordering: .releasing)
        }
    }
}

/// Seconds from an arbitrary origin, never going back: clock_gettime(2) CLOCK_MONOTONIC.
package func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
