import Dispatch
import Synchronization
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// Where a pass looks.
public struct HostScanConfiguration: Sendable {
    /// The host's /proc (`--proc-dir`).
    public var procDirectory: String
    /// Where `sys/fs/cgroup` is read (`--root-dir`).
    public var rootDirectory: String
    /// The server's own shared-memory directory (`--shm-dir`).
    public var shmDirectory: String
    /// Answers are at most this many seconds old.
    public var maximumAge: Double
    /// Whether System V segments of other IPC namespaces are read (a thread enters each: setns).
    public var otherIPCNamespaces: Bool

    public init(
        procDirectory: String = "/proc", rootDirectory: String = "/", shmDirectory: String = "/dev/shm",
        maximumAge: Double = 1.0, otherIPCNamespaces: Bool = true
    ) {
        self.procDirectory = procDirectory
        self.rootDirectory = rootDirectory
        self.shmDirectory = shmDirectory
        self.maximumAge = maximumAge
        self.otherIPCNamespaces = otherIPCNamespaces
    }

    var cgroupDirectory: String {
        (rootDirectory.hasSuffix("/") ? rootDirectory : rootDirectory + "/") + "sys/fs/cgroup"
    }
}

/// One pass over /proc: namespaces first (a few links and one mountinfo and cgroup per mount
/// namespace), then every process's maps and descriptors, then each mount's directory, System V
/// and locks. Read-only; whatever cannot be read is left out.
struct HostPass: Sendable {
    let configuration: HostScanConfiguration
    /// Where the server's own mount's regular files come from (`HostScanner.takeOwnMount`).
    enum OwnMount: Sendable {
        /// The pass lists the directory itself.
        case list
        /// A listing of the server's directory made just before: used instead of one of the pass's own.
        case kept(DirectoryListing)
        /// Such a listing being made now: waited for once the processes are read.
        case underWay(ListingUnderWay)
    }

    var ownMount: OwnMount
    private var proc: String { configuration.procDirectory }

    /// CPU time that `inShares` spent on threads other than the pass's own (`HostScanner` adds it
    /// to the pass's cost).
    let helperCPU = CPUTally()

    /// From this many processes on, a pass reads them, and the mounts, on two threads (`inShares`).
    var parallelFrom = 256

    init(_ configuration: HostScanConfiguration, ownMount: OwnMount = .list) {
        self.configuration = configuration
        self.ownMount = ownMount
    }

    func run() -> HostSnapshot {
        var snapshot = HostSnapshot()
        // A snapshot is as old as its oldest part.
        var started = monotonicNow()
        if case .kept(let listing) = ownMount { started = min(started, listing.takenAt) }
        snapshot.ownPid = ProcFiles.linkTarget(proc + "/self").flatMap { Int32($0) } ?? getpid()
        snapshot.ownMountNamespace = namespaceInode(ProcFiles.linkTarget(proc + "/self/ns/mnt"))
        snapshot.ownIPCNamespace = namespaceInode(ProcFiles.linkTarget(proc + "/self/ns/ipc"))
        // Reading /proc/locks waits for an RCU grace period when nobody read it lately (the kernel
        // takes file_rwsem for writing: 8–16 ms here, no CPU): it runs beside the rest of the pass.
        let locksPath = proc + "/locks"
        let locks = InBackground { ProcFiles.text(locksPath) }
        let pids = ProcFiles.entries(proc).compactMap { Int32($0) }.sorted()
        readNamespaces(pids, into: &snapshot)
        collectMounts(into: &snapshot)
        readProcesses(pids, into: &snapshot)
        if case .underWay(let listing) = ownMount, let server = snapshot.mounts.firstIndex(where: \.isServer) {
            let mount = snapshot.mounts[server]
            if let listing = listing.wait() {
                started = min(started, listing.takenAt)
                snapshot.mounts[server].entries = Self.entries(of: listing, device: mount.device)
            } else {
                snapshot.mounts[server].entries = Self.entries(of: mount.reachedThrough, device: mount.device)
            }
        }
        readSysV(into: &snapshot)
        if let text = locks.value() {
            for (id, lock) in Locks.parse(text) { snapshot.locks[id, default: []].append(lock) }
            attributeOFDLocks(in: &snapshot)
        }
        snapshot.takenAt = started
        snapshot.wallTime = wallClockNow()
        return snapshot
    }

    /// The tmpfs each mount namespace sees at `/dev/shm`, with the namespaces' processes (a light
    /// pass: `HostScanner.shmMountMembers`). Run every few seconds while an event stream is open,
    /// so it reads little: the list of processes, and the mount-namespace link of only the
    /// processes it has not seen, those it first saw lately (a container's first process enters
    /// its namespace just after it starts) and a rotating tenth of the others; one mountinfo per
    /// namespace it has not seen.
    func mountMembers(reusing cache: inout MembershipCache, now: Double = monotonicNow()) -> [DeviceID: [Int32]] {
        // No task made or ended since the last round (the kernel's count of tasks and its last pid,
        // from loadavg, unchanged) and none still settling: the namespaces are as they were. Listing
        // /proc is most of a round's cost on a host of thousands of processes that sit still.
        let tasks = ProcFiles.text(proc + "/loadavg").flatMap(MembershipCache.tasks)
        if let tasks, tasks == cache.tasks, let members = cache.members,
            now - cache.lastFirstSeen > MembershipCache.settling, cache.skipped < MembershipCache.maximumSkips
        {
            cache.skipped += 1
            return members
        }
        cache.tasks = tasks
        cache.skipped = 0
        let pids = ProcFiles.entries(proc).compactMap { Int32($0) }.sorted()
        cache.round &+= 1
        var seen: [Int32: MembershipCache.Process] = [:]
        seen.reserveCapacity(pids.count)
        var refreshed: Set<UInt64> = []
        for pid in pids {
            if let known = cache.processes[pid], now - known.firstSeen > MembershipCache.settling,
                Int(pid) % MembershipCache.rotation != cache.round % MembershipCache.rotation
            {
                seen[pid] = known
                continue
            }
            let firstSeen = cache.processes[pid]?.firstSeen ?? now
            guard let namespace = namespaceInode(ProcFiles.linkTarget(proc + "/\(pid)/ns/mnt")) else { continue }
            // A young namespace may not have its tmpfs mounted yet: read again while it is young.
            let young = now - firstSeen <= MembershipCache.settling
            if cache.devices[namespace] == nil || (young && !refreshed.contains(namespace)) {
                refreshed.insert(namespace)
                cache.devices[namespace] = .some(
                    ProcFiles.text(proc + "/\(pid)/mountinfo").flatMap { MountInfo.shmDevice($0) })
            }
            seen[pid] = MembershipCache.Process(namespace: namespace, firstSeen: firstSeen)
            cache.lastFirstSeen = max(cache.lastFirstSeen, firstSeen)
        }
        cache.processes = seen
        var members: [DeviceID: [Int32]] = [:]
        var used: Set<UInt64> = []
        for (pid, process) in seen {
            used.insert(process.namespace)
            guard let device = cache.devices[process.namespace] ?? nil else { continue }
            members[device, default: []].append(pid)
        }
        cache.devices = cache.devices.filter { used.contains($0.key) }
        let sorted = members.mapValues { $0.sorted() }
        cache.members = sorted
        return sorted
    }

    /// Each process's mount and IPC namespace; for each new mount namespace, its `/dev/shm` and container.
    private func readNamespaces(_ pids: [Int32], into snapshot: inout HostSnapshot) {
        // The host's namespace is init's; where init's may not be read (a sandbox), the server's own.
        let hostNamespace =
            namespaceInode(ProcFiles.linkTarget(proc + "/1/ns/mnt")) ?? snapshot.ownMountNamespace
        // Two links a process: on a host of thousands, on two threads (`inShares`).
        let links = inShares(pids.count, parallel: pids.count >= parallelFrom) { range in
            pids[range].map { pid in
                let base = proc + "/\(pid)"
                return (
                    mount: namespaceInode(ProcFiles.linkTarget(base + "/ns/mnt")),
                    ipc: namespaceInode(ProcFiles.linkTarget(base + "/ns/ipc"))
                )
            }
        }
        for (pid, (mount, ipc)) in zip(pids, links) {
            let base = proc + "/\(pid)"
            snapshot.processes[pid] = (mount, ipc)
            guard let mount else { continue }
            if snapshot.namespaces[mount] != nil {
                snapshot.namespaces[mount]!.pids.append(pid)
                continue
            }
            let device = ProcFiles.text(base + "/mountinfo").flatMap { MountInfo.shmDevice($0) }
            let container = mount == hostNamespace ? Container.none : container(of: pid)
            snapshot.namespaces[mount] = MountNamespace(
                inode: mount, pids: [pid], shmDevice: device, container: container)
        }
    }

    /// The container of a process: its cgroup's identity and memory limit.
    func container(of pid: Int32) -> Container {
        guard let text = ProcFiles.text(proc + "/\(pid)/cgroup") else { return .none }
        let membership = CGroup.parse(text)
        var container = CGroup.container(path: membership.identityPath)
        let root = configuration.cgroupDirectory
        if let path = membership.unifiedPath, let limit = ProcFiles.text(root + path + "/memory.max") {
            container.memoryMax = CGroup.memoryLimit(limit)
        } else if let path = membership.memoryPath,
            let limit = ProcFiles.text(root + "/memory" + path + "/memory.limit_in_bytes")
        {
            container.memoryMax = CGroup.memoryLimit(limit)
        }
        return container
    }

    /// One mount per device: the server's own first, then every tmpfs some namespace sees at
    /// `/dev/shm`, reached through the first process of the first namespace that sees it.
    private func collectMounts(into snapshot: inout HostSnapshot) {
        let serverDevice = ProcFiles.status(configuration.shmDirectory).map { DeviceID(UInt64($0.st_dev)) }
        var mounts: [DeviceID: ShmMount] = [:]
        if let serverDevice {
            mounts[serverDevice] = ShmMount(
                device: serverDevice, path: configuration.shmDirectory, isServer: true,
                reachedThrough: configuration.shmDirectory, namespaces: [], pids: [], container: .none,
                capacity: nil, entries: [])
        }
        let ordered = snapshot.namespaces.values.sorted { ($0.pids.first ?? 0) < ($1.pids.first ?? 0) }
        for namespace in ordered {
            guard let device = namespace.shmDevice, let first = namespace.pids.first else { continue }
            if mounts[device] == nil {
                mounts[device] = ShmMount(
                    device: device, path: "/dev/shm", isServer: false,
                    reachedThrough: proc + "/\(first)/root/dev/shm", namespaces: [], pids: [],
                    container: namespace.container, capacity: nil, entries: [])
            }
            mounts[device]!.namespaces.append(namespace.inode)
            mounts[device]!.pids += namespace.pids
        }
        if let serverDevice, mounts[serverDevice]!.namespaces.isEmpty, let own = snapshot.ownMountNamespace,
            let namespace = snapshot.namespaces[own]
        {
            // A --shm-dir that no namespace sees at /dev/shm: the server's own namespace uses it.
            mounts[serverDevice]!.namespaces = [own]
            mounts[serverDevice]!.pids = namespace.pids
        }
        // Each mount's size and objects: with many processes (a host of many containers), the
        // mounts on two threads.
        let devices = Array(mounts.keys)
        let directories = devices.map { mounts[$0]!.reachedThrough }
        let listed = inShares(devices.count, parallel: snapshot.processes.count >= parallelFrom) { range in
            range.map { index -> (Capacity?, [MountEntry]?) in
                let (device, directory) = (devices[index], directories[index])
                let capacity = ProcFiles.fileSystem(directory).map(Self.capacity)
                switch (device == serverDevice, ownMount) {
                case (true, .kept(let listing)): return (capacity, Self.entries(of: listing, device: device))
                case (true, .underWay): return (capacity, nil)  // once the processes are read (`run`)
                default: return (capacity, Self.entries(of: directory, device: device))
                }
            }
        }
        for (device, (capacity, entries)) in zip(devices, listed) {
            mounts[device]!.pids.sort()
            mounts[device]!.capacity = capacity
            mounts[device]!.entries = entries ?? []
        }
        let others = mounts.values.filter { $0.device != serverDevice }.sorted { $0.device < $1.device }
        snapshot.mounts = (serverDevice.flatMap { mounts[$0] }.map { [$0] } ?? []) + others
    }

    static func capacity(_ info: statvfs) -> Capacity {
        let unit = Int64(info.f_frsize)
        let size = Int64(info.f_blocks) * unit
        let free = Int64(info.f_bavail) * unit
        return Capacity(
            sizeBytes: size, freeBytes: free, usedBytes: size - Int64(info.f_bfree) * unit,
            inodes: Int64(info.f_files), inodesFree: Int64(info.f_ffree))
    }

    /// The regular files of a mount's directory that are on that mount.
    static func entries(of directory: String, device: DeviceID) -> [MountEntry] {
        ProcFiles.regularFiles(directory).compactMap { entry($0.name, $0.status, device: device) }
            .sorted { $0.name < $1.name }
    }

    /// The regular files of a listing that are on `device`.
    static func entries(of listing: DirectoryListing, device: DeviceID) -> [MountEntry] {
        listing.objects.compactMap { entry($0.name, $0.status, device: device) }
    }

    /// A regular file on `device`; nil for anything else.
    static func entry(_ name: String, _ info: stat, device: DeviceID) -> MountEntry? {
        guard (info.st_mode & S_IFMT) == S_IFREG, DeviceID(UInt64(info.st_dev)) == device else { return nil }
        return MountEntry(name: name, inode: UInt64(info.st_ino), facts: facts(info))
    }

    static func facts(_ info: stat) -> FileFacts {
        FileFacts(
            size: Int64(info.st_size), allocatedBytes: Int64(info.st_blocks) * 512, mode: UInt32(info.st_mode) & 0o7777,
            uid: info.st_uid, gid: info.st_gid,
            modifiedAt: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9,
            changedAt: Double(info.st_ctim.tv_sec) + Double(info.st_ctim.tv_nsec) / 1e9)
    }

    /// `body` over `0..<count`, in order; split between two threads (a half each, joined in
    /// order) when `parallel`: on a host of thousands of processes a pass is mostly the kernel
    /// writing /proc files, which two CPUs do in about half the time.
    func inShares<T: Sendable>(_ count: Int, parallel: Bool, _ body: @Sendable (Range<Int>) -> [T]) -> [T] {
        guard parallel, count > 1 else { return body(0..<count) }
        let half = (count + 1) / 2
        let parts = Mutex<[[T]]>([[], []])
        let caller = pthread_self()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let before = threadCPUSeconds()
            let part = body(index == 0 ? 0..<half : half..<count)
            parts.withLock { $0[index] = part }
            if pthread_equal(pthread_self(), caller) == 0 { helperCPU.add(threadCPUSeconds() - before) }
        }
        return parts.withLock { $0[0] + $0[1] }
    }

    /// What one thread of `readProcesses` found in its share of the processes.
    private struct ProcessPart {
        var objects: [ObjectID: SeenObject] = [:]
        var sysvMappers: [SysVID: [Mapping]] = [:]
        var commands: [Int32: String] = [:]
        var kernelThreads: Set<Int32> = []
    }

    /// Every process's mappings and descriptors of shared memory: objects on a mount's device,
    /// memfds, System V attachments; on a host of many processes, on two threads (`inShares`).
    private func readProcesses(_ pids: [Int32], into snapshot: inout HostSnapshot) {
        let devices = Set(snapshot.mounts.map(\.device))
        // A descriptor's link shows the path the kernel resolved: the --shm-dir as given may not be it.
        let ownDirectory = ProcFiles.canonical(configuration.shmDirectory) ?? configuration.shmDirectory
        let prefixes = ["/memfd:", "/dev/shm/", configuration.shmDirectory + "/", ownDirectory + "/"]
        let ipcOf = snapshot.processes.mapValues { $0.ipc }
        let ownIPC = snapshot.ownIPCNamespace ?? 0
        let parts = inShares(pids.count, parallel: pids.count >= parallelFrom) { range in
            [readProcesses(pids[range], devices: devices, prefixes: prefixes, ipcOf: ipcOf, ownIPC: ownIPC)]
        }
        var kernelThreads: Set<Int32> = []
        for part in parts {
            snapshot.objects.merge(part.objects) { first, second in
                var joined = first
                joined.holders += second.holders
                joined.mappers += second.mappers
                if joined.facts == nil { joined.facts = second.facts }
                return joined
            }
            snapshot.sysvMappers.merge(part.sysvMappers) { $0 + $1 }
            snapshot.commands.merge(part.commands) { first, _ in first }
            kernelThreads.formUnion(part.kernelThreads)
        }
        // Kernel threads (no address space: an empty maps file) are no namespace's processes.
        if !kernelThreads.isEmpty {
            for (inode, namespace) in snapshot.namespaces {
                snapshot.namespaces[inode]!.pids = namespace.pids.filter { !kernelThreads.contains($0) }
            }
            for index in snapshot.mounts.indices {
                snapshot.mounts[index].pids.removeAll { kernelThreads.contains($0) }
            }
        }
        // Objects only mapped (their descriptor closed): their status through /proc/PID/map_files.
        for (id, object) in snapshot.objects where object.facts == nil && object.kind != .named {
            guard let mapping = object.mappers.first else { continue }
            let path =
                proc + "/\(mapping.pid)/map_files/"
                + String(mapping.start, radix: 16) + "-" + String(mapping.end, radix: 16)
            snapshot.objects[id]!.facts = ProcFiles.status(path).map(Self.facts)
        }
    }

    /// `readProcesses` for one share of the processes, with a reader of its own.
    private func readProcesses(
        _ pids: ArraySlice<Int32>, devices: Set<DeviceID>, prefixes: [String], ipcOf: [Int32: UInt64?], ownIPC: UInt64
    ) -> ProcessPart {
        let reader = FileReader()
        var part = ProcessPart()
        for pid in pids {
            let base = proc + "/\(pid)"
            var seen = false
            // Descriptors before mappings: a process that maps an object and then closes its
            // descriptor shows the one or the other to this order (reclaim's re-checks rely on it).
            for name in ProcFiles.entries(base + "/fd") {
                guard let fd = Int32(name), let target = ProcFiles.linkTarget(base + "/fd/" + name),
                    prefixes.contains(where: { target.hasPrefix($0) }),
                    let info = ProcFiles.status(base + "/fd/" + name), (info.st_mode & S_IFMT) == S_IFREG
                else { continue }
                seen = true
                let deleted = target.hasSuffix(" (deleted)")
                let path = deleted ? String(target.dropLast(" (deleted)".count)) : target
                let id = ObjectID(device: DeviceID(UInt64(info.st_dev)), inode: UInt64(info.st_ino))
                if part.objects[id] == nil {
                    part.objects[id] = SeenObject(id: id, kind: Self.kind(path: path, deleted: deleted), path: path)
                }
                part.objects[id]!.holders.append(Holding(pid: pid, fd: fd))
                if part.objects[id]!.facts == nil { part.objects[id]!.facts = Self.facts(info) }
            }
            if let bytes = reader.read(base + "/maps") {
                if bytes.isEmpty { part.kernelThreads.insert(pid) }
                for line in Maps.parse(bytes, devices: devices) {
                    seen = true
                    let mapping = Mapping(
                        pid: pid, start: line.start, end: line.end, offset: line.offset, writable: line.writable)
                    if line.path.hasPrefix("/SYSV") {
                        let ipc = (ipcOf[pid] ?? nil) ?? ownIPC
                        part.sysvMappers[SysVID(ipc: ipc, shmid: Int32(truncatingIfNeeded: line.inode)), default: []]
                            .append(mapping)
                        continue
                    }
                    let id = ObjectID(device: line.device, inode: line.inode)
                    if part.objects[id] == nil {
                        part.objects[id] = SeenObject(
                            id: id, kind: Self.kind(path: line.path, deleted: line.deleted), path: line.path)
                    }
                    part.objects[id]!.mappers.append(mapping)
                }
            }
            if seen {
                part.commands[pid] =
                    ProcFiles.text(base + "/comm", limit: 256).map { $0.hasSuffix("\n") ? String($0.dropLast()) : $0 }
                    ?? ""
            }
        }
        return part
    }

    /// OFD locks show pid -1 in /proc/locks (they belong to an open file, not a process): each is
    /// given to the holder of the object whose /proc/PID/fdinfo/FD lists a lock of the same type
    /// and mode. One left without (its holder unreadable) keeps a nil pid.
    private func attributeOFDLocks(in snapshot: inout HostSnapshot) {
        for (id, locks) in snapshot.locks where locks.contains(where: { $0.pid == nil }) {
            var unattributed = locks.filter { $0.pid == nil }
            var attributed = locks.filter { $0.pid != nil }
            for holder in snapshot.objects[id]?.holders ?? [] where !unattributed.isEmpty {
                guard let info = ProcFiles.text(proc + "/\(holder.pid)/fdinfo/\(holder.fd)", limit: 65536) else {
                    continue
                }
                for line in info.split(separator: "\n") where line.hasPrefix("lock:") {
                    let entry = String(line.dropFirst(5).drop { $0 == " " || $0 == "\t" })
                    for (lockID, lock) in Locks.parse(entry) where lockID == id && lock.pid == nil {
                        guard
                            let index = unattributed.firstIndex(where: {
                                $0.exclusive == lock.exclusive && $0.type == lock.type
                            })
                        else { continue }
                        var owned = unattributed.remove(at: index)
                        owned.pid = holder.pid
                        attributed.append(owned)
                    }
                }
            }
            snapshot.locks[id] = attributed + unattributed
        }
    }

    static func kind(path: String, deleted: Bool) -> SeenObject.Kind {
        if path.hasPrefix("/memfd:") { return .memfd }
        return deleted ? .unlinked : .named
    }

    /// The segments of every IPC namespace some process is in (the server's own directly, the
    /// others from a thread that enters them: `IPCNamespaces`) and the kernel's limits.
    private func readSysV(into snapshot: inout HostSnapshot) {
        if let text = ProcFiles.text(proc + "/sysvipc/shm") {
            snapshot.sysv = SysVTable.parse(text, ipc: snapshot.ownIPCNamespace ?? 0)
        }
        if configuration.otherIPCNamespaces {
            var others: [UInt64: Int32] = [:]
            for (pid, namespaces) in snapshot.processes {
                guard let ipc = namespaces.ipc, ipc != snapshot.ownIPCNamespace else { continue }
                others[ipc] = min(others[ipc] ?? pid, pid)
            }
            snapshot.sysv += IPCNamespaces.segments(
                of: others.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, procDirectory: proc)
        }
        func limit(_ name: String) -> Int64? {
            ProcFiles.text(proc + "/sys/kernel/" + name, limit: 64).flatMap { Int64($0.filter { !$0.isWhitespace }) }
        }
        snapshot.sysvLimits = SysVLimits(shmmni: limit("shmmni"), shmall: limit("shmall"), shmmax: limit("shmmax"))
    }
}

/// CPU seconds, kept in whole microseconds, that threads may set or add to: a pass's helper
/// threads add theirs (`HostPass.helperCPU`), the scanner sets the last pass's (`HostScanner`).
final class CPUTally: Sendable {
    private let microseconds = Atomic<Int>(0)

    func add(_ seconds: Double) { microseconds.add(Self.whole(seconds), ordering: .relaxed) }
    func set(_ seconds: Double) { microseconds.store(Self.whole(seconds), ordering: .relaxed) }
    var seconds: Double { Double(microseconds.load(ordering: .relaxed)) / 1e6 }

    private static func whole(_ seconds: Double) -> Int { Int(max(0, seconds) * 1e6) }
}

/// The light passes' memory (`HostPass.mountMembers(reusing:)`).
struct MembershipCache: Sendable {
    struct Process: Sendable {
        var namespace: UInt64
        var firstSeen: Double
    }

    /// How long a new process's namespace is read again at every pass.
    static let settling = 10.0
    /// One process in this many is read again at each pass whatever its age (a pid reused, a setns).
    static let rotation = 10
    /// Rounds skipped in a row at most (nothing made or ended), so that the rotation still comes
    /// round for a process that changes namespace without a fork.
    static let maximumSkips = 4
    var processes: [Int32: Process] = [:]
    /// Each mount namespace's `/dev/shm` device (nil: none there).
    var devices: [UInt64: DeviceID?] = [:]
    var round = 0
    /// The last round's answer, its tasks (see `tasks(_:)`), the latest first sighting in it, and
    /// the rounds skipped since.
    var members: [DeviceID: [Int32]]?
    var tasks: Substring?
    var lastFirstSeen = -Double.infinity
    var skipped = 0

    /// "nr_threads last_pid" of `/proc/loadavg` ("0.10 0.20 0.30 1/512 4242"): both change when a
    /// task is made, the first when one ends.
    static func tasks(_ loadavg: String) -> Substring? {
        let fields = loadavg.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 5, let slash = fields[3].firstIndex(of: "/") else { return nil }
        return loadavg[fields[3].index(after: slash)..<fields[4].endIndex]
    }
}
