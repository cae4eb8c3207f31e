import Synchronization
import SystemSeam
import Testing

/// A clock the test moves, and a pass that takes the time the test says.
private final class Scene: Sendable {
    let clock = Mutex(0.0)
    let passCost = Mutex(0.0)
    /// Passes asked to run in the background, not run until the test says.
    let queued = Mutex<[@Sendable () -> Void]>([])
    let made = Atomic<Int>(0)
    /// Runs once, inside the next pass (after its start).
    let during = Mutex<(@Sendable () -> Void)?>(nil)

    var now: Double {
        get { clock.withLock { $0 } }
        set { clock.withLock { $0 = newValue } }
    }

    func snapshot() -> SharedSnapshot<Int> {
        SharedSnapshot(
            empty: 0, now: { [self] in clock.withLock { $0 } },
            background: { [self] work in queued.withLock { $0.append(work) } },
            pass: { [self] in
                let cost = passCost.withLock { $0 }
                clock.withLock { $0 += cost }
                let number = made.add(1, ordering: .relaxed).newValue
                let hook = during.withLock { hook in
                    defer { hook = nil }
                    return hook
                }
                hook?()
                return number
            })
    }

    /// Runs the background passes queued so far; how many there were.
    @discardableResult
    func runQueued() -> Int {
        let work = queued.withLock { queued in
            defer { queued.removeAll() }
            return queued
        }
        work.forEach { $0() }
        return work.count
    }
}

@Suite("A snapshot shared by readers (SharedSnapshot)")
struct SharedSnapshotTests {
    @Test("a reader after a quiet spell waits for one pass; readers within the age share it")
    func quietSpell() {
        let scene = Scene()
        let shared = scene.snapshot()
        #expect(shared.value(maximumAge: 1) == 1)
        scene.now = 0.9
        #expect(shared.value(maximumAge: 1) == 1)
        scene.now = 1.1
        #expect(shared.value(maximumAge: 1) == 2)
        #expect(shared.passesRun == 2 && scene.runQueued() == 0)
        #expect(shared.value(maximumAge: 60) == 2 && shared.passesRun == 2, "periodic work takes a reader's pass")
    }

    @Test("a refresh ahead starts only for a value that has served half its age since it came")
    func refreshAheadForAStream() {
        let scene = Scene()
        let shared = scene.snapshot()
        scene.passCost.withLock { $0 = 0.6 }
        // A slow pass: it ends 0.6 s after it began, already past half the age.
        #expect(shared.value(maximumAge: 1, refreshingAhead: true) == 1)
        scene.now = 0.7
        #expect(shared.value(maximumAge: 1, refreshingAhead: true) == 1)
        #expect(scene.runQueued() == 0, "the reader that waited for a pass does not start the next one")
        scene.now = 1.15
        // The next reader finds it too old and waits; it came at 1.75.
        #expect(shared.value(maximumAge: 1, refreshingAhead: true) == 2)
        scene.now = 2.0
        #expect(shared.value(maximumAge: 1, refreshingAhead: true) == 2)
        #expect(scene.runQueued() == 0)
        // With a pass that slow, readers a second apart wait each time: no pass starts early.
        scene.passCost.withLock { $0 = 0.05 }
        scene.now = 2.2
        #expect(shared.value(maximumAge: 1, refreshingAhead: true) == 3)
        scene.now = 2.8
        // Past half its age (started at 2.2) and served 0.55 s: a stream of readers; the next
        // comes ahead of time, and only one is started however many readers pass meanwhile.
        #expect(shared.value(maximumAge: 1, refreshingAhead: true) == 3)
        #expect(shared.value(maximumAge: 1, refreshingAhead: true) == 3)
        #expect(shared.value(maximumAge: 1) == 3)
        #expect(scene.runQueued() == 1)
        #expect(shared.value(maximumAge: 1, refreshingAhead: true) == 4)
        #expect(shared.passesRun == 4 && scene.runQueued() == 0)
    }

    @Test("a cached value is the value when it needs no pass, nil when it would; it never waits")
    func cachedValue() {
        let scene = Scene()
        let shared = scene.snapshot()
        #expect(shared.cached(maximumAge: 1) == nil && shared.passesRun == 0, "none yet: no pass made for it")
        #expect(shared.value(maximumAge: 1) == 1)
        scene.now = 0.4
        #expect(shared.cached(maximumAge: 1) == 1)
        scene.now = 0.7
        // Past half its age and served that long: a stream's refresh starts, as for value().
        #expect(shared.cached(maximumAge: 1, refreshingAhead: true) == 1)
        #expect(scene.runQueued() == 1 && shared.cached(maximumAge: 1) == 2)
        scene.now = 2.0
        #expect(shared.cached(maximumAge: 1) == nil && shared.passesRun == 2, "too old: nil, and no pass")
        shared.invalidate()
        scene.now = 2.01
        #expect(shared.cached(maximumAge: 60) == nil, "nothing after an invalidate")
    }

    @Test("periodic readers never start a pass ahead of time")
    func noRefreshAheadForPeriodicReaders() {
        let scene = Scene()
        let shared = scene.snapshot()
        _ = shared.value(maximumAge: 60)
        scene.now = 50
        #expect(shared.value(maximumAge: 60) == 1)
        #expect(scene.runQueued() == 0 && shared.passesRun == 1)
    }

    @Test("a pass that began before a change is never installed; nor one older than the value")
    func stalePassRefused() {
        let scene = Scene()
        let shared = scene.snapshot()
        _ = shared.value(maximumAge: 1)
        scene.now = 0.6
        _ = shared.value(maximumAge: 1, refreshingAhead: true)
        // The background pass starts at 0.6; the server changes something at 0.8, before it ends.
        scene.during.withLock {
            $0 = {
                scene.now = 0.8
                shared.invalidate()
            }
        }
        #expect(scene.runQueued() == 1)
        #expect(shared.last() == 1 && shared.passesRun == 2, "a pass that may have missed the change")
        #expect(shared.value(maximumAge: 1) == 3, "the next reader gets a pass after the change")
        #expect(shared.lastTakenAt == 0.8)
        // A fresh pass that starts (at 1.5) and ends while an earlier one (from 1.35) runs wins.
        scene.now = 1.35
        _ = shared.value(maximumAge: 1, refreshingAhead: true)
        scene.during.withLock {
            $0 = {
                scene.now = 1.5
                #expect(shared.fresh() == 5)
            }
        }
        #expect(scene.runQueued() == 1)
        #expect(shared.last() == 5 && shared.lastTakenAt == 1.5, "never an older value over a newer one")
    }
}
