import HostScan
import Synchronization
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// The quarantine: objects reclaim moved into their mount's `.shm-admin-quarantine/`, one record each
/// in `STATE/quarantine/`. Every change of an object's place is preceded by a record of what is
/// about to happen (fsynced), so `recover()` at a start finishes or undoes whatever a crash
/// interrupted: each object ends under its name or in quarantine, never lost.
///
/// One operation (a reclaim, a restore, a purge, a recovery) runs at a time.
public final class Quarantine: Sendable {
    public let scanner: HostScanner
    /// How long an object stays before it is purged (`--quarantine-ttl`).
    public let ttl: Double
    let store: QuarantineRecordStore
    let records = Mutex<[String: QuarantineRecord]>([:])
    let operation = Mutex<Void>(())
    let notify: @Sendable (QuarantineChange) -> Void
    private let reclaimedBytes = Atomic<Int64>(0)
    private let reclaimedObjects = Atomic<Int64>(0)
    /// For tests: called between the steps of a reclaim (`after-record`, `after-move`, `after-check`)
    /// with the candidate's name, so a test can open the object or crash the process there.
    let stepHook: (@Sendable (String, String) -> Void)?

    public convenience init(
        stateDirectory: String, scanner: HostScanner, ttl: Double = 86_400,
        notify: @escaping @Sendable (QuarantineChange) -> Void = { _ in }
    ) {
        self.init(stateDirectory: stateDirectory, scanner: scanner, ttl: ttl, notify: notify, stepHook: nil)
    }

    init(
        stateDirectory: String, scanner: HostScanner, ttl: Double,
        notify: @escaping @Sendable (QuarantineChange) -> Void, stepHook: (@Sendable (String, String) -> Void)?
    ) {
        self.scanner = scanner
        self.ttl = ttl
        self.notify = notify
        self.stepHook = stepHook
        store = QuarantineRecordStore(stateDirectory: stateDirectory)
        refresh()
    }

    /// `shm_admin_reclaimed_bytes_total`, `shm_admin_reclaimed_objects_total` since the start.
    public var reclaimedTotals: (bytes: Int64, objects: Int64) {
        (reclaimedBytes.load(ordering: .relaxed), reclaimedObjects.load(ordering: .relaxed))
    }

    func countReclaimed(_ bytes: Int64) {
        reclaimedBytes.add(bytes, ordering: .relaxed)
        reclaimedObjects.add(1, ordering: .relaxed)
    }

    /// Objects in quarantine, oldest first. Records another process changed are read again (unless
    /// an operation of this one is running: it will).
    public func list() -> [QuarantineItem] {
        _ = operation.withLockIfAvailable { _ in refresh() }
        return records.withLock { Array($0.values) }.filter { $0.phase == .quarantined }.map(\.item)
            .sorted { ($0.quarantinedAt, $0.id) < ($1.quarantinedAt, $1.id) }
    }

    /// Bytes in quarantine per mount (`shm_admin_quarantine_bytes{mount}`).
    public func bytesByMount() -> [DeviceID: Int64] {
        var bytes: [DeviceID: Int64] = [:]
        for item in list() { bytes[item.mount, default: 0] += item.bytes }
        return bytes
    }

    /// Puts `id` back under its name: `nameTaken` when another object has it now (the object stays
    /// in quarantine), `gone` when the object or its mount is.
    public func restore(_ id: String) throws(QuarantineError) -> QuarantineItem {
        try exclusively { () throws(QuarantineError) in
            guard var record = records.withLock({ $0[id] }), record.phase == .quarantined else { throw .notFound(id) }
            guard let directory = try reach(record) else { throw .gone(record.name) }
            record.phase = .restoring
            try save(record)
            do throws(SystemCallError) {
                notify(.renaming(mount: record.mount, name: record.name))
                try directory.moveOut(id, as: record.name)
            } catch {
                record.phase = .quarantined
                try save(record)
                if error.errno.rawValue == EEXIST { throw .nameTaken(record.name) }
                throw .failed("\(error)")
            }
            try forget(id)
            scanner.invalidate()
            notify(.restored(record.item))
            return record.item
        }
    }

    /// Purges `id` now (its memory is freed once no process keeps it).
    public func purge(_ id: String) throws(QuarantineError) -> QuarantineItem {
        try exclusively { () throws(QuarantineError) in
            guard let record = records.withLock({ $0[id] }), record.phase == .quarantined else { throw .notFound(id) }
            return try purgeLocked(record)
        }
    }

    /// Purges every object whose TTL is over; returns them.
    @discardableResult
    public func purgeExpired(now: Double = wallSeconds()) -> [QuarantineItem] {
        exclusively {
            let due = records.withLock { Array($0.values) }.filter { $0.phase == .quarantined && $0.purgeAt <= now }
            return due.sorted { $0.purgeAt < $1.purgeAt }.compactMap { try? purgeLocked($0) }
        }
    }

    private func purgeLocked(_ record: QuarantineRecord) throws(QuarantineError) -> QuarantineItem {
        var record = record
        record.phase = .purging
        try save(record)
        if let directory = try? reach(record, dropWhenGone: false) {
            do throws(SystemCallError) {
                if try directory.holds(record.id, inode: record.inode, inQuarantine: true) {
                    try directory.purge(record.id)
                }
            } catch {
                record.phase = .quarantined
                try save(record)
                throw .failed("\(error)")
            }
        }
        try forget(record.id)
        scanner.invalidate()
        notify(.purged(kind: record.kind, name: record.name, mount: record.mount, bytes: record.bytes, id: record.id))
        return record.item
    }

    /// What a start found and did.
    public struct Recovery: Sendable, Equatable {
        /// Moves a crash interrupted, undone: back under their names.
        public var restored: [String] = []
        /// Kept in quarantine (their name was taken meanwhile, or the move had been decided).
        public var kept: [String] = []
        /// Purges a crash interrupted, finished.
        public var purged: [String] = []
        /// Records dropped: the object was gone (someone else removed it).
        public var dropped: [String] = []
        /// Records of mounts that cannot be reached now, left for later.
        public var unreachable: [String] = []
    }

    /// At a start: finishes or undoes what the records say was in flight. A move not yet decided
    /// (`moving`) and a restore (`restoring`) put the object back under its name (if the name was
    /// taken meanwhile it stays quarantined); a purge (`purging`) is finished; a quarantined object
    /// that is no longer there loses its record.
    public func recover() -> Recovery {
        exclusively {
            var recovery = Recovery()
            let snapshot = scanner.freshSnapshot()
            for var record in records.withLock({ Array($0.values) }).sorted(by: { $0.id < $1.id }) {
                guard let mount = snapshot.mount(record.mount), let directory = MountDirectory(mount) else {
                    recovery.unreachable.append(record.name)
                    continue
                }
                guard (try? directory.openQuarantine(create: false)) == true else {
                    // The mount has no quarantine directory: the move never happened, or the object is gone.
                    try? forget(record.id)
                    recovery.dropped.append(record.name)
                    continue
                }
                let inQuarantine = (try? directory.holds(record.id, inode: record.inode, inQuarantine: true)) == true
                switch record.phase {
                case .moving, .restoring:
                    guard inQuarantine else {
                        try? forget(record.id)
                        let home = (try? directory.holds(record.name, inode: record.inode)) == true
                        if home { recovery.restored.append(record.name) } else { recovery.dropped.append(record.name) }
                        continue
                    }
                    do throws(SystemCallError) {
                        notify(.renaming(mount: record.mount, name: record.name))
                        try directory.moveOut(record.id, as: record.name)
                        try? forget(record.id)
                        recovery.restored.append(record.name)
                    } catch {
                        record.phase = .quarantined
                        try? save(record)
                        recovery.kept.append(record.name)
                    }
                case .purging:
                    if inQuarantine { try? directory.purge(record.id) }
                    try? forget(record.id)
                    recovery.purged.append(record.name)
                case .quarantined:
                    if !inQuarantine {
                        try? forget(record.id)
                        recovery.dropped.append(record.name)
                    }
                }
            }
            scanner.invalidate()
            return recovery
        }
    }

    // MARK: - Building blocks

    private let loadedStamp = Mutex<Int64>(-1)

    /// Runs `body` as the one operation on the quarantine: this process's lock, then the state
    /// directory's (another process may share it), with the records as that directory has them.
    func exclusively<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let outcome: Result<T, E> = operation.withLock { _ in
            let lock = store.lock()
            defer { store.unlock(lock) }
            refresh()
            do throws(E) { return .success(try body()) } catch { return .failure(error) }
        }
        return try outcome.get()
    }

    /// Reads the records again when their directory changed since they were read.
    func refresh() {
        let stamp = store.stamp()
        guard loadedStamp.withLock({ $0 }) != stamp || stamp == 0 else { return }
        let loaded = store.loadAll().records
        records.withLock { table in
            table = [:]
            for record in loaded { table[record.id] = record }
        }
        loadedStamp.withLock { $0 = stamp }
    }

    func save(_ record: QuarantineRecord, syncingDirectory: Bool = true) throws(QuarantineError) {
        try store.save(record, syncingDirectory: syncingDirectory)
        records.withLock { $0[record.id] = record }
    }

    func forget(_ id: String, syncingDirectory: Bool = true) throws(QuarantineError) {
        try store.remove(id, syncingDirectory: syncingDirectory)
        _ = records.withLock { $0.removeValue(forKey: id) }
    }

    /// The record's mount with its quarantine directory open; nil (and, with `dropWhenGone`, the
    /// record dropped) when the mount or the object is gone.
    private func reach(_ record: QuarantineRecord, dropWhenGone: Bool = true) throws(QuarantineError)
        -> MountDirectory?
    {
        // Where the mount is reached, from the last snapshot however old (MountDirectory checks the
        // device; a container's process may have gone: then from a fresh pass).
        let known = scanner.lastSnapshot().mount(record.mount).flatMap { MountDirectory($0) }
        guard let directory = known ?? scanner.freshSnapshot().mount(record.mount).flatMap({ MountDirectory($0) }),
            (try? directory.openQuarantine(create: false)) == true,
            (try? directory.holds(record.id, inode: record.inode, inQuarantine: true)) == true
        else {
            if dropWhenGone {
                try forget(record.id)
                scanner.invalidate()
            }
            return nil
        }
        return directory
    }

    /// A new quarantine id: 16 lowercase hex digits.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public static func isValidID(_ text: String) -> Bool {
        text.utf8.count == 16 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// Seconds since the epoch.
public func wallSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
