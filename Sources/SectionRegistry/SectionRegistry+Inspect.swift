import Dispatch
import Synchronization
import SystemPackage
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

extension SectionRegistry {
    /// A directory entry or a record, before the costlier facts (data bytes) are read.
    struct Entry {
        var name: String
        var record: SectionRecord?
        var status: stat?
        var isSemaphore: Bool
    }

    /// A listing of every entry, with what it was valid for: the change generation and the
    /// directory's mtime when it began.
    struct SharedEntries {
        var entries: [Entry]
        var builtAt: Double
        var stamp: Int64
        var generation: UInt64
    }

    /// A counter of the change feed's events.
    final class ChangeGeneration: Sendable {
        private let value = Atomic<UInt64>(0)
        func bump() { value.add(1, ordering: .sequentiallyConsistent) }
        var current: UInt64 { value.load(ordering: .sequentiallyConsistent) }
    }

    /// One section: managed, foreign, semaphore, or a managed one whose object is gone.
    public func section(named name: SectionName) throws(SectionError) -> SectionInfo {
        try section(named: name, open: nil)
    }

    /// `section(named:)` for an operation that still has the object open (`open`: the descriptor
    /// and the inode it was opened on): its data is looked for through that descriptor instead of
    /// opening the object again by name, if the name still leads to that inode.
    func section(named name: SectionName, open: (descriptor: OwnedDescriptor, inode: UInt64)?) throws(SectionError)
        -> SectionInfo
    {
        let entry = Entry(
            name: name.value, record: record(name.value), status: try entryStatus(name),
            isSemaphore: name.isSemaphoreName)
        guard entry.record != nil || entry.status.map(Self.isListable) == true else {
            throw SectionError(.notFound, "section '\(name.value)' does not exist", section: name.value)
        }
        return info(of: entry, snapshot: processes.snapshot(), viewCounts: views.counts(), open: open)
    }

    /// Every section, sorted by name, filtered; `total` counts the matches before `limit`/`offset`.
    /// Who maps, holds and locks them comes from `evidence` when given (a reader that may take an
    /// older view of the processes: /metrics on a busy host), else from a view at most a second old.
    public func list(_ filter: ListFilter = ListFilter(), evidence: ProcSnapshot? = nil) throws(SectionError) -> (
        sections: [SectionInfo], total: Int
    ) {
        // Name, kind and managed filters need no fstat: apply them to the directory listing first.
        let needle = Array((filter.query ?? "").utf8)
        // A listing of every section that will wait for a pass asks for it first, on another
        // thread, while this one lists and stats the directory: its two halves overlap. The pass
        // takes the server's mount from that listing (`listingUnderWay`). A view at hand is taken
        // as it is.
        let everySection = filter.managed == nil && filter.kind == nil && needle.isEmpty
        let underWay = everySection ? beginListing() : nil
        defer { underWay?.end() }
        let processes = self.processes
        let cached = evidence == nil && underWay != nil ? processes.cachedSnapshot() : nil
        let pending =
            evidence == nil && underWay != nil && cached == nil ? InBackground { processes.snapshot() } : nil
        var entries = try allEntries(
            keeping: everySection
                ? nil
                : { name, isSemaphore, managed in
                    if let wanted = filter.managed, managed != wanted { return false }
                    if let kind = filter.kind, (isSemaphore ? SectionKind.semaphore : .shm) != kind { return false }
                    return needle.isEmpty || Self.contains(name, needle)
                })
        underWay?.end()
        let snapshot = evidence ?? cached ?? pending?.value() ?? processes.snapshot()
        if let orphan = filter.orphan {
            entries.removeAll { entry in
                guard let status = entry.status else { return true }
                return isOrphan(inode: UInt64(status.st_ino), snapshot: snapshot) != orphan
            }
        }
        let total = entries.count
        let page = entries.dropFirst(max(0, filter.offset)).prefix(max(0, filter.limit))
        let viewCounts = views.counts()
        return (Array(page).concurrentMap { info(of: $0, snapshot: snapshot, viewCounts: viewCounts) }, total)
    }

    /// The managed sections whose object is gone (`state: missing`), sorted: from the records and
    /// the directory alone, without asking who maps anything (periodic checks call this).
    public func missingSections() throws(SectionError) -> [String] {
        try allEntries { _, _, managed in managed }.filter { $0.status == nil }.map(\.name)
    }

    /// The section with its views, other processes' mappings and handles, lock holders and leases.
    public func detail(named name: SectionName) throws(SectionError) -> SectionDetail {
        let section = try section(named: name)
        let snapshot = processes.snapshot()
        let ownPid = getpid()
        return SectionDetail(
            section: section,
            views: views.views(of: name.value).compactMap(\.info),
            mappers: snapshot.mappers[section.inode] ?? [],
            holders: (snapshot.holders[section.inode] ?? []).filter { $0.pid != ownPid },
            lockHolders: section.state == .ok ? snapshot.locks[section.inode] ?? [] : [],
            leases: leases.leases(of: name.value))
    }

    /// Other processes' mappings of a section (the views endpoint).
    public func mappers(of name: SectionName) throws(SectionError) -> [Mapper] {
        let section = try section(named: name)
        return processes.snapshot().mappers[section.inode] ?? []
    }

    public func views(of name: SectionName) throws(SectionError) -> [ViewInfo] {
        _ = try section(named: name)
        return views.views(of: name.value).compactMap(\.info)
    }

    /// The page states over `[from, to)` of `[0, reserve)` (of `[0, commit)` for a foreign section).
    public func pageMap(named name: SectionName, from: Int64? = nil, to: Int64? = nil, maxRuns: Int = 10_000)
        throws(SectionError) -> PageMap
    {
        let (object, status) = try openExistingWithStatus(name, flags: O_RDONLY, doing: "map the pages of")
        let commit = Int64(status.st_size)
        let reserve = max(record(name.value)?.reserve ?? commit, commit)
        let start = max(0, from ?? 0)
        let end = min(reserve, to ?? reserve)
        guard start <= end || (from == nil || to == nil) else {
            throw SectionError(.invalidArgument, "from (\(start)) is past to (\(end))", section: name.value)
        }
        let (runs, truncated) = try PageWalker.runs(
            of: object, commit: commit, reserve: reserve, from: start, to: max(start, end),
            maxRuns: max(1, maxRuns),
            section: name.value)
        // When the runs cover the whole commit they already hold every data extent: no second walk.
        let dataBytes =
            start == 0 && end >= commit && !truncated
            ? runs.reduce(0) { $0 + ($1.state == .data ? $1.length : 0) }
            : try PageWalker.dataBytes(of: object, size: commit, section: name.value)
        return PageMap(
            pageSize: pageSize, reserve: reserve, commit: commit, allocatedBytes: Int64(status.st_blocks) * 512,
            dataBytes: dataBytes, runs: runs, truncated: truncated)
    }

    /// Facts about the host's shared memory and the registry's counts.
    public func systemInfo() -> SystemInfo {
        let capacity = directory.capacity()
        var counts = SystemInfo.Counts()
        let snapshot = processes.snapshot()
        for entry in (try? allEntries()) ?? [] {
            counts.sections += 1
            if entry.isSemaphore { counts.semaphores += 1 }
            if entry.record != nil { counts.managed += 1 } else if !entry.isSemaphore { counts.foreign += 1 }
            if let status = entry.status {
                if !entry.isSemaphore && isOrphan(inode: UInt64(status.st_ino), snapshot: snapshot) {
                    counts.orphan += 1
                }
            } else {
                counts.missing += 1
            }
        }
        var names = utsname()
        uname(&names)
        let kernel = withUnsafeBytes(of: names.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        func number(_ path: String) -> UInt64 {
            readSmallFile(path, limit: 64).flatMap {
                UInt64(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: " \n"))
            } ?? 0
        }
        return SystemInfo(
            pageSize: pageSize, shmPath: directory.path, shmSize: capacity.size, shmUsed: capacity.used,
            shmFree: capacity.free, shmmax: number("/proc/sys/kernel/shmmax"),
            shmall: number("/proc/sys/kernel/shmall"),
            kernel: kernel, counts: counts)
    }

    // MARK: - Building blocks

    static func isListable(_ status: stat) -> Bool { (status.st_mode & S_IFMT) == S_IFREG }

    /// The directory's objects and the managed sections whose object is missing, keeping only
    /// those `keep(name, isSemaphore, managed)` accepts (all when nil); only kept entries are
    /// stat'ed. Sorted by name.
    ///
    /// A listing of every object is shared (`SharedEntries`): a reader within its age, with no
    /// event since and the directory's mtime unchanged, filters it instead of listing and stat'ing
    /// the directory again — the rule `ListingCache` follows for a listing's bytes.
    func allEntries(keeping keep: ((String, Bool, Bool) -> Bool)? = nil) throws(SectionError) -> [Entry] {
        guard sharesListings else { return try listEntries(keeping: keep ?? { _, _, _ in true }) }
        let generation = changeGeneration.current
        let stamp = directory.entriesStamp()
        let now = monotonicNow()
        if let shared = sharedEntries.withLock({ $0 }), shared.generation == generation, shared.stamp == stamp,
            now - shared.builtAt < Self.listingMaximumAge
        {
            // Every entry: the shared array itself, not a copy of 10,000 entries.
            guard let keep else { return shared.entries }
            return shared.entries.filter { keep($0.name, $0.isSemaphore, $0.record != nil) }
        }
        var everyObject = true
        let entries = try listEntries { name, isSemaphore, managed in
            guard keep?(name, isSemaphore, managed) ?? true else {
                everyObject = false
                return false
            }
            return true
        }
        // Only a listing that kept every entry can stand for a later reader's.
        if everyObject {
            sharedEntries.withLock {
                $0 = SharedEntries(entries: entries, builtAt: now, stamp: stamp, generation: generation)
            }
        }
        return entries
    }

    /// `allEntries` from the directory itself.
    private func listEntries(keeping keep: (String, Bool, Bool) -> Bool) throws(SectionError) -> [Entry] {
        let known = records.withLock { $0 }
        var candidates: [(name: String, inDirectory: Bool)] = []
        var missing = known  // records whose object is not in the directory
        let takenAt = monotonicNow()
        let listed = try performing("list", on: nil) { () throws(SystemCallError) in try directory.entries() }
        var temporaries: [String] = []
        var everyObject = true
        for item in listed {
            if item.type != UInt8(DT_REG) && item.type != UInt8(DT_UNKNOWN) { continue }
            if Self.isInternalName(item.name) {
                temporaries.append(item.name)
                continue
            }
            let managed = !known.isEmpty && missing.removeValue(forKey: item.name) != nil
            guard keep(item.name, SectionName(unchecked: item.name).isSemaphoreName, managed) else {
                everyObject = false
                continue
            }
            candidates.append((item.name, true))
        }
        for name in missing.keys where keep(name, false, true) { candidates.append((name, false)) }
        // Sorted before the stat: moving these is cheap, moving entries that hold a `stat` and a
        // record is not.
        candidates.sort { $0.name < $1.name }
        let statuses = statuses(of: candidates.map { $0.inDirectory ? $0.name : nil })
        if everyObject { keepListing(takenAt: takenAt, candidates, statuses, temporaries: temporaries) }
        var entries: [Entry] = []
        entries.reserveCapacity(candidates.count)
        for (candidate, status) in zip(candidates, statuses) {
            let record = known.isEmpty ? nil : known[candidate.name]
            if !candidate.inDirectory {
                entries.append(Entry(name: candidate.name, record: record, status: nil, isSemaphore: false))
            } else if let status, Self.isListable(status) {
                let isSemaphore = SectionName(unchecked: candidate.name).isSemaphoreName
                entries.append(Entry(name: candidate.name, record: record, status: status, isSemaphore: isSemaphore))
            }
        }
        return entries
    }

    /// Keeps a listing that stat'ed every regular file of the directory for `recentListing(since:)`,
    /// internal files (a create's temporaries) included: they are objects of the mount too.
    private func keepListing(
        takenAt: Double, _ candidates: [(name: String, inDirectory: Bool)], _ statuses: [stat?],
        temporaries: [String]
    ) {
        var objects: [(name: String, status: stat)] = []
        objects.reserveCapacity(candidates.count + temporaries.count)
        for (candidate, status) in zip(candidates, statuses) where candidate.inDirectory {
            if let status, Self.isListable(status) { objects.append((candidate.name, status)) }
        }
        if !temporaries.isEmpty {
            for name in temporaries {
                if let status = try? directory.status(of: SectionName(unchecked: name)), Self.isListable(status) {
                    objects.append((name, status))
                }
            }
            objects.sort { $0.name < $1.name }
        }
        lastListing.withLock { $0 = DirectoryListing(takenAt: takenAt, objects: objects) }
    }

    /// The directory's regular files as the last listing of every section found them, if it began at
    /// `since` (monotonic seconds) or later: the host's pass takes the server's own mount from it
    /// instead of stat'ing every object a second time.
    public func recentListing(since: Double) -> DirectoryListing? {
        lastListing.withLock { listing in
            guard let kept = listing else { return nil }
            if kept.takenAt < since {
                listing = nil  // too old for anyone from now on
                return nil
            }
            return kept
        }
    }

    /// A listing of every section that began at `since` or later and is still under way, as a wait
    /// for its end (two seconds at most) that then answers as `recentListing(since:)`; nil when
    /// none is. A pass started for that very listing waits for it rather than stat every object too.
    public func listingUnderWay(since: Double) -> ListingUnderWay? {
        guard let listing = listingsUnderWay.withLock({ $0.first { $0.startedAt >= since } }) else { return nil }
        return ListingUnderWay { [weak self] in
            _ = listing.done.wait(timeout: .now() + 2)
            return self?.recentListing(since: since)
        }
    }

    /// Marks a listing of every section as under way until `end()`.
    func beginListing() -> UnderWayListing {
        let listing = UnderWayListing(startedAt: monotonicNow()) { [weak self] listing in
            self?.listingsUnderWay.withLock { $0.removeAll { $0 === listing } }
        }
        listingsUnderWay.withLock { $0.append(listing) }
        return listing
    }

    /// fstatat of each name (nil for a nil name, or one that is gone). The lookups are a third of a
    /// 10,000-section listing, so a long list is split over the cores.
    private func statuses(of names: [String?]) -> [stat?] {
        let directory = self.directory
        return names.concurrentMap { name in name.flatMap { try? directory.status(of: SectionName(unchecked: $0)) } }
    }

    /// Whether `name` contains `needle`, compared as UTF-8 bytes (a plain scan; names are short).
    static func contains(_ name: String, _ needle: [UInt8]) -> Bool {
        var name = name
        return name.withUTF8 { ProcScanner.contains($0, needle) }
    }

    func isOrphan(inode: UInt64, snapshot: ProcSnapshot) -> Bool {
        let ownPid = scanner.ownPid
        return (snapshot.mappers[inode] ?? []).isEmpty && !(snapshot.holders[inode] ?? []).contains { $0.pid != ownPid }
    }

    func info(
        of entry: Entry, snapshot: ProcSnapshot, viewCounts: [String: Int],
        open: (descriptor: OwnedDescriptor, inode: UInt64)? = nil
    ) -> SectionInfo {
        let record = entry.record
        guard let status = entry.status else {
            return SectionInfo(
                name: entry.name, kind: .shm, managed: true, namespace: record?.namespace ?? .local,
                path: directory.path + "/" + entry.name, state: .missing, reserve: record?.reserve, commit: 0,
                allocatedBytes: 0, dataBytes: 0, mode: record?.namespace.mode ?? 0o600, uid: getuid(), gid: getgid(),
                createdAt: record?.createdAt ?? 0, modifiedAt: record?.createdAt ?? 0,
                views: viewCounts[entry.name] ?? 0,
                mappers: 0, orphan: true, labels: record?.labels ?? [:], inode: 0)
        }
        let inode = UInt64(status.st_ino)
        let commit = Int64(status.st_size)
        var dataBytes: Int64 = 0
        if let before = growing.withLock({ $0[entry.name] }) {
            dataBytes = before  // a grow in flight holds the inode lock: don't queue behind it
        } else if !entry.isSemaphore, commit > 0, status.st_blocks > 0 {  // no pages at all: no data, no open
            if let open, open.inode == inode {
                dataBytes = (try? PageWalker.dataBytes(of: open.descriptor, size: commit, section: entry.name)) ?? 0
            } else if let object = try? directory.open(SectionName(unchecked: entry.name), flags: O_RDONLY) {
                dataBytes = (try? PageWalker.dataBytes(of: object, size: commit, section: entry.name)) ?? 0
            }
        }
        let mode = UInt32(status.st_mode) & 0o7777
        return SectionInfo(
            name: entry.name, kind: entry.isSemaphore ? .semaphore : .shm, managed: record != nil,
            namespace: record?.namespace ?? Namespace.of(mode: mode), path: directory.path + "/" + entry.name,
            state: .ok, reserve: record.map { max($0.reserve, commit) }, commit: commit,
            allocatedBytes: Int64(status.st_blocks) * 512, dataBytes: dataBytes, mode: mode, uid: status.st_uid,
            gid: status.st_gid, createdAt: record?.createdAt ?? Self.seconds(status.st_ctim),
            modifiedAt: Self.seconds(status.st_mtim), views: viewCounts[entry.name] ?? 0,
            mappers: Set((snapshot.mappers[inode] ?? []).map(\.pid)).count,
            orphan: isOrphan(inode: inode, snapshot: snapshot),
            labels: record?.labels ?? [:], inode: inode)
    }

    /// The directory entry's status (nil: no such entry).
    func entryStatus(_ name: SectionName) throws(SectionError) -> stat? {
        try performing("inspect", on: name.value) { () throws(SystemCallError) in try directory.status(of: name) }
    }

    /// An open object's status.
    func status(of object: OwnedDescriptor, _ name: SectionName) throws(SectionError) -> stat {
        try performing("inspect", on: name.value) { () throws(SystemCallError) in try object.status() }
    }

    static func seconds(_ time: timespec) -> Double { Double(time.tv_sec) + Double(time.tv_nsec) / 1e9 }

    /// Opens a section's object; a missing object of a managed section is `.notFound` too, and so
    /// is an entry that is no object: a symbolic link (ELOOP under O_NOFOLLOW), a directory, or a
    /// FIFO, which O_NONBLOCK keeps from blocking the open until a writer comes (the flag changes
    /// nothing for a regular file).
    func openExisting(_ name: SectionName, flags: Int32, doing action: String) throws(SectionError) -> OwnedDescriptor {
        try openExistingWithStatus(name, flags: flags, doing: action).object
    }

    /// `openExisting` and the object's status from the fstat that checked it (callers need its size:
    /// a second fstat was one syscall more in every write, grow and read).
    func openExistingWithStatus(_ name: SectionName, flags: Int32, doing action: String) throws(SectionError)
        -> (object: OwnedDescriptor, status: stat)
    {
        let object: OwnedDescriptor
        // Closing a descriptor open for writing (a lease, a lock, a view) is seen by inotify: ours.
        let feed = changes
        let closing: (@Sendable () -> Void)? =
            flags & O_ACCMODE == O_RDONLY ? nil : { @Sendable in feed.noteOwnChange(name.value) }
        do throws(SystemCallError) {
            object = try directory.open(name, flags: flags | O_NONBLOCK, beforeClose: closing)
        } catch {
            let notAnObject: [Errno] = [.tooManySymbolicLinkLevels, .noSuchAddressOrDevice, .isDirectory]
            guard notAnObject.contains(error.errno) else {
                throw SectionError(error, section: name.value, doing: action)
            }
            throw SectionError(.notFound, "'\(name.value)' is not a shared-memory object", section: name.value)
        }
        let status = try status(of: object, name)
        guard Self.isListable(status) else {
            throw SectionError(.notFound, "'\(name.value)' is not a shared-memory object", section: name.value)
        }
        return (object, status)
    }
}

extension String {
    /// Drops leading and trailing Unicode scalars found in `set`.
    fileprivate func trimmingCharacters(in set: String) -> String {
        let unwanted = Set(set.unicodeScalars)
        var scalars = unicodeScalars[...]
        while let first = scalars.first, unwanted.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, unwanted.contains(last) { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}

/// A listing of every section under way (`SectionRegistry.listingUnderWay(since:)`).
final class UnderWayListing: Sendable {
    let startedAt: Double
    let done = DispatchGroup()
    private let ended = Atomic<Bool>(false)
    private let remove: @Sendable (UnderWayListing) -> Void

    init(startedAt: Double, remove: @escaping @Sendable (UnderWayListing) -> Void) {
        self.startedAt = startedAt
        self.remove = remove
        done.enter()
    }

    /// Ends it (once; later calls do nothing): its waiters go on.
    func end() {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        remove(self)
        done.leave()
    }
}
