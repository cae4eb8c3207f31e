import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The one truth about shared memory on this host: managed sections (records in the state
/// directory), foreign objects and semaphores found in the shared-memory directory, the
/// server's own views and lock leases, and what /proc says about other processes.
///
/// Thread-safe. Nothing slow (fallocate, a /proc scan, fsync) runs under `state`'s lock:
/// operations on one section are serialised by a lock of that name instead.
public final class SectionRegistry: Sendable {
    public struct Configuration: Sendable {
        public var shmDirectory: String
        public var stateDirectory: String
        public var procRoot: String
        /// How old the /proc view (mappers, holders, lock holders) may be, in seconds.
        public var scanMaximumAge: Double
        /// Whether to watch the directory with inotify for other processes' changes.
        public var watchDirectory: Bool
        /// When record changes are fsynced (see `RecordSync`).
        public var recordSync: RecordSync
        /// Who maps, holds and locks the directory's objects, given its device; nil: the registry's
        /// own walk of `procRoot`, at most `scanMaximumAge` old.
        public var processView: (@Sendable (_ device: UInt64) -> any ProcessView)?

        public init(
            shmDirectory: String = "/dev/shm", stateDirectory: String, procRoot: String = "/proc",
            scanMaximumAge: Double = 1.0, watchDirectory: Bool = true, recordSync: RecordSync = .auto,
            processView: (@Sendable (_ device: UInt64) -> any ProcessView)? = nil
        ) {
            self.shmDirectory = shmDirectory
            self.stateDirectory = stateDirectory
            self.procRoot = procRoot
            self.scanMaximumAge = scanMaximumAge
            self.watchDirectory = watchDirectory
            self.recordSync = recordSync
            self.processView = processView
        }
    }

    public let directory: ShmDirectory
    public let changes: ChangeFeed
    public let startupReport: StartupReport
    public let pageSize = systemPageSize
    let store: RecordStore
    /// The registry's own /proc walks: the fresh maps pass a delete decides on, and, unless the
    /// configuration gives another, the shared view of mappers, holders and locks.
    let scanner: ProcScanner
    let processes: any ProcessView
    let views = ViewTable()
    let leases: LeaseTable
    let records: Mutex<[String: SectionRecord]>
    /// Sections with a grow in flight, and their data bytes just before it. fallocate holds the
    /// inode's lock, which lseek(SEEK_DATA) also takes: a listing must not wait behind it.
    let growing = Mutex<[String: Int64]>([:])
    /// The lock of each name in use, with how many callers hold or wait for it: an entry goes when
    /// its last user is done, so the table does not grow with every name ever created.
    private let nameLocks = Mutex<[String: (lock: NameLock, users: Int)]>([:])
    /// The last listing that stat'ed every object of the directory (`recentListing(since:)`).
    let lastListing = Mutex<DirectoryListing?>(nil)
    /// Listings of every section under way (`listingUnderWay(since:)`).
    let listingsUnderWay = Mutex<[UnderWayListing]>([])
    /// The entries of the last listing of every object, shared by the readers that come within
    /// `listingMaximumAge` while nothing changed (`allEntries`); only with the watcher, which
    /// tells of other processes' changes.
    let sharedEntries = Mutex<SharedEntries?>(nil)
    let sharesListings: Bool
    /// Bumped by every event of `changes` (ours, and other processes' through inotify) and by record
    /// changes that make none: a listing taken before it is not served after it.
    let changeGeneration = ChangeGeneration()

    /// How old a listing served again may be: what no event tells of (pages faulted in through
    /// another process's mapping) is at most this old (docs/API-DETAILS.md, "How fresh a listing is").
    public static let listingMaximumAge = 0.1

    /// Changes so far (`changeGeneration`): a listing made before the count moved is stale.
    public var changeCount: UInt64 { changeGeneration.current }

    public init(configuration: Configuration) throws(SectionError) {
        directory = try ShmDirectory(path: configuration.shmDirectory)
        store = try RecordStore(
            path: configuration.stateDirectory,
            syncs: configuration.recordSync.syncs(sectionsOnVolatileStorage: directory.isVolatile))
        scanner = ProcScanner(
            procRoot: configuration.procRoot, device: directory.device, maximumAge: configuration.scanMaximumAge)
        processes = configuration.processView?(directory.device) ?? scanner
        let feed = ChangeFeed()
        changes = feed
        leases = LeaseTable { lease in feed.publish(.unlocked, lease.section, .unlocked(lease: lease.id, expired: true))
        }
        var report = StartupReport()
        let recovered = Self.reconcile(store: store, directory: directory, report: &report)
        records = Mutex(recovered)
        startupReport = report
        sharesListings = configuration.watchDirectory
        _ = feed.subscribe { [changeGeneration] _ in changeGeneration.bump() }
        if configuration.watchDirectory {
            followRecordsOfOtherProcesses()
            try feed.watch(directory.path)
        }
    }

    deinit { changes.stop() }

    /// The state directory (`--state-dir`): records, and reclaim's quarantine records.
    public var stateDirectory: String { store.path }

    /// Whether record changes are fsynced before they are acknowledged (`RecordSync`).
    public var syncsRecords: Bool { store.syncs }

    /// Stops the directory watcher; views and leases go with the registry.
    public func close() { changes.stop() }

    /// Objects the registry makes while creating a section, before they get their name:
    /// `.shm-admin-tmp-PID-TOKEN-N`.
    static let temporaryPrefix = ".shm-admin-tmp-"
    /// The counter and the token belong to the process, not to one registry: two registries of
    /// one process must neither pick the same temporary name nor take each other's creates in
    /// flight for interrupted ones. The token tells this process from an earlier one that had
    /// the same pid (pid 1 in a container).
    static let processToken = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    private static let temporaryNames = AtomicCounter()

    static func temporaryName() -> SectionName {
        SectionName(unchecked: temporaryPrefix + "\(getpid())-\(processToken)-\(temporaryNames.next())")
    }

    static func isInternalName(_ name: String) -> Bool {
        name.hasPrefix(temporaryPrefix) || name == quarantineDirectory
    }

    /// Reclaim's quarantine directory at the root of the shm directory (API-HOST.md "Reclaim"): no
    /// section, never listed, its changes no event of the directory.
    static let quarantineDirectory = ".shm-admin-quarantine"

    /// The pid in a temporary's name: the process that is (or was) creating it.
    private static func creatingProcess(_ temporary: String) -> Int32? {
        Int32(temporary.dropFirst(temporaryPrefix.count).prefix { $0 != "-" })
    }

    /// Serialises create, grow, reset, adopt and delete of one name without blocking other names.
    func withNameLock<T>(_ name: String, _ body: () throws(SectionError) -> T) throws(SectionError) -> T {
        let lock = nameLocks.withLock { table in
            var entry = table[name] ?? (NameLock(), 0)
            entry.users += 1
            table[name] = entry
            return entry.lock
        }
        defer {
            nameLocks.withLock { table in
                guard var entry = table[name] else { return }
                entry.users -= 1
                table[name] = entry.users == 0 ? nil : entry
            }
        }
        return try lock.run(body)
    }

    /// Names whose lock is held or awaited now (tests).
    var nameLocksInUse: Int { nameLocks.withLock { $0.count } }

    func record(_ name: String) -> SectionRecord? { records.withLock { $0[name] } }

    /// Brings the records in line with the directory after a start or a crash: finishes deletes
    /// that were under way, rolls back creates that never got their name, removes temporaries.
    private static func reconcile(
        store: RecordStore, directory: ShmDirectory, report: inout StartupReport
    ) -> [String: SectionRecord] {
        let (loaded, corrupt) = store.loadAll()
        report.corrupt = corrupt
        var temporaries: [String: UInt64] = [:]
        let ownInFlight = temporaryPrefix + "\(getpid())-\(processToken)-"
        for entry in (try? directory.entries()) ?? [] where isInternalName(entry.name) {
            if entry.name.hasPrefix(ownInFlight) { continue }  // another registry of this process is creating
            let name = SectionName(unchecked: entry.name)
            if let info = try? directory.status(of: name) { temporaries[entry.name] = UInt64(info.st_ino) }
        }
        var result: [String: SectionRecord] = [:]
        for record in loaded {
            let name = SectionName(unchecked: record.name)
            let object = try? directory.status(of: name)
            switch record.phase {
            case .deleting:
                if let object, record.inode == nil || record.inode == UInt64(object.st_ino) {
                    try? directory.remove(name)
                }
                try? store.remove(record.name)
                report.repaired.append(record.name + ": finished an interrupted delete")
            case .creating:
                // Interrupted between the record and `ready`: the rename decides.
                if let object, record.inode == UInt64(object.st_ino) {
                    var finished = record
                    finished.phase = .ready
                    if (try? store.save(finished)) != nil {
                        result[record.name] = finished
                        report.recovered.append(record.name)
                        report.repaired.append(record.name + ": finished an interrupted create")
                        continue
                    }
                }
                if let inode = record.inode, let temporary = temporaries.first(where: { $0.value == inode })?.key {
                    // Its temporary belongs to another live process (a server beside `shm-admin`'s local
                    // mode, on one state directory): a create in flight, not an interrupted one.
                    if let pid = creatingProcess(temporary), pid != getpid(), processExists(pid) { continue }
                    try? directory.remove(SectionName(unchecked: temporary))
                    temporaries[temporary] = nil
                }
                try? store.remove(record.name)
                report.repaired.append(record.name + ": rolled back an interrupted create")
            case .ready:
                if object == nil, let inode = record.inode,
                    let temporary = temporaries.first(where: { $0.value == inode })?.key
                {
                    try? directory.remove(SectionName(unchecked: temporary))
                    temporaries[temporary] = nil
                    try? store.remove(record.name)
                    report.repaired.append(record.name + ": rolled back an interrupted create")
                    continue
                }
                result[record.name] = record
                if object == nil { report.missing.append(record.name) } else { report.recovered.append(record.name) }
            }
        }
        // Temporaries of processes that are gone: creates that never finished.
        for name in temporaries.keys {
            if let pid = creatingProcess(name), pid == getpid() || !processExists(pid) {
                try? directory.remove(SectionName(unchecked: name))
                report.repaired.append(name + ": removed the object of an unfinished create")
            }
        }
        return result
    }
}

/// A lock for one name: a slow grow of one section must not stall another.
final class NameLock: Sendable {
    private let mutex = Mutex(())

    func run<T>(_ body: () throws(SectionError) -> T) throws(SectionError) -> T {
        let outcome: Result<T, SectionError> = mutex.withLock { _ in
            do throws(SectionError) { return .success(try body()) } catch { return .failure(error) }
        }
        return try outcome.get()
    }
}
