/// A device as the kernel numbers it. Its text is `MAJ:MIN` in decimal, the id of a mount in
/// the API (`"0:40"`); /proc's maps and locks print it in hex (`00:28`).
public struct DeviceID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var major: UInt32
    public var minor: UInt32

    public init(major: UInt32, minor: UInt32) {
        self.major = major
        self.minor = minor
    }

    /// From a `dev_t` (stat's `st_dev`), glibc's encoding.
    public init(_ device: UInt64) {
        major = UInt32(truncatingIfNeeded: ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff)))
        minor = UInt32(truncatingIfNeeded: (device & 0xff) | ((device >> 12) & ~UInt64(0xff)))
    }

    /// From `MAJ:MIN` in decimal (mountinfo, the API) or, with `radix` 16, hex (maps, locks).
    public init?(_ text: Substring, radix: Int = 10) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = UInt32(parts[0], radix: radix), let minor = UInt32(parts[1], radix: radix)
        else { return nil }
        self.init(major: major, minor: minor)
    }

    public var description: String { "\(major):\(minor)" }

    public static func < (left: DeviceID, right: DeviceID) -> Bool {
        (left.major, left.minor) < (right.major, right.minor)
    }
}

/// An object identified as the kernel does: its device and inode. Names are never identity (an
/// unlinked object has none, a memfd's is not unique).
public struct ObjectID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var device: DeviceID
    public var inode: UInt64

    public init(device: DeviceID, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// `MAJ:MIN:INODE`.
    public var description: String { "\(device):\(inode)" }

    public static func < (left: ObjectID, right: ObjectID) -> Bool {
        (left.device, left.inode) < (right.device, right.inode)
    }
}

/// A System V segment's identity: its IPC namespace (the inode of `/proc/PID/ns/ipc`) and shmid.
public struct SysVID: Hashable, Sendable {
    public var ipc: UInt64
    public var shmid: Int32

    public init(ipc: UInt64, shmid: Int32) {
        self.ipc = ipc
        self.shmid = shmid
    }
}

/// One process's mapping of an object (a /proc/PID/maps line).
public struct Mapping: Sendable, Equatable {
    public var pid: Int32
    public var start: UInt64
    public var end: UInt64
    public var offset: Int64
    public var writable: Bool
}

/// One open descriptor of an object (a /proc/PID/fd link).
public struct Holding: Sendable, Equatable {
    public var pid: Int32
    public var fd: Int32
}

/// A lock on an object (a /proc/locks line); `pid` is nil for OFD locks, which /proc/locks shows as -1.
public struct LockEntry: Sendable, Equatable {
    public var pid: Int32?
    public var exclusive: Bool
    /// `POSIX`, `FLOCK`, `OFDLCK`, …
    public var type: String
}

/// What stat(2) says about an object, as far as the host views need it.
public struct FileFacts: Sendable, Equatable {
    public var size: Int64
    /// `st_blocks × 512`: memory in use.
    public var allocatedBytes: Int64
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Seconds since the epoch.
    public var modifiedAt: Double
    public var changedAt: Double

    public init(
        size: Int64, allocatedBytes: Int64, mode: UInt32, uid: UInt32, gid: UInt32, modifiedAt: Double,
        changedAt: Double
    ) {
        self.size = size
        self.allocatedBytes = allocatedBytes
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.modifiedAt = modifiedAt
        self.changedAt = changedAt
    }
}

/// An object some process maps or holds open: a shared-memory file (named or unlinked) or a memfd.
public struct SeenObject: Sendable {
    public enum Kind: String, Sendable {
        /// A file still under its name in some shared-memory mount.
        case named
        /// A `memfd_create` object (`/memfd:NAME (deleted)`).
        case memfd
        /// A shared-memory file whose name was removed (`/dev/shm/NAME (deleted)`).
        case unlinked
    }

    public var id: ObjectID
    public var kind: Kind
    /// The path as the first process that showed it sees it, without ` (deleted)`; for a memfd,
    /// `/memfd:NAME`.
    public var path: String
    public var mappers: [Mapping] = []
    public var holders: [Holding] = []
    /// From a holder's descriptor (or, for an object only mapped, `/proc/PID/map_files`); nil when
    /// neither could be read.
    public var facts: FileFacts?

    /// For a memfd, the name given to memfd_create; for others, the last path component.
    public var name: String {
        if kind == .memfd { return String(path.dropFirst("/memfd:".count)) }
        return String(path[(path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex)...])
    }
}

/// Who a namespace's processes run for, from their `/proc/PID/cgroup`.
public struct Container: Sendable, Equatable {
    public enum Runtime: String, Sendable, CaseIterable {
        case docker, containerd, crio = "cri-o", podman, kubepods, systemd, none
    }

    public var runtime: Runtime
    /// The container's 64-hex id, or the systemd unit.
    public var id: String?
    /// The Kubernetes pod UID.
    public var pod: String?
    /// The cgroup's memory limit (`memory.max`, or cgroup v1's `memory.limit_in_bytes`); nil when unlimited or unknown.
    public var memoryMax: Int64?
    /// The cgroup path the identity was read from.
    public var cgroupPath: String

    public init(
        runtime: Runtime, id: String? = nil, pod: String? = nil, memoryMax: Int64? = nil, cgroupPath: String = "/"
    ) {
        self.runtime = runtime
        self.id = id
        self.pod = pod
        self.memoryMax = memoryMax
        self.cgroupPath = cgroupPath
    }

    public static let none = Container(runtime: .none)
}

/// A mount namespace and what its processes see at `/dev/shm`.
public struct MountNamespace: Sendable {
    public var inode: UInt64
    /// Every process in it, ascending.
    public var pids: [Int32]
    /// The tmpfs reachable at `/dev/shm` (the last one mounted there); nil when there is none.
    public var shmDevice: DeviceID?
    public var container: Container
}

/// How full a file system is: statvfs(3).
public struct Capacity: Sendable, Equatable {
    public var sizeBytes: Int64
    public var freeBytes: Int64
    public var usedBytes: Int64
    public var inodes: Int64
    public var inodesFree: Int64
}

/// A file of a shared-memory mount, as its directory lists it.
public struct MountEntry: Sendable {
    public var name: String
    public var inode: UInt64
    public var facts: FileFacts
}

/// A shared-memory mount: a tmpfs some process sees at `/dev/shm`, or the server's `--shm-dir`.
public struct ShmMount: Sendable {
    public var device: DeviceID
    /// `/dev/shm`, or the server's directory for its own mount.
    public var path: String
    /// The mount of the server's `--shm-dir`.
    public var isServer: Bool
    /// Where the server reached it: its own directory, or `PROC/PID/root/dev/shm`.
    public var reachedThrough: String
    /// The mount namespaces that see it at `/dev/shm`.
    public var namespaces: [UInt64]
    /// Every process in those namespaces, ascending.
    public var pids: [Int32]
    /// The container of the first namespace that reached it.
    public var container: Container
    /// Nil when the directory could not be reached (no ptrace access to the process).
    public var capacity: Capacity?
    /// Its regular files, by name.
    public var entries: [MountEntry]
}

/// A System V segment, a row of `/proc/sysvipc/shm`.
public struct SysVSegment: Sendable, Equatable {
    public var ipc: UInt64
    public var key: Int32
    public var shmid: Int32
    public var mode: UInt32
    public var size: Int64
    public var cpid: Int32
    public var lpid: Int32
    public var nattch: Int64
    public var uid: UInt32
    public var gid: UInt32
    public var cuid: UInt32
    public var cgid: UInt32
    /// Seconds since the epoch; 0 for never.
    public var attachedAt: Int64
    public var detachedAt: Int64
    public var changedAt: Int64
    public var rssBytes: Int64
    public var swapBytes: Int64

    public var id: SysVID { SysVID(ipc: ipc, shmid: shmid) }
}

/// The kernel's System V limits (`/proc/sys/kernel/shm*`).
public struct SysVLimits: Sendable, Equatable {
    public var shmmni: Int64?
    public var shmall: Int64?
    public var shmmax: Int64?
}

/// Everything one pass over /proc saw. A value: readers share it, none can change another's.
public struct HostSnapshot: Sendable {
    /// When the pass began, monotonic seconds: it saw nothing older than this (so its age counts
    /// from here, and a change made after this instant may be missing from it).
    public var takenAt: Double = -.infinity
    /// When the pass ended, seconds since the epoch.
    public var wallTime: Double = 0
    /// The server's own pid, mount namespace and IPC namespace.
    public var ownPid: Int32 = 0
    public var ownMountNamespace: UInt64?
    public var ownIPCNamespace: UInt64?
    /// Every process seen, with its namespaces.
    public var processes: [Int32: (mount: UInt64?, ipc: UInt64?)] = [:]
    /// The command of every process that maps or holds something.
    public var commands: [Int32: String] = [:]
    public var namespaces: [UInt64: MountNamespace] = [:]
    /// The server's own mount first, then the others by device.
    public var mounts: [ShmMount] = []
    /// Every object some process maps or holds open.
    public var objects: [ObjectID: SeenObject] = [:]
    /// System V attachments, by segment.
    public var sysvMappers: [SysVID: [Mapping]] = [:]
    /// The segments of every IPC namespace some process is in, the server's own first.
    public var sysv: [SysVSegment] = []
    public var sysvLimits = SysVLimits()
    public var locks: [ObjectID: [LockEntry]] = [:]

    public init() {}

    /// The mount with this device.
    public func mount(_ device: DeviceID) -> ShmMount? { mounts.first { $0.device == device } }

    /// The container a process runs in (that of its mount namespace).
    public func container(of pid: Int32) -> Container {
        guard let namespace = processes[pid]?.mount, let found = namespaces[namespace] else { return .none }
        return found.container
    }

    /// Processes other than the server mapping, holding or locking the object.
    public func isInUse(_ id: ObjectID) -> Bool {
        if let seen = objects[id] {
            if seen.mappers.contains(where: { $0.pid != ownPid }) || seen.holders.contains(where: { $0.pid != ownPid })
            {
                return true
            }
        }
        return locks[id]?.contains { $0.pid != ownPid } ?? false
    }
}
