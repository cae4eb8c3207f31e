import Dispatch
import Doctor
import HostScan
import SectionRegistry
import Synchronization
import SystemSeam

/// The doctor as the server runs it: answers from the shared host scan (at most a second old),
/// and every 10 s on its own records a history sample, runs the checks, raises `finding` events
/// for findings that appeared or changed severity, and keeps the counts /metrics exports.
final class DoctorService: Sendable {
    let host: HostScanner
    let registry: SectionRegistry
    let configuration: DoctorConfiguration
    let history: HistoryRing
    let unlinks: UnlinkStore
    /// The last periodic run's severity per finding (`id|scope`), for telling what changed.
    private let last = Mutex<[String: Finding.Severity]>([:])
    /// The last periodic run's count per check id and severity.
    private let counts = Mutex<[String: [Finding.Severity: Int]]>([:])
    /// DispatchSourceTimer is thread-safe but not marked Sendable.
    private struct Timer: @unchecked Sendable {
        let source: DispatchSourceTimer
    }

    private let timer = Mutex<Timer?>(nil)
    private let queue = DispatchQueue(label: "shm-admin.doctor")
    /// The change-feed subscription that notices other processes' unlinks.
    private let subscription = Mutex<UInt64?>(nil)
    /// Unlinks waiting for the pass that tells whether processes still map them, and whether that
    /// pass is scheduled: a burst of unlinks (a program cleaning up hundreds of objects) costs one.
    private let pendingUnlinks = Mutex<(names: [String: Double], scheduled: Bool)>(([:], false))
    /// `namesMappedByOthers` of the last snapshot asked about, by the snapshot's `takenAt`.
    private let mappedNames = Mutex<(takenAt: Double, names: Set<String>)?>(nil)
    /// The last periodic run's snapshot and when it ran (monotonic seconds).
    private let lastRun = Mutex<(at: Double, snapshot: HostSnapshot)?>(nil)
    /// The CPU time of a pass past which the periodic run never makes one sooner than a minute.
    let expensivePass: Double
    /// How old the processes' part (mappers, holders, locks) of the periodic run's evidence may be.
    static let processEvidenceAge = 60.0
    /// How often at most unlinks cost a pass over /proc.
    static let unlinkPassInterval = 1.0

    init(
        host: HostScanner, registry: SectionRegistry, configuration: DoctorConfiguration,
        history: HistoryRing = HistoryRing(), unlinks: UnlinkStore = UnlinkStore(),
        expensivePass: Double = API.expensivePass
    ) {
        self.host = host
        self.expensivePass = expensivePass
        self.registry = registry
        self.configuration = configuration
        self.history = history
        self.unlinks = unlinks
    }

    /// Findings now, worst first.
    func findings(_ snapshot: HostSnapshot? = nil) -> (checkedAt: Double, findings: [Finding]) {
        let snapshot = snapshot ?? host.snapshot()
        let now = snapshot.wallTime
        let input = DoctorInput(
            snapshot: snapshot, configuration: configuration, history: history.samples(),
            missingSections: missingSections(), recentUnlinks: unlinks.recent(now: now), now: now)
        return (now, Doctor.run(input))
    }

    /// Without a pass over /proc: the periodic run must not make one for this.
    private func missingSections() -> [String] { (try? registry.missingSections()) ?? [] }

    /// Starts the periodic run: a first one now, then every `interval` seconds.
    func start(interval: Double = HistoryRing.interval) {
        let id = registry.changes.subscribe { [weak self] event in
            guard event.kind == .deleted, event.source == .external, let name = event.section, let service = self
            else { return }
            service.noteUnlink(of: name, at: event.time)
        }
        subscription.withLock { $0 = id }
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now(), repeating: interval, leeway: .milliseconds(500))
        source.setEventHandler { [weak self] in self?.tick() }
        timer.withLock { $0 = Timer(source: source) }
        source.resume()
    }

    func stop() {
        timer.withLock { $0?.source.cancel() }
        if let id = subscription.withLock({ $0 }) { registry.changes.unsubscribe(id) }
    }

    /// Another process unlinked `name` from the shm directory (inotify): if processes still map
    /// the object, it now shows as `unlinked` in a fresh scan; remember it for 24 h and say so.
    /// inotify does not tell who unlinked, so `uid` stays unknown.
    ///
    /// A pass over /proc costs a busy host tens of milliseconds, and programs create and unlink
    /// objects all day: only an object the last pass (at most 10 s old: the periodic run) saw mapped
    /// by another process is worth one — what this is for, RemoveIPC, takes objects that were
    /// mapped for long, not ones made and dropped between two passes — and the unlinks of a second
    /// share one pass.
    func noteUnlink(of name: String, at time: Double) {
        guard namesMappedByOthers(in: host.lastSnapshot()).contains(name) else { return }
        let schedule = pendingUnlinks.withLock { pending in
            pending.names[name] = time
            defer { pending.scheduled = true }
            return !pending.scheduled
        }
        guard schedule else { return }
        queue.asyncAfter(deadline: .now() + Self.unlinkPassInterval / 4) { [weak self] in self?.checkUnlinks() }
    }

    /// The names of the server's own objects that some other process maps in `snapshot`, worked
    /// out once per pass: a program unlinking ten thousand objects asks ten thousand times.
    private func namesMappedByOthers(in snapshot: HostSnapshot) -> Set<String> {
        if let known = mappedNames.withLock({ $0?.takenAt == snapshot.takenAt ? $0?.names : nil }) { return known }
        var names: Set<String> = []
        if let mount = snapshot.mounts.first(where: \.isServer) {
            for entry in mount.entries {
                guard let seen = snapshot.objects[mount.objectID(entry)],
                    seen.mappers.contains(where: { $0.pid != snapshot.ownPid })
                else { continue }
                names.insert(entry.name)
            }
        }
        mappedNames.withLock { $0 = (snapshot.takenAt, names) }
        return names
    }

    private func checkUnlinks() {
        let names = pendingUnlinks.withLock { pending in
            defer { pending.names = [:] }
            return pending.names
        }
        let snapshot = host.freshSnapshot()
        if let mount = snapshot.mounts.first(where: \.isServer) {
            let known = Set(unlinks.recent(now: snapshot.wallTime).map(\.object))
            for object in snapshot.objects.values
            where object.kind == .unlinked && object.id.device == mount.device && !known.contains(object.id) {
                let name = object.name
                guard let time = names[name] else { continue }
                let pids = Set(object.mappers.map(\.pid)).subtracting([snapshot.ownPid]).sorted()
                guard !pids.isEmpty else { continue }
                unlinks.add(
                    UnlinkRecord(object: object.id, name: name, mount: mount.device, time: time, uid: nil, pids: pids))
                registry.changes.publishDeletedWhileMapped(name, uid: nil, pids: Array(pids.prefix(16)))
            }
        }
        // Unlinks that came during this pass wait out the interval: at most one pass a second.
        queue.asyncAfter(deadline: .now() + Self.unlinkPassInterval) { [weak self] in
            guard let self else { return }
            let again = self.pendingUnlinks.withLock { pending in
                pending.scheduled = !pending.names.isEmpty
                return pending.scheduled
            }
            if again { self.checkUnlinks() }
        }
    }

    /// One periodic run.
    func tick() {
        // On a busy host a pass over /proc costs a hundred milliseconds and more: the run reads each
        // mount's fullness and objects now (no process is read) and takes who maps them from a
        // reader's pass of the last minute — unless the objects changed since that pass (one made,
        // grown, reset or removed: who maps it may have changed too), then from one of the last
        // interval (on a busy host, see below, not). A reader of the doctor gets a second-old pass.
        let evidence = host.snapshot(maximumAge: Self.processEvidenceAge)
        var snapshot = host.withCurrentMounts(evidence)
        // Where a pass is expensive (a busy host, where programs make and drop objects all day),
        // objects that changed wait for the minute's pass too: a pass every run would cost more
        // than the rest of the server's idle work together.
        if !Self.sameObjects(evidence, snapshot) && host.lastPassCPUSeconds <= expensivePass {
            snapshot = host.withCurrentMounts(host.snapshot(maximumAge: HistoryRing.interval))
        }
        lastRun.withLock { $0 = (monotonicSeconds(), snapshot) }
        history.record(HistorySample.of(snapshot, graceSeconds: configuration.graceSeconds))
        let found = findings(snapshot).findings
        var now: [String: Finding.Severity] = [:]
        var perCheck: [String: [Finding.Severity: Int]] = [:]
        for finding in found {
            now[finding.id + "|" + finding.scope] = finding.severity
            perCheck[finding.id, default: [:]][finding.severity, default: 0] += 1
        }
        let before = last.withLock { state in
            defer { state = now }
            return state
        }
        counts.withLock { $0 = perCheck }
        for finding in found where before[finding.id + "|" + finding.scope] != finding.severity {
            registry.changes.publishFinding(json: FindingJSON(finding: finding).jsonBytes())
        }
    }

    /// The snapshot of the last periodic run if it ran at most `maximumAge` seconds ago: each mount's
    /// objects read at that run, who maps them from a pass up to `processEvidenceAge` old.
    func lastRunSnapshot(maximumAge: Double) -> HostSnapshot? {
        lastRun.withLock { run in run.flatMap { monotonicSeconds() - $0.at <= maximumAge ? $0.snapshot : nil } }
    }

    /// Whether two snapshots list the same objects in every mount, with the same sizes and blocks.
    static func sameObjects(_ one: HostSnapshot, _ other: HostSnapshot) -> Bool {
        guard one.mounts.count == other.mounts.count else { return false }
        for (a, b) in zip(one.mounts, other.mounts) {
            guard a.device == b.device, a.entries.count == b.entries.count else { return false }
            for (x, y) in zip(a.entries, b.entries)
            where x.inode != y.inode || x.name != y.name || x.facts.size != y.facts.size
                || x.facts.allocatedBytes != y.facts.allocatedBytes
            {
                return false
            }
        }
        return true
    }

    /// `shm_admin_doctor_findings{id,severity}`: every known id with every severity, 0 when absent,
    /// so alerts and dashboards always have the series.
    func renderMetrics() -> String {
        let counts = counts.withLock { $0 }
        var out =
            "# HELP shm_admin_doctor_findings Doctor findings of the last periodic run, by check id and severity.\n"
        out += "# TYPE shm_admin_doctor_findings gauge\n"
        for id in Doctor.ids {
            for severity in Finding.Severity.allCases.reversed() {
                out += "shm_admin_doctor_findings{id=\"\(id)\",severity=\"\(severity.rawValue)\"} "
                out += "\(counts[id]?[severity] ?? 0)\n"
            }
        }
        return out
    }
}
