import Synchronization
import SystemSeam

/// The host's one scan, shared: every reader (endpoints, metrics, later the doctor) asks for a
/// snapshot, and gets one at most `maximumAge` seconds old; a host with thousands of processes is
/// walked at most about once a second whatever the load. Never called under the registry's lock
/// (it takes none of the registry's locks itself).
public final class HostScanner: Sendable {
    public let configuration: HostScanConfiguration
    private let shared: SharedSnapshot<HostSnapshot>
    /// The last pass's CPU time on every thread it used (`lastPassCPUSeconds`).
    private let cost: CPUTally
    private let ownMount: OwnMountSource

    public init(_ configuration: HostScanConfiguration) {
        self.configuration = configuration
        let cost = CPUTally()
        self.cost = cost
        let ownMount = OwnMountSource(window: configuration.maximumAge / 10)
        self.ownMount = ownMount
        shared = SharedSnapshot(empty: HostSnapshot()) {
            let before = threadCPUSeconds()
            let pass = HostPass(configuration, ownMount: ownMount.listing())
            let snapshot = pass.run()
            cost.set(threadCPUSeconds() - before + pass.helperCPU.seconds)
            return snapshot
        }
    }

    /// Passes run so far (tests, metrics).
    public var passesRun: Int { shared.passesRun }

    /// The CPU time (user and system) the last pass took, in seconds, on every thread it used; 0
    /// before the first. What a reader that could do with an older pass weighs against asking
    /// for a fresh one.
    public var lastPassCPUSeconds: Double { cost.seconds }

    /// A snapshot at most `maximumAge` old. Past half that age a refresh starts in the background,
    /// so a steady stream of readers never waits; the first after a quiet spell does (and those
    /// arriving during its pass wait for the same pass).
    public func snapshot() -> HostSnapshot { snapshot(maximumAge: configuration.maximumAge, refreshingAhead: true) }

    /// `snapshot()` if that needs no pass now; nil if it would wait for one.
    public func cachedSnapshot() -> HostSnapshot? {
        shared.cached(maximumAge: passAge(configuration.maximumAge), refreshingAhead: true)
    }

    /// A snapshot at most `maximumAge` old: periodic work (the doctor's run every 10 s) takes the
    /// pass a reader made lately instead of making one more (and starts none ahead of time).
    public func snapshot(maximumAge: Double, refreshingAhead: Bool = false) -> HostSnapshot {
        shared.value(maximumAge: passAge(maximumAge), refreshingAhead: refreshingAhead)
    }

    /// The age a pass may have for an answer at most `maximumAge` old: a pass is dated by its
    /// start, and the server's own mount in it may come from a listing up to `window` older
    /// (`takeOwnMount`): asked that much younger, the answer is in time.
    private func passAge(_ maximumAge: Double) -> Double { maximumAge - ownMount.window }

    /// Where a pass may take the server's own mount from instead of listing and stat'ing it again:
    /// the registry lists and stats that directory for every section listing, and a pass is most
    /// often started by one. The source gets the earliest start a listing may have (a tenth of
    /// `maximumAge` before the pass, and not before the last `invalidate()`) and answers nil when
    /// it has none that recent.
    /// `underWay` tells of such a listing still being made, which the pass then waits for after
    /// reading the processes (a section listing starts the pass it needs before it lists).
    public func takeOwnMount(
        from source: @escaping @Sendable (_ since: Double) -> DirectoryListing?,
        underWay: @escaping @Sendable (_ since: Double) -> ListingUnderWay? = { _ in nil }
    ) {
        ownMount.source.withLock { $0 = (source, underWay) }
    }

    /// The snapshot the last pass made, however old (empty before the first): for deciding whether
    /// a pass is worth making at all, or where a mount was reached (reclaim checks what it
    /// finds there itself).
    public func lastSnapshot() -> HostSnapshot { shared.last() }

    /// A snapshot from a pass that starts now, for decisions that must not rest on a cached view
    /// (a guarded delete); it becomes the shared one.
    public func freshSnapshot() -> HostSnapshot {
        // Nothing in it from before the call: passes starting meanwhile list the mount themselves.
        ownMount.suspended.add(1, ordering: .sequentiallyConsistent)
        defer { ownMount.suspended.subtract(1, ordering: .sequentiallyConsistent) }
        return shared.fresh()
    }

    /// The tmpfs mounts some namespace sees at `/dev/shm` now, each with the processes of those
    /// namespaces: a light pass (two links per process, one mountinfo per namespace), for noticing
    /// containers that start and stop without walking every maps file.
    public func shmMountMembers() -> [DeviceID: [Int32]] {
        members.withLock { HostPass(configuration).mountMembers(reusing: &$0) }
    }

    /// What the light passes learnt: each process's mount namespace, each namespace's `/dev/shm`.
    private let members = Mutex(MembershipCache())

    /// `snapshot` with each mount's size, use and inodes (statvfs) and its objects (a listing with
    /// their sizes and blocks) read again now, through the same paths; who maps, holds and locks
    /// them stays the pass's. A fraction of a pass's cost (no process is read), for periodic checks
    /// of fullness and exposure, which must not take those from an older pass. A mount no longer
    /// reachable keeps what the pass saw.
    public func withCurrentMounts(_ snapshot: HostSnapshot) -> HostSnapshot {
        var snapshot = snapshot
        for index in snapshot.mounts.indices {
            let mount = snapshot.mounts[index]
            guard let info = ProcFiles.fileSystem(mount.reachedThrough) else { continue }
            snapshot.mounts[index].capacity = HostPass.capacity(info)
            snapshot.mounts[index].entries = HostPass.entries(of: mount.reachedThrough, device: mount.device)
        }
        return snapshot
    }

    /// `snapshot` with each mount's size, use and inodes read again now (statvfs; its objects stay
    /// the pass's): for a reader that may take objects from an older pass, but not fullness.
    public func withCurrentCapacity(_ snapshot: HostSnapshot) -> HostSnapshot {
        var snapshot = snapshot
        for index in snapshot.mounts.indices {
            guard let info = ProcFiles.fileSystem(snapshot.mounts[index].reachedThrough) else { continue }
            snapshot.mounts[index].capacity = HostPass.capacity(info)
        }
        return snapshot
    }

    /// Forgets the snapshot: the next reader gets a fresh pass (after the server changed something).
    /// A pass already running began before the change, so it is not installed when it ends.
    public func invalidate() {
        ownMount.invalidatedAt.withLock { $0 = monotonicNow() }
        shared.invalidate()
    }
}

/// Where passes take the server's own mount from (`HostScanner.takeOwnMount`), and when not to.
final class OwnMountSource: Sendable {
    /// How much older than its pass a listing may be.
    let window: Double
    let source = Mutex<Sources?>(nil)
    typealias Sources = (
        kept: @Sendable (Double) -> DirectoryListing?, underWay: @Sendable (Double) -> ListingUnderWay?
    )
    /// The last `invalidate()`: a listing from before it may miss the change.
    let invalidatedAt = Mutex(-Double.infinity)
    /// Fresh snapshots being made: no pass takes a listing meanwhile.
    let suspended = Atomic<Int>(0)

    init(window: Double) { self.window = window }

    func listing() -> HostPass.OwnMount {
        guard suspended.load(ordering: .sequentiallyConsistent) == 0, let source = source.withLock({ $0 }) else {
            return .list
        }
        let since = max(invalidatedAt.withLock { $0 }, monotonicNow() - window)
        if let kept = source.kept(since) { return .kept(kept) }
        return source.underWay(since).map(HostPass.OwnMount.underWay) ?? .list
    }
}
